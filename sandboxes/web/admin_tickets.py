"""The admin site's tickets: the table, a ticket's page, and the 3-step new-ticket wizard."""

from __future__ import annotations

from typing import Any

from admin_common import (
    PAGE_SIZE,
    PRIORITIES,
    TICKET_SORTS,
    TICKET_STATUSES,
    TODAY,
    _audit,
    _by_id,
    _errors,
    _hidden,
    _int,
    _not_found,
    _page,
    _page_of,
    _pager,
    _select,
    _team_name,
    _text,
    _user_name,
    _valid_date,
    label,
)
from pages import Response, esc, redirect


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
