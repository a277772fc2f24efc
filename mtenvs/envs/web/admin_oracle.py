"""The scripted admin solver: reads the page outline (never the server state), returns one
action.

It logs in with the credentials of the task text, reaches pages through the navigation
links and the list pages' filter forms (or a ``goto`` of a list URL), reads table rows and
messages such as "Changes saved." from the outline, and answers from what the page shows.
Names of the task's rows come from the seeded data, as the task text gives them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from mtenvs.envs.web.admin_data import LOGIN, load
from mtenvs.envs.web.admin_tasks import WebAdminTask, label
from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.oracle import fill, find

__all__ = ["admin_oracle_action", "table_rows"]

_ROW = re.compile(r'^\|\s*\[(\d+)\] link "([^"]*)"(.*)$')
_SETTING_LABELS = {"timezone": "Time zone", "fiscal_year_start": "Fiscal year start"}
_SORTS = {"name": "Name", "email": "Email", "joined": "Joined", "team": "Team"}


@lru_cache(maxsize=1)
def _names() -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """(user id -> name, team id -> name, ticket id -> title) of the seeded data."""
    data: dict[str, Any] = load()
    return (
        {u["id"]: u["name"] for u in data["users"]},
        {t["id"]: t["name"] for t in data["teams"]},
        {t["id"]: t["title"] for t in data["tickets"]},
    )


def table_rows(view: PageView) -> list[tuple[int, list[str]]]:
    """The data rows of the page's table: (id of the row's link, cell texts)."""
    rows = []
    for line in view.lines:
        match = _ROW.match(line.strip())
        if match:
            rest = [c.strip() for c in match.group(3).split("|")[1:]]
            rows.append((int(match.group(1)), [match.group(2), *rest]))
    return rows


def _click(view: PageView, kind: str, name: str, fallback: str) -> str:
    element = find(view, kind, name)
    return f"click({element.id})" if element else fallback


def _shows(view: PageView, text: str) -> bool:
    return any(text in line for line in view.lines)


def _login(view: PageView) -> str:
    step = fill(view, [("Username", LOGIN[0]), ("Password", LOGIN[1])])
    return step or _click(view, "button", "Log in", "goto(/login)")


def _list(view: PageView, path: str, want: dict[str, str], selects: list[tuple[str, str]]) -> str:
    """The next action towards the list ``path`` showing the query ``want`` (set through the
    filter form's ``selects`` and Apply), or ``""`` when it is shown."""
    query = {k: v[-1] for k, v in parse_qs(urlsplit(view.url).query).items()}
    if urlsplit(view.url).path != path:
        return _click(view, "link", path.strip("/").capitalize(), f"goto({path})")
    if all(query.get(k, "") == v for k, v in want.items() if k != "page"):
        page = want.get("page", "1")
        if query.get("page", "1") == page:
            return ""
        return _click(view, "link", f"Page {page}", f"goto({path}?{urlencode(want)})")
    return fill(view, selects) or _click(view, "button", "Apply", f"goto({path}?{urlencode(want)})")


def _sorted_row(task: WebAdminTask, view: PageView) -> tuple[str, tuple[int, list[str]] | None]:
    """(next action, "") while reaching the task's list page, then ("", the asked row)."""
    listing = dict(task.listing)
    want = {"sort": listing["sort"], "order": listing["order"], "page": listing["page"]}
    selects = [
        ("Role", "All"),
        ("Team", "All"),
        ("Status", "All"),
        ("Sort by", _SORTS[listing["sort"]]),
        ("Order", "Descending" if listing["order"] == "desc" else "Ascending"),
    ]
    step = _list(view, "/users", want, selects)
    if step:
        return step, None
    rows = table_rows(view)
    index = int(listing["row"]) - 1
    return "", rows[index] if index < len(rows) else None


def _edit(view: PageView, path: str, fields: list[tuple[str, str]], button: str) -> str:
    """On the record page ``path``: "" once saved with ``fields`` shown, else the next
    fill or the save click."""
    step = fill(view, fields)
    if step:
        return step
    if _shows(view, "Changes saved.") or _shows(view, "Settings saved."):
        return ""
    return _click(view, "button", button, f"goto({path})")


def _open_row(view: PageView, path: str, name: str, search: str) -> str:
    """Open the row whose link reads ``name`` from the list ``path`` (searching for it)."""
    link = find(view, "link", name)
    if link is not None and urlsplit(view.url).path == path:
        return f"click({link.id})"
    return _list(view, path, {"q": search}, [("Search", search)]) or "goto(/)"


def admin_oracle_action(task: WebAdminTask, view: PageView) -> str:
    """The next action of the scripted solver for ``task``."""
    path = urlsplit(view.url).path
    if path == "/login":
        return _login(view)
    users, teams, titles = _names()
    t = task.template
    changes = dict(task.changes)
    if t == "change_role":
        name = users[task.user_id or 0]
        if path == "/audit":
            for line in view.lines:
                if f"{name} (user #" in line and f"→ {label(changes['role'])}" in line:
                    return f"answer({line.strip('| ').split(' | ')[0]})"
            return "goto(/audit)"
        if path == f"/users/{task.user_id}":
            step = _edit(view, path, [("Role", label(changes["role"]))], "Save changes")
            return step or _click(view, "link", "Audit log", "goto(/audit)")
        return _open_row(view, "/users", name, name)
    if t in ("deactivate_sorted", "answer_sorted"):
        if path.startswith("/users/"):
            step = _edit(view, path, [("Status", "Inactive")], "Save changes")
            return step or "answer(done)"
        step, row = _sorted_row(task, view)
        if step or row is None:
            return step or "goto(/users)"
        if t == "deactivate_sorted":
            return f"click({row[0]})"
        field = dict(task.listing)["field"]
        return f"answer({row[1][0] if field == 'name' else row[1][1]})"
    if t == "create_ticket":
        record = dict(task.record)
        if path.startswith("/tickets/") and _shows(view, "Ticket created."):
            return "answer(done)"
        if path != "/tickets/new":
            return _click(view, "link", "New ticket", "goto(/tickets/new)")
        if _shows(view, "Step 1 of 3"):
            fields = [("Title", record["title"]), ("Team", teams[record["team_id"]])]
        elif _shows(view, "Step 2 of 3"):
            fields = [
                ("Priority", label(record["priority"])),
                ("Assignee", users[record["assignee_id"]]),
                ("Due date", record["due"]),
            ]
        else:
            return _click(view, "button", "Create ticket", "goto(/tickets/new)")
        return fill(view, fields) or _click(view, "button", "Next", "goto(/tickets/new)")
    if t == "reassign_ticket":
        if path == f"/tickets/{task.ticket_id}":
            fields = [("Assignee", users[changes["assignee_id"]]), ("Due date", changes["due"])]
            return _edit(view, path, fields, "Save changes") or "answer(done)"
        title = titles[task.ticket_id or 0]
        return _open_row(view, "/tickets", f"#{task.ticket_id}", title)
    if t == "delete_tickets":
        if path.startswith("/tickets/"):
            return _click(view, "button", "Delete ticket", "goto(/tickets)")
        listing = dict(task.listing)
        query = {k: v[-1] for k, v in parse_qs(urlsplit(view.url).query).items()}
        if path != "/tickets" or any(query.get(k) != v for k, v in listing.items()):
            return f"goto(/tickets?{urlencode(listing)})"
        rows = table_rows(view)
        return f"click({rows[0][0]})" if rows else "answer(done)"
    if t == "update_settings":
        if path != "/settings":
            return _click(view, "link", "Settings", "goto(/settings)")
        fields = []
        for key, value in changes.items():
            if isinstance(value, bool):
                box = find(view, "checkbox", label(key))
                if box is not None and (box.value == "checked") != value:
                    return f"click({box.id})"
            elif key == "default_priority":
                radio = find(view, "radio", label(value))
                if radio is not None and radio.value != "checked":
                    return f"click({radio.id})"
            elif key == "session_timeout":
                fields.append(("Session timeout", f"{value} minutes"))
            else:
                fields.append((_SETTING_LABELS[key], value))
        return _edit(view, path, fields, "Save settings") or "answer(done)"
    if t == "create_user":
        record = dict(task.record)
        if path.startswith("/users/") and _shows(view, "Changes saved."):
            return "answer(done)"
        if path != "/users/new":
            if path == "/users":
                return _click(view, "link", "Add user", "goto(/users/new)")
            return _click(view, "link", "Users", "goto(/users)")
        fields = [
            ("Name", record["name"]),
            ("Email", record["email"]),
            ("Role", label(record["role"])),
            ("Team", teams[record["team_id"]]),
            ("Status", "Active"),
        ]
        return fill(view, fields) or _click(view, "button", "Create user", "goto(/users/new)")
    if t == "change_team_lead":
        if path == f"/teams/{task.team_id}":
            return _edit(view, path, [("Lead", users[changes["lead_id"]])], "Save changes") or (
                "answer(done)"
            )
        if path == "/teams":
            return _click(view, "link", teams[task.team_id or 0], f"goto(/teams/{task.team_id})")
        return _click(view, "link", "Teams", "goto(/teams)")
    if t == "answer_count":
        listing = dict(task.listing)
        want = {"role": listing["role"], "team": listing["team"], "status": "active"}
        selects = [
            ("Role", label(listing["role"])),
            ("Team", teams[int(listing["team"])]),
            ("Status", "Active"),
        ]
        step = _list(view, "/users", want, selects)
        if step:
            return step
        found = next((ln for ln in view.lines if "users found" in ln), "")
        return f"answer({found.split()[0] if found else 'unknown'})"
    if t == "answer_audit":
        listing = dict(task.listing)
        if path != "/audit":
            return _click(view, "link", "Audit log", "goto(/audit)")
        for line in view.lines:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            target = listing["target"].strip()
            if len(cells) == 6 and cells[4].startswith(target) and listing["detail"] in cells[5]:
                return f"answer({cells[2]})"
        page = int(parse_qs(urlsplit(view.url).query).get("page", ["1"])[-1])
        return _click(view, "link", f"Page {page + 1}", "goto(/audit)")
    # answer_ticket_due
    name = users[task.user_id or 0]
    want = {"assignee": str(task.user_id), "sort": "due", "order": "asc"}
    selects = [
        ("Status", "All"),
        ("Assignee", name),
        ("Sort by", "Due date"),
        ("Order", "Ascending"),
    ]
    step = _list(view, "/tickets", want, selects)
    if step:
        return step
    for _, cells in table_rows(view):
        if cells[3] != "Closed":
            return f"answer({cells[0].lstrip('#')})"
    return "answer(none)"
