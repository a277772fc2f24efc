"""The admin site: login, users/teams/tickets tables with CRUD, a ticket wizard, settings,
an audit log.

``handle(state, method, path, query, form, cookies)`` is the whole app: a pure function of
the request and the in-memory ``state`` (which it mutates), returning a :class:`Response`.
Every page but ``/login`` needs a session cookie (set by logging in); every change is
written to the audit log with a logical clock, so the site is deterministic.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

from admin_common import (
    _COOKIE,
    AUDIT_PAGE_SIZE,
    FLAGS,
    PRIORITIES,
    TIMEOUTS,
    TIMEZONES,
    _audit,
    _errors,
    _int,
    _not_found,
    _page,
    _page_of,
    _pager,
    _select,
    _text,
    _valid_date,
    label,
)
from admin_people import (
    _team_form,
    create_team,
    create_user,
    delete_team,
    delete_user,
    new_user,
    save_team,
    save_user,
    team_page,
    teams,
    user_page,
    users,
)
from admin_tickets import delete_ticket, save_ticket, ticket_page, tickets, wizard, wizard_post
from pages import Response, esc, layout, redirect

#: The server passes the request's cookies to this site's ``handle``.
USES_COOKIES = True


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
