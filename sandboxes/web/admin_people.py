"""The admin site's users and teams pages: tables, forms, create, save, delete."""

from __future__ import annotations

from typing import Any

from admin_common import (
    _EMAIL,
    PAGE_SIZE,
    ROLES,
    TODAY,
    USER_SORTS,
    _audit,
    _by_id,
    _errors,
    _int,
    _not_found,
    _page,
    _page_of,
    _pager,
    _select,
    _team_name,
    _text,
    _user_name,
    label,
)
from pages import Response, esc, redirect


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
