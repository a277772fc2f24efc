"""The admin site: login, users/teams/tickets tables with CRUD, a ticket wizard, settings,
an audit log.

``handle(state, method, path, query, form, cookies)`` is the whole app: a pure function of
the request and the in-memory ``state`` (which it mutates), returning a :class:`Response`.
Every page but ``/login`` needs a session cookie (set by logging in); every change is
written to the audit log with a logical clock, so the site is deterministic.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from pages import Response, esc, layout, redirect

#: The server passes the request's cookies to this site's ``handle``.
USES_COOKIES = True
PAGE_SIZE = 10
AUDIT_PAGE_SIZE = 15
TODAY = "2026-11-23"
ROLES = ("viewer", "editor", "admin")
PRIORITIES = ("low", "medium", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "closed")
USER_SORTS = {"name": "Name", "email": "Email", "role": "Role", "team": "Team", "joined": "Joined"}
TICKET_SORTS = {"id": "Number", "due": "Due date", "priority": "Priority", "title": "Title"}
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
TIMEOUTS = ("15", "30", "60", "120")
FLAGS = {
    "email_alerts": "Email alerts",
    "weekly_digest": "Weekly digest",
    "maintenance_mode": "Maintenance mode",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$")
_COOKIE = "admin_session"


def label(value: str) -> str:
    """How a stored code is shown (``in_progress`` -> ``In progress``)."""
    return value.replace("_", " ").capitalize()


# ---------------------------------------------------------------------- helpers


def _nav() -> str:
    links = "".join(
        f'<a href="{href}">{text}</a>'
        for href, text in (
            ("/", "Dashboard"),
            ("/users", "Users"),
            ("/teams", "Teams"),
            ("/tickets", "Tickets"),
            ("/tickets/new", "New ticket"),
            ("/settings", "Settings"),
            ("/audit", "Audit log"),
        )
    )
    logout = (
        '<form action="/logout" method="post" style="display:inline">'
        '<button type="submit">Log out</button></form>'
    )
    return f"<nav>{links}{logout}</nav>"


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(layout(f"{title} | Admin", body, nav=_nav()), status)


def _not_found(what: str) -> Response:
    return _page("Not found", f"<h1>{esc(what)} not found</h1>", 404)


def _select(name: str, text: str, values: list[tuple[str, str]], current: str) -> str:
    opts = "".join(
        f'<option value="{esc(v)}"{" selected" if v == current else ""}>{esc(t)}</option>'
        for v, t in values
    )
    return f'<label>{esc(text)} <select name="{name}">{opts}</select></label>'


def _text(name: str, text: str, value: str, kind: str = "text") -> str:
    return f'<label>{esc(text)} <input type="{kind}" name="{name}" value="{esc(value)}"></label>'


def _hidden(values: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in values.items()
    )


def _errors(errors: list[str]) -> str:
    return "".join(f'<p class="err">{esc(e)}</p>' for e in errors)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 9 else None


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def _by_id(rows: list[dict[str, Any]], rid: int | None) -> dict[str, Any] | None:
    return next((r for r in rows if r["id"] == rid), None)


def _user_name(state: dict[str, Any], uid: int) -> str:
    user = _by_id(state["users"], uid)
    return user["name"] if user else "(nobody)"


def _team_name(state: dict[str, Any], tid: int) -> str:
    team = _by_id(state["teams"], tid)
    return team["name"] if team else "(none)"


def _audit(state: dict[str, Any], actor: str, action: str, target: str, detail: str) -> None:
    stamp = datetime(2026, 11, 23, 10, 0) + timedelta(minutes=state["clock"])
    state["clock"] += 1
    state["audit"].append(
        {
            "id": len(state["audit"]) + 1,
            "time": stamp.strftime("%Y-%m-%d %H:%M"),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": detail,
        }
    )


def _pager(base: dict[str, str], page: int, pages: int, path: str) -> str:
    links = []
    for n in range(1, pages + 1):
        if n == page:
            links.append(f"<b>Page {n}</b>")
        else:
            links.append(f'<a href="{path}?{esc(urlencode({**base, "page": n}))}">Page {n}</a>')
    return f"<p>{' '.join(links)}</p>"


def _page_of(query: dict[str, str], count: int, size: int) -> tuple[int, int]:
    page = _int(query.get("page", "1")) or 1
    pages = max(1, -(-count // size))
    return min(page, pages), pages


# ---------------------------------------------------------------------- login


def login_page(query: dict[str, str], error: str = "", username: str = "") -> Response:
    nxt = query.get("next", "/")
    body = (
        "<h1>Sign in</h1><p>This back office is for administrators only.</p>"
        + (f'<p class="err">{esc(error)}</p>' if error else "")
        + f'<form action="/login?{esc(urlencode({"next": nxt}))}" method="post">'
        + _text("username", "Username", username)
        + _text("password", "Password", "", "password")
        + '<button type="submit">Log in</button></form>'
    )
    return Response(layout("Sign in | Admin", body, nav="<nav></nav>"))


def login(state: dict[str, Any], query: dict[str, str], form: dict[str, str]) -> Response:
    user, password = form.get("username", "").strip(), form.get("password", "")
    account = next(
        (a for a in state["accounts"] if a["username"] == user and a["password"] == password),
        None,
    )
    if account is None:
        return login_page(query, "Invalid username or password.", user)
    token = secrets.token_hex(16)
    state["sessions"][token] = account["username"]
    nxt = query.get("next", "/")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    return Response(
        "",
        303,
        headers=[
            ("Location", nxt),
            ("Set-Cookie", f"{_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"),
        ],
    )


# ---------------------------------------------------------------------- dashboard


def dashboard(state: dict[str, Any], actor: str) -> Response:
    open_tickets = sum(t["status"] != "closed" for t in state["tickets"])
    active = sum(u["status"] == "active" for u in state["users"])
    body = (
        f"<h1>Dashboard</h1><p>Signed in as {esc(actor)} · {esc(state['settings']['site_name'])}"
        f"</p><ul><li>{active} active users of {len(state['users'])}</li>"
        f"<li>{open_tickets} tickets not closed of {len(state['tickets'])}</li>"
        f"<li>{len(state['teams'])} teams</li><li>{len(state['audit'])} audit log entries</li>"
        '</ul><p><a href="/users/new">Add user</a> <a href="/teams/new">Add team</a> '
        '<a href="/tickets/new">Create ticket</a></p>'
    )
    return _page("Dashboard", body)


# ---------------------------------------------------------------------- users


def _user_matches(u: dict[str, Any], q: dict[str, str]) -> bool:
    words = q.get("q", "").lower().split()
    if any(w not in f"{u['name']} {u['email']}".lower() for w in words):
        return False
    return all(
        not q.get(key) or str(u[field]) == q[key]
        for key, field in (("role", "role"), ("status", "status"), ("team", "team_id"))
    )


def users(state: dict[str, Any], q: dict[str, str]) -> Response:
    rows = [u for u in state["users"] if _user_matches(u, q)]
    sort = q.get("sort", "name") if q.get("sort") in USER_SORTS else "name"
    order = "desc" if q.get("order") == "desc" else "asc"

    def key(u: dict[str, Any]) -> tuple[str, int]:
        value = _team_name(state, u["team_id"]) if sort == "team" else str(u[sort])
        return (value.lower(), u["id"])

    rows.sort(key=key, reverse=order == "desc")
    page, pages = _page_of(q, len(rows), PAGE_SIZE)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    teams = [("", "All"), *[(str(t["id"]), t["name"]) for t in state["teams"]]]
    filters = (
        '<form action="/users" method="get">'
        + _text("q", "Search", q.get("q", ""))
        + _select("role", "Role", [("", "All"), *[(r, label(r)) for r in ROLES]], q.get("role", ""))
        + _select("team", "Team", teams, q.get("team", ""))
        + _select(
            "status",
            "Status",
            [("", "All"), ("active", "Active"), ("inactive", "Inactive")],
            q.get("status", ""),
        )
        + _select("sort", "Sort by", list(USER_SORTS.items()), sort)
        + _select("order", "Order", [("asc", "Ascending"), ("desc", "Descending")], order)
        + '<button type="submit">Apply</button></form>'
    )
    table = "".join(
        f'<tr><td><a href="/users/{u["id"]}">{esc(u["name"])}</a></td><td>{esc(u["email"])}'
        f"</td><td>{label(u['role'])}</td><td>{esc(_team_name(state, u['team_id']))}</td>"
        f"<td>{label(u['status'])}</td><td>{u['joined']}</td></tr>"
        for u in shown
    )
    base = {k: v for k, v in {**q, "sort": sort, "order": order}.items() if k != "page" and v}
    body = (
        f"<h1>Users</h1>{filters}<p>{len(rows)} users found · page {page} of {pages}</p>"
        "<table><tr><th>Name</th><th>Email</th><th>Role</th><th>Team</th><th>Status</th>"
        f"<th>Joined</th></tr>{table}</table>{_pager(base, page, pages, '/users')}"
        '<p><a href="/users/new">Add user</a></p>'
    )
    return _page("Users", body)


def _user_form(state: dict[str, Any], values: dict[str, str], action: str, button: str) -> str:
    teams = [(str(t["id"]), t["name"]) for t in state["teams"]]
    return (
        f'<form action="{action}" method="post">'
        + _text("name", "Name", values.get("name", ""))
        + _text("email", "Email", values.get("email", ""))
        + _select("role", "Role", [(r, label(r)) for r in ROLES], values.get("role", "viewer"))
        + _select("team_id", "Team", teams, values.get("team_id", ""))
        + _select(
            "status",
            "Status",
            [("active", "Active"), ("inactive", "Inactive")],
            values.get("status", "active"),
        )
        + f'<button type="submit">{button}</button></form>'
    )


def _user_values(form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in ("name", "email")}
    errors = []
    if not values["name"]:
        errors.append("Name is required.")
    if not _EMAIL.match(values["email"]):
        errors.append("Please enter a valid email address.")
    values["role"] = form.get("role") if form.get("role") in ROLES else "viewer"
    values["status"] = "inactive" if form.get("status") == "inactive" else "active"
    values["team_id"] = _int(form.get("team_id", "")) or 0
    return values, errors


def user_page(state: dict[str, Any], uid: int, q: dict[str, str], errors: list[str]) -> Response:
    u = _by_id(state["users"], uid)
    if u is None:
        return _not_found("User")
    values = {k: str(v) for k, v in u.items()}
    msg = '<p class="msg">Changes saved.</p>' if q.get("saved") else ""
    body = (
        f"<h1>User: {esc(u['name'])}</h1>{msg}{_errors(errors)}<p>User #{uid} · joined "
        f"{u['joined']}</p>{_user_form(state, values, f'/users/{uid}', 'Save changes')}"
        f'<form action="/users/{uid}/delete" method="post" '
        "onsubmit=\"return confirm('Delete this user?')\">"
        '<button type="submit">Delete user</button></form>'
    )
    return _page(u["name"], body)


def save_user(state: dict[str, Any], uid: int, form: dict[str, str], actor: str) -> Response:
    u = _by_id(state["users"], uid)
    if u is None:
        return _not_found("User")
    values, errors = _user_values(form)
    if _by_id(state["teams"], values["team_id"]) is None:
        errors.append("Please choose a team.")
    if any(o["email"] == values["email"] and o["id"] != uid for o in state["users"]):
        errors.append("Another user has this email address.")
    if errors:
        return user_page(state, uid, {}, errors)
    changes = []
    for key, value in values.items():
        if u[key] != value:
            if key == "team_id":
                old, new = _team_name(state, u[key]), _team_name(state, value)
                changes.append(f"team: {old} → {new}")
            elif key in ("role", "status"):
                changes.append(f"{key}: {label(u[key])} → {label(value)}")
            else:
                changes.append(f"{key}: {u[key]} → {value}")
            u[key] = value
    for change in changes:
        _audit(state, actor, "user.update", f"{u['name']} (user #{uid})", change)
    return redirect(f"/users/{uid}?saved=1")


def new_user(state: dict[str, Any], form: dict[str, str], errors: list[str]) -> Response:
    body = (
        f"<h1>Add user</h1>{_errors(errors)}{_user_form(state, form, '/users/new', 'Create user')}"
    )
    return _page("Add user", body)


def create_user(state: dict[str, Any], form: dict[str, str], actor: str) -> Response:
    values, errors = _user_values(form)
    if _by_id(state["teams"], values["team_id"]) is None:
        errors.append("Please choose a team.")
    if any(o["email"] == values["email"] for o in state["users"]):
        errors.append("Another user has this email address.")
    if errors:
        return new_user(state, form, errors)
    uid = state["next_user_id"]
    state["next_user_id"] += 1
    state["users"].append({"id": uid, **values, "joined": TODAY})
    detail = f"role: {label(values['role'])}, team: {_team_name(state, values['team_id'])}"
    _audit(state, actor, "user.create", f"{values['name']} (user #{uid})", detail)
    return redirect(f"/users/{uid}?saved=1")


def delete_user(state: dict[str, Any], uid: int, actor: str) -> Response:
    u = _by_id(state["users"], uid)
    if u is None:
        return _not_found("User")
    if any(t["lead_id"] == uid for t in state["teams"]):
        return user_page(state, uid, {}, ["This user leads a team; choose another lead first."])
    state["users"].remove(u)
    _audit(state, actor, "user.delete", f"{u['name']} (user #{uid})", "deleted")
    return redirect("/users")


# ---------------------------------------------------------------------- teams


def teams(state: dict[str, Any]) -> Response:
    rows = "".join(
        f'<tr><td><a href="/teams/{t["id"]}">{esc(t["name"])}</a></td>'
        f"<td>{esc(_user_name(state, t['lead_id']))}</td>"
        f"<td>{sum(u['team_id'] == t['id'] for u in state['users'])}</td></tr>"
        for t in state["teams"]
    )
    body = (
        "<h1>Teams</h1><table><tr><th>Team</th><th>Lead</th><th>Members</th></tr>"
        f'{rows}</table><p><a href="/teams/new">Add team</a></p>'
    )
    return _page("Teams", body)


def _team_form(state: dict[str, Any], values: dict[str, str], action: str, button: str) -> str:
    people = [(str(u["id"]), u["name"]) for u in state["users"] if u["status"] == "active"]
    return (
        f'<form action="{action}" method="post">'
        + _text("name", "Team name", values.get("name", ""))
        + _select("lead_id", "Lead", [("", "— choose —"), *people], values.get("lead_id", ""))
        + f'<button type="submit">{button}</button></form>'
    )


def team_page(state: dict[str, Any], tid: int, q: dict[str, str], errors: list[str]) -> Response:
    t = _by_id(state["teams"], tid)
    if t is None:
        return _not_found("Team")
    members = "".join(
        f'<li><a href="/users/{u["id"]}">{esc(u["name"])}</a></li>'
        for u in state["users"]
        if u["team_id"] == tid
    )
    values = {"name": t["name"], "lead_id": str(t["lead_id"])}
    msg = '<p class="msg">Changes saved.</p>' if q.get("saved") else ""
    body = (
        f"<h1>Team: {esc(t['name'])}</h1>{msg}{_errors(errors)}"
        f"{_team_form(state, values, f'/teams/{tid}', 'Save changes')}"
        f"<h2>Members</h2><ul>{members}</ul>"
        f'<form action="/teams/{tid}/delete" method="post" '
        "onsubmit=\"return confirm('Delete this team?')\">"
        '<button type="submit">Delete team</button></form>'
    )
    return _page(t["name"], body)


def _team_values(state: dict[str, Any], form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    name = form.get("name", "").strip()
    lead = _by_id(state["users"], _int(form.get("lead_id", "")))
    errors = [] if name else ["Team name is required."]
    if lead is None or lead["status"] != "active":
        errors.append("Please choose an active lead.")
    return {"name": name, "lead_id": lead["id"] if lead else 0}, errors


def save_team(state: dict[str, Any], tid: int, form: dict[str, str], actor: str) -> Response:
    t = _by_id(state["teams"], tid)
    if t is None:
        return _not_found("Team")
    values, errors = _team_values(state, form)
    if errors:
        return team_page(state, tid, {}, errors)
    if values["name"] != t["name"]:
        _audit(state, actor, "team.update", f"team {t['name']}", f"name → {values['name']}")
    if values["lead_id"] != t["lead_id"]:
        old, new = _user_name(state, t["lead_id"]), _user_name(state, values["lead_id"])
        _audit(state, actor, "team.update", f"team {values['name']}", f"lead: {old} → {new}")
    t.update(values)
    return redirect(f"/teams/{tid}?saved=1")


def create_team(state: dict[str, Any], form: dict[str, str], actor: str) -> Response:
    values, errors = _team_values(state, form)
    if errors:
        form_html = _team_form(state, form, "/teams/new", "Create team")
        body = f"<h1>Add team</h1>{_errors(errors)}{form_html}"
        return _page("Add team", body)
    tid = state["next_team_id"]
    state["next_team_id"] += 1
    state["teams"].append({"id": tid, **values})
    _audit(state, actor, "team.create", f"team {values['name']}", "created")
    return redirect(f"/teams/{tid}?saved=1")


def delete_team(state: dict[str, Any], tid: int, actor: str) -> Response:
    t = _by_id(state["teams"], tid)
    if t is None:
        return _not_found("Team")
    if any(u["team_id"] == tid for u in state["users"]):
        return team_page(state, tid, {}, ["Only a team without members can be deleted."])
    state["teams"].remove(t)
    _audit(state, actor, "team.delete", f"team {t['name']}", "deleted")
    return redirect("/teams")


# ---------------------------------------------------------------------- tickets


def _ticket_matches(t: dict[str, Any], q: dict[str, str]) -> bool:
    words = q.get("q", "").lower().split()
    if any(w not in t["title"].lower() for w in words):
        return False
    return all(
        not q.get(key) or str(t[field]) == q[key]
        for key, field in (
            ("status", "status"),
            ("priority", "priority"),
            ("team", "team_id"),
            ("assignee", "assignee_id"),
        )
    )


def tickets(state: dict[str, Any], q: dict[str, str]) -> Response:
    rows = [t for t in state["tickets"] if _ticket_matches(t, q)]
    sort = q.get("sort", "id") if q.get("sort") in TICKET_SORTS else "id"
    order = "desc" if q.get("order") == "desc" else "asc"

    def key(t: dict[str, Any]) -> tuple[Any, int]:
        value = PRIORITIES.index(t["priority"]) if sort == "priority" else t[sort]
        return (value.lower() if isinstance(value, str) else value, t["id"])

    rows.sort(key=key, reverse=order == "desc")
    page, pages = _page_of(q, len(rows), PAGE_SIZE)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    people = [(str(u["id"]), u["name"]) for u in sorted(state["users"], key=lambda u: u["name"])]
    filters = (
        '<form action="/tickets" method="get">'
        + _text("q", "Search", q.get("q", ""))
        + _select(
            "status",
            "Status",
            [("", "All"), *[(s, label(s)) for s in TICKET_STATUSES]],
            q.get("status", ""),
        )
        + _select(
            "priority",
            "Priority",
            [("", "All"), *[(p, label(p)) for p in PRIORITIES]],
            q.get("priority", ""),
        )
        + _select(
            "team",
            "Team",
            [("", "All"), *[(str(t["id"]), t["name"]) for t in state["teams"]]],
            q.get("team", ""),
        )
        + _select("assignee", "Assignee", [("", "All"), *people], q.get("assignee", ""))
        + _select("sort", "Sort by", list(TICKET_SORTS.items()), sort)
        + _select("order", "Order", [("asc", "Ascending"), ("desc", "Descending")], order)
        + '<button type="submit">Apply</button></form>'
    )
    table = "".join(
        f'<tr><td><a href="/tickets/{t["id"]}">#{t["id"]}</a></td><td>{esc(t["title"])}</td>'
        f"<td>{label(t['priority'])}</td><td>{label(t['status'])}</td>"
        f"<td>{esc(_user_name(state, t['assignee_id']))}</td>"
        f"<td>{esc(_team_name(state, t['team_id']))}</td><td>{t['due']}</td></tr>"
        for t in shown
    )
    base = {k: v for k, v in {**q, "sort": sort, "order": order}.items() if k != "page" and v}
    body = (
        f"<h1>Tickets</h1>{filters}<p>{len(rows)} tickets found · page {page} of {pages}</p>"
        "<table><tr><th>Number</th><th>Title</th><th>Priority</th><th>Status</th>"
        f"<th>Assignee</th><th>Team</th><th>Due</th></tr>{table}</table>"
        f"{_pager(base, page, pages, '/tickets')}"
        '<p><a href="/tickets/new">Create ticket</a></p>'
    )
    return _page("Tickets", body)


def _people(state: dict[str, Any]) -> list[tuple[str, str]]:
    active = [u for u in state["users"] if u["status"] == "active"]
    return [(str(u["id"]), u["name"]) for u in sorted(active, key=lambda u: u["name"])]


def ticket_page(state: dict[str, Any], tid: int, q: dict[str, str], errors: list[str]) -> Response:
    t = _by_id(state["tickets"], tid)
    if t is None:
        return _not_found("Ticket")
    people = _people(state)
    if str(t["assignee_id"]) not in dict(people):
        people.append((str(t["assignee_id"]), _user_name(state, t["assignee_id"])))
    msg = ""
    if q.get("created"):
        msg = '<p class="msg">Ticket created.</p>'
    elif q.get("saved"):
        msg = '<p class="msg">Changes saved.</p>'
    body = (
        f"<h1>Ticket #{tid}: {esc(t['title'])}</h1>{msg}{_errors(errors)}"
        f"<p>{esc(t['description'])}</p>"
        f'<form action="/tickets/{tid}" method="post">'
        + _text("title", "Title", t["title"])
        + _select("priority", "Priority", [(p, label(p)) for p in PRIORITIES], t["priority"])
        + _select("status", "Status", [(s, label(s)) for s in TICKET_STATUSES], t["status"])
        + _select("assignee_id", "Assignee", people, str(t["assignee_id"]))
        + _select(
            "team_id",
            "Team",
            [(str(x["id"]), x["name"]) for x in state["teams"]],
            str(t["team_id"]),
        )
        + _text("due", "Due date", t["due"], "date")
        + '<button type="submit">Save changes</button></form>'
        f'<form action="/tickets/{tid}/delete" method="post" '
        "onsubmit=\"return confirm('Delete this ticket?')\">"
        '<button type="submit">Delete ticket</button></form>'
    )
    return _page(f"Ticket #{tid}", body)


def save_ticket(state: dict[str, Any], tid: int, form: dict[str, str], actor: str) -> Response:
    t = _by_id(state["tickets"], tid)
    if t is None:
        return _not_found("Ticket")
    errors = []
    values: dict[str, Any] = {"title": form.get("title", "").strip()}
    if len(values["title"]) < 5:
        errors.append("The title needs at least 5 characters.")
    for key, allowed in (("priority", PRIORITIES), ("status", TICKET_STATUSES)):
        values[key] = form.get(key) if form.get(key) in allowed else t[key]
    assignee = _by_id(state["users"], _int(form.get("assignee_id", "")))
    team = _by_id(state["teams"], _int(form.get("team_id", "")))
    if assignee is None:
        errors.append("Please choose an assignee.")
    if team is None:
        errors.append("Please choose a team.")
    values["assignee_id"] = assignee["id"] if assignee else 0
    values["team_id"] = team["id"] if team else 0
    values["due"] = form.get("due", "").strip()
    if not _valid_date(values["due"]):
        errors.append("Due date must be a date (YYYY-MM-DD).")
    if errors:
        return ticket_page(state, tid, {}, errors)
    for key, value in values.items():
        if t[key] == value:
            continue
        if key == "assignee_id":
            change = f"assignee: {_user_name(state, t[key])} → {_user_name(state, value)}"
        elif key == "team_id":
            change = f"team: {_team_name(state, t[key])} → {_team_name(state, value)}"
        elif key in ("priority", "status"):
            change = f"{key}: {label(t[key])} → {label(value)}"
        else:
            change = f"{key}: {t[key]} → {value}"
        t[key] = value
        _audit(state, actor, "ticket.update", f"#{tid} {t['title']}", change)
    return redirect(f"/tickets/{tid}?saved=1")


def delete_ticket(state: dict[str, Any], tid: int, actor: str) -> Response:
    t = _by_id(state["tickets"], tid)
    if t is None:
        return _not_found("Ticket")
    state["tickets"].remove(t)
    _audit(state, actor, "ticket.delete", f"#{tid} {t['title']}", "deleted")
    return redirect("/tickets?deleted=1")


_WIZARD_FIELDS = ("title", "description", "team_id", "priority", "assignee_id", "due")


def _wizard_step(state: dict[str, Any], step: int, v: dict[str, str], errors: list[str]) -> str:
    teams = [("", "— choose —"), *[(str(t["id"]), t["name"]) for t in state["teams"]]]
    if step == 1:
        return (
            _text("title", "Title", v.get("title", ""))
            + '<label>Description <textarea name="description">'
            + esc(v.get("description", ""))
            + "</textarea></label>"
            + _select("team_id", "Team", teams, v.get("team_id", ""))
            + '<button type="submit" name="go" value="next">Next</button>'
        )
    if step == 2:
        return (
            _select(
                "priority",
                "Priority",
                [(p, label(p)) for p in PRIORITIES],
                v.get("priority") or state["settings"]["default_priority"],
            )
            + _select(
                "assignee_id",
                "Assignee",
                [("", "— choose —"), *_people(state)],
                v.get("assignee_id", ""),
            )
            + _text("due", "Due date", v.get("due", ""), "date")
            + '<button type="submit" name="go" value="back">Back</button>'
            + '<button type="submit" name="go" value="next">Next</button>'
        )
    rows = "".join(
        f"<tr><th>{name}</th><td>{esc(value)}</td></tr>"
        for name, value in (
            ("Title", v["title"]),
            ("Description", v.get("description", "")),
            ("Team", _team_name(state, _int(v["team_id"]) or 0)),
            ("Priority", label(v["priority"])),
            ("Assignee", _user_name(state, _int(v["assignee_id"]) or 0)),
            ("Due date", v["due"]),
        )
    )
    return (
        f"<table>{rows}</table>"
        '<button type="submit" name="go" value="back">Back</button>'
        '<button type="submit" name="go" value="create">Create ticket</button>'
    )


def wizard(state: dict[str, Any], step: int, v: dict[str, str], errors: list[str]) -> Response:
    names = {1: "Details", 2: "Assignment", 3: "Review"}
    own = {1: ("title", "description", "team_id"), 2: ("priority", "assignee_id", "due")}
    carried = {k: v.get(k, "") for k in _WIZARD_FIELDS if k not in own.get(step, ())}
    body = (
        f"<h1>New ticket</h1><p>Step {step} of 3: {names[step]}</p>{_errors(errors)}"
        f'<form action="/tickets/new" method="post">{_hidden({"step": str(step), **carried})}'
        f"{_wizard_step(state, step, v, errors)}</form>"
    )
    return _page("New ticket", body)


def _wizard_errors(state: dict[str, Any], step: int, v: dict[str, str]) -> list[str]:
    errors = []
    if step == 1:
        if len(v.get("title", "").strip()) < 5:
            errors.append("The title needs at least 5 characters.")
        if _by_id(state["teams"], _int(v.get("team_id", ""))) is None:
            errors.append("Please choose a team.")
    elif step == 2:
        if v.get("priority") not in PRIORITIES:
            errors.append("Please choose a priority.")
        user = _by_id(state["users"], _int(v.get("assignee_id", "")))
        if user is None or user["status"] != "active":
            errors.append("Please choose an assignee.")
        due = v.get("due", "").strip()
        if not _valid_date(due):
            errors.append("Due date must be a date (YYYY-MM-DD).")
        elif due < TODAY:
            errors.append(f"Due date must be on or after {TODAY}.")
    return errors


def wizard_post(state: dict[str, Any], form: dict[str, str], actor: str) -> Response:
    step = _int(form.get("step", "1")) or 1
    step = min(max(step, 1), 3)
    v = {k: form.get(k, "").strip() for k in _WIZARD_FIELDS}
    if form.get("go") == "back":
        return wizard(state, max(1, step - 1), v, [])
    for check in range(1, min(step, 2) + 1):  # earlier steps again: hidden fields are input
        errors = _wizard_errors(state, check, v)
        if errors:
            return wizard(state, check, v, errors)
    if step < 3:
        return wizard(state, step + 1, v, [])
    if form.get("go") != "create":
        return wizard(state, 3, v, [])
    tid = state["next_ticket_id"]
    state["next_ticket_id"] += 1
    ticket = {
        "id": tid,
        "title": v["title"],
        "description": v["description"],
        "team_id": int(v["team_id"]),
        "priority": v["priority"],
        "status": "open",
        "assignee_id": int(v["assignee_id"]),
        "due": v["due"],
    }
    state["tickets"].append(ticket)
    detail = (
        f"priority: {label(v['priority'])}, assignee: {_user_name(state, ticket['assignee_id'])}"
        f", due: {v['due']}"
    )
    _audit(state, actor, "ticket.create", f"#{tid} {v['title']}", detail)
    return redirect(f"/tickets/{tid}?created=1")


# ---------------------------------------------------------------------- settings, audit


def settings(state: dict[str, Any], q: dict[str, str], errors: list[str]) -> Response:
    s = state["settings"]
    flags = "".join(
        f'<label><input type="checkbox" name="{k}"{" checked" if s[k] else ""}> {t}</label>'
        for k, t in FLAGS.items()
    )
    radios = "".join(
        f'<label><input type="radio" name="default_priority" value="{p}"'
        f"{' checked' if s['default_priority'] == p else ''}> {label(p)}</label>"
        for p in PRIORITIES
    )
    msg = '<p class="msg">Settings saved.</p>' if q.get("saved") else ""
    body = (
        f"<h1>Settings</h1>{msg}{_errors(errors)}"
        '<form action="/settings" method="post">'
        + _text("site_name", "Site name", s["site_name"])
        + _select("timezone", "Time zone", [(z, z) for z in TIMEZONES], s["timezone"])
        + f"<fieldset><legend>Notifications</legend>{flags}</fieldset>"
        + f"<fieldset><legend>Default ticket priority</legend>{radios}</fieldset>"
        + _select(
            "session_timeout",
            "Session timeout",
            [(t, f"{t} minutes") for t in TIMEOUTS],
            s["session_timeout"],
        )
        + _text("fiscal_year_start", "Fiscal year start", s["fiscal_year_start"], "date")
        + '<button type="submit">Save settings</button></form>'
    )
    return _page("Settings", body)


def save_settings(state: dict[str, Any], form: dict[str, str], actor: str) -> Response:
    s = state["settings"]
    new: dict[str, Any] = {
        "site_name": form.get("site_name", "").strip(),
        "timezone": form.get("timezone", ""),
        **{k: k in form for k in FLAGS},
        "default_priority": form.get("default_priority", ""),
        "session_timeout": form.get("session_timeout", ""),
        "fiscal_year_start": form.get("fiscal_year_start", "").strip(),
    }
    errors = []
    if not new["site_name"]:
        errors.append("Site name is required.")
    if new["timezone"] not in TIMEZONES:
        errors.append("Please choose a time zone.")
    if new["default_priority"] not in PRIORITIES:
        errors.append("Please choose a default priority.")
    if new["session_timeout"] not in TIMEOUTS:
        errors.append("Please choose a session timeout.")
    if not _valid_date(new["fiscal_year_start"]):
        errors.append("Fiscal year start must be a date (YYYY-MM-DD).")
    if errors:
        return settings(state, {}, errors)
    for key, value in new.items():
        if s[key] != value:
            name = label(key).lower()
            if isinstance(value, bool):
                change = f"{name}: {'on' if value else 'off'}"
            else:
                change = f"{name}: {s[key]} → {value}"
            _audit(state, actor, "settings.update", "settings", change)
            s[key] = value
    return redirect("/settings?saved=1")


def audit(state: dict[str, Any], q: dict[str, str]) -> Response:
    rows = [
        e for e in reversed(state["audit"]) if not q.get("action") or e["action"] == q["action"]
    ]
    page, pages = _page_of(q, len(rows), AUDIT_PAGE_SIZE)
    shown = rows[(page - 1) * AUDIT_PAGE_SIZE : page * AUDIT_PAGE_SIZE]
    actions = sorted({e["action"] for e in state["audit"]})
    filters = (
        '<form action="/audit" method="get">'
        + _select(
            "action", "Action", [("", "All"), *[(a, a) for a in actions]], q.get("action", "")
        )
        + '<button type="submit">Filter</button></form>'
    )
    table = "".join(
        f"<tr><td>{e['id']}</td><td>{e['time']}</td><td>{esc(e['actor'])}</td>"
        f"<td>{e['action']}</td><td>{esc(e['target'])}</td><td>{esc(e['detail'])}</td></tr>"
        for e in shown
    )
    base = {k: v for k, v in q.items() if k != "page" and v}
    body = (
        f"<h1>Audit log</h1>{filters}<p>{len(rows)} entries · newest first · page {page} of "
        f"{pages}</p><table><tr><th>Entry</th><th>Time</th><th>Actor</th><th>Action</th>"
        f"<th>Target</th><th>Details</th></tr>{table}</table>"
        f"{_pager(base, page, pages, '/audit')}"
    )
    return _page("Audit log", body)


# ---------------------------------------------------------------------- routing


def _session(state: dict[str, Any], cookies: dict[str, str]) -> str | None:
    user: str | None = state["sessions"].get(cookies.get(_COOKIE, ""))
    return user


def _post(state: dict[str, Any], parts: list[str], form: dict[str, str], actor: str) -> Response:
    rid = _int(parts[1]) if len(parts) >= 2 else None
    if parts == ["users", "new"]:
        return create_user(state, form, actor)
    if parts == ["teams", "new"]:
        return create_team(state, form, actor)
    if parts == ["tickets", "new"]:
        return wizard_post(state, form, actor)
    if parts == ["settings"]:
        return save_settings(state, form, actor)
    if rid is not None and len(parts) in (2, 3):
        delete = len(parts) == 3 and parts[2] == "delete"
        if len(parts) == 3 and not delete:
            return _not_found("Page")
        if parts[0] == "users":
            return delete_user(state, rid, actor) if delete else save_user(state, rid, form, actor)
        if parts[0] == "teams":
            return delete_team(state, rid, actor) if delete else save_team(state, rid, form, actor)
        if parts[0] == "tickets":
            if delete:
                return delete_ticket(state, rid, actor)
            return save_ticket(state, rid, form, actor)
    return Response("method not allowed", 405, "text/plain")


def handle(
    state: dict[str, Any],
    method: str,
    path: str,
    query: dict[str, str],
    form: dict[str, str],
    cookies: dict[str, str] | None = None,
) -> Response:
    parts = [p for p in path.split("/") if p]
    if parts == ["login"]:
        return login(state, query, form) if method == "POST" else login_page(query)
    actor = _session(state, cookies or {})
    if actor is None:
        if method == "POST":
            return redirect("/login")
        target = path + (f"?{urlencode(query)}" if query else "")
        return redirect(f"/login?next={quote(target, safe='')}")
    if parts == ["logout"] and method == "POST":
        token = (cookies or {}).get(_COOKIE, "")
        state["sessions"].pop(token, None)
        return Response(
            "",
            303,
            headers=[("Location", "/login"), ("Set-Cookie", f"{_COOKIE}=; Path=/; Max-Age=0")],
        )
    if method == "POST":
        return _post(state, parts, form, actor)
    rid = _int(parts[1]) if len(parts) == 2 else None
    if not parts:
        return dashboard(state, actor)
    if parts == ["users"]:
        return users(state, query)
    if parts == ["users", "new"]:
        return new_user(state, {}, [])
    if parts == ["teams"]:
        return teams(state)
    if parts == ["teams", "new"]:
        return _page(
            "Add team", f"<h1>Add team</h1>{_team_form(state, {}, '/teams/new', 'Create team')}"
        )
    if parts == ["tickets"]:
        return tickets(state, query)
    if parts == ["tickets", "new"]:
        return wizard(state, 1, {}, [])
    if parts == ["settings"]:
        return settings(state, query, [])
    if parts == ["audit"]:
        return audit(state, query)
    if rid is not None and parts[0] == "users":
        return user_page(state, rid, query, [])
    if rid is not None and parts[0] == "teams":
        return team_page(state, rid, query, [])
    if rid is not None and parts[0] == "tickets":
        return ticket_page(state, rid, query, [])
    return _not_found("Page")
