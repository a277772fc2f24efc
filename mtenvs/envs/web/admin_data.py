"""Seeded content of the admin site (``assets/web/admin.json``), generated deterministically.

A small company back office: one login account, 42 users in 6 teams, 36 support tickets,
site settings and an audit log whose seeded entries agree with the data (every closed
ticket has the entry that closed it; some role changes are logged).
``python -m mtenvs.envs.web.admin_data`` rewrites the asset; a test checks it is current.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "ASSET",
    "LOGIN",
    "PRIORITIES",
    "ROLES",
    "STATUSES",
    "TICKET_STATUSES",
    "TODAY",
    "generate",
    "load",
]

ASSET = Path(__file__).resolve().parents[2] / "assets" / "web" / "admin.json"

#: The seeded login (shown in every task's text).
LOGIN = ("admin", "orchid-7413")
#: The site's "today": new users join on it; due dates may not be before it.
TODAY = "2026-11-23"
ROLES = ("viewer", "editor", "admin")
STATUSES = ("active", "inactive")
PRIORITIES = ("low", "medium", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "closed")

_SEED = 2_026_1123
_TEAMS = ("Platform", "Billing", "Support", "Mobile", "Data", "Security")
_FIRST = (
    "Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Mara", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe",
)  # fmt: skip
_LAST = (
    "Abbott", "Brandt", "Castillo", "Dube", "Eriksen", "Fontaine", "Gallo", "Haas",
    "Ibarra", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
)  # fmt: skip
_VERBS = ("Fix", "Investigate", "Update", "Migrate", "Review", "Document")
_OBJECTS = (
    "login timeout", "invoice export", "push notifications", "search index", "backup job",
    "password reset mail", "CSV import", "rate limiter", "audit report", "dark mode",
    "billing webhook", "SSO settings",
)  # fmt: skip
_ACTORS = ("mira", "tomas", "priya")


def _day(start: str, offset: int) -> str:
    return (date.fromisoformat(start) + timedelta(days=offset)).isoformat()


def generate() -> dict[str, Any]:
    """The admin site's initial state (same output every call)."""
    rng = random.Random(_SEED)
    names = rng.sample([f"{f} {s}" for f in _FIRST for s in _LAST], 42)
    join_days = sorted(rng.sample(range(0, 1370), 42))
    rng.shuffle(join_days)
    teams = [{"id": i + 1, "name": t, "lead_id": 0} for i, t in enumerate(_TEAMS)]
    users: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        first, last = name.split()
        users.append(
            {
                "id": i + 1,
                "name": name,
                "email": f"{first.lower()}.{last.lower()}@corp.test",
                "role": rng.choices(ROLES, weights=(5, 3, 1))[0],
                "team_id": 1 + i % len(_TEAMS),
                "status": "inactive" if rng.random() < 0.15 else "active",
                "joined": _day("2023-01-02", join_days[i]),
            }
        )
    for team in teams:
        members = [u for u in users if u["team_id"] == team["id"] and u["status"] == "active"]
        team["lead_id"] = members[0]["id"]
    active = [u for u in users if u["status"] == "active"]
    titles = rng.sample([f"{v} {o}" for v in _VERBS for o in _OBJECTS], 36)
    due_days = rng.sample(range(-40, 110), 36)
    tickets: list[dict[str, Any]] = []
    for i, title in enumerate(titles):
        assignee = rng.choice(active)
        tickets.append(
            {
                "id": 101 + i,
                "title": title,
                "description": f"{title} (reported by the {_TEAMS[i % 6]} team).",
                "team_id": assignee["team_id"],
                "priority": rng.choice(PRIORITIES),
                "status": rng.choices(TICKET_STATUSES, weights=(4, 2, 3))[0],
                "assignee_id": assignee["id"],
                "due": _day(TODAY, due_days[i]),
            }
        )
    audit: list[dict[str, Any]] = []
    events: list[tuple[str, str, str]] = []
    for t in tickets:
        if t["status"] == "closed":
            events.append(
                ("ticket.update", f"#{t['id']} {t['title']}", "status: In progress → Closed")
            )
    for u in users:
        if u["role"] != "viewer" and rng.random() < 0.5:
            detail = f"role: Viewer → {u['role'].capitalize()}"
            events.append(("user.update", f"{u['name']} (user #{u['id']})", detail))
    events.append(("settings.update", "settings", "session timeout: 15 → 30"))
    rng.shuffle(events)
    for n, (action, target, detail) in enumerate(events):
        stamp = f"{_day('2026-10-01', n)} {9 + n % 8:02d}:{(n * 7) % 60:02d}"
        audit.append(
            {
                "id": n + 1,
                "time": stamp,
                "actor": rng.choice(_ACTORS),
                "action": action,
                "target": target,
                "detail": detail,
            }
        )
    settings = {
        "site_name": "Acme Back Office",
        "timezone": "UTC",
        "email_alerts": True,
        "weekly_digest": False,
        "maintenance_mode": False,
        "default_priority": "medium",
        "session_timeout": "30",
        "fiscal_year_start": "2026-01-01",
    }
    return {
        "accounts": [{"username": LOGIN[0], "password": LOGIN[1], "name": "Site Admin"}],
        "users": users,
        "teams": teams,
        "tickets": tickets,
        "settings": settings,
        "audit": audit,
        "sessions": {},
        "clock": 0,
        "next_user_id": len(users) + 1,
        "next_team_id": len(teams) + 1,
        "next_ticket_id": 101 + len(tickets),
    }


def load() -> dict[str, Any]:
    """The shipped asset (what the server starts from)."""
    data: dict[str, Any] = json.loads(ASSET.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    ASSET.write_text(json.dumps(generate(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
