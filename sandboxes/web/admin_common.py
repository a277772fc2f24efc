"""The admin site's constants and page helpers (shared by its pages' modules)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from pages import Response, esc, layout

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
