"""Admin-site tasks: templates generated from the site data, split, fixed eval set,
verification from the server state (tables and audit log) or an exact answer.

Every changing task is verified against the final server state as a whole: the intended
rows changed exactly as asked and every other row of every table untouched (a new row
compared without its id). No I/O here except reading the assets.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mtenvs.envs.web.admin_data import LOGIN, PRIORITIES, ROLES, TODAY, load
from mtenvs.envs.web.shop_tasks import answers_match

__all__ = [
    "EVAL_SET_PATH",
    "EVAL_SIZE",
    "SEEDS_PER_SPLIT",
    "TEMPLATES",
    "WebAdminTask",
    "eval_set",
    "label",
    "make_task",
    "pick_eval_set",
    "reached_subgoals",
    "sorted_users",
    "subgoal_count",
    "task_from_id",
    "verify",
]

SEEDS_PER_SPLIT = 10_000
EVAL_SIZE = 40
EVAL_SET_PATH = Path(__file__).resolve().parents[2] / "assets" / "web" / "webadmin_eval.json"
TEMPLATES = (
    "change_role",
    "deactivate_sorted",
    "create_ticket",
    "reassign_ticket",
    "delete_tickets",
    "update_settings",
    "create_user",
    "change_team_lead",
    "answer_count",
    "answer_sorted",
    "answer_audit",
    "answer_ticket_due",
)
#: Tables compared after a changing task (sessions, clock and audit are the site's own).
TABLES = ("users", "teams", "tickets", "settings")
_LOGIN_TEXT = f"Log in to the admin site as {LOGIN[0]} with password {LOGIN[1]}. "
_SORT_LABELS = {"name": "Name", "email": "Email", "joined": "Joined", "team": "Team"}
_ORDER_LABELS = {"asc": "Ascending", "desc": "Descending"}
_NEW_TITLES = (
    "Rotate API keys",
    "Renew TLS certificates",
    "Clean up stale branches",
    "Add uptime alerts",
    "Archive old invoices",
    "Translate help pages",
)
_NEW_PEOPLE = ("Lena Hoffmann", "Omar Farouk", "Ivy Chen", "Mateo Silva", "Noor Aziz")
_SETTING_CHOICES: dict[str, tuple[Any, ...]] = {
    "timezone": ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"),
    "weekly_digest": (True,),
    "maintenance_mode": (True,),
    "email_alerts": (False,),
    "default_priority": ("low", "high", "urgent"),
    "session_timeout": ("15", "60", "120"),
    "fiscal_year_start": ("2027-01-01", "2026-04-01", "2026-07-01"),
}


@dataclass(frozen=True)
class WebAdminTask:
    """One admin task: what to ask, and everything the verifier and the oracle need.

    ``changes`` are (field, value) pairs of the row (or settings) to change; ``record`` the
    fields of a row to create; ``listing`` the list page parameters the task refers to
    (``sort``, ``order``, ``page``, ``row``, filters); ``pages`` the paths whose visit is a
    sub-goal.
    """

    task_id: str
    template: str
    intent: str
    pages: tuple[str, ...]
    user_id: int | None = None
    ticket_id: int | None = None
    team_id: int | None = None
    answer: str | None = None
    changes: tuple[tuple[str, Any], ...] = ()
    record: tuple[tuple[str, Any], ...] = ()
    listing: tuple[tuple[str, str], ...] = ()
    deleted: tuple[int, ...] = ()


def label(value: str) -> str:
    """How the site shows a stored code (``in_progress`` -> ``In progress``)."""
    return value.replace("_", " ").capitalize()


def _split_of(key: str) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return "test" if digest[0] % 4 == 0 else "train"


def sorted_users(data: dict[str, Any], sort: str, order: str) -> list[dict[str, Any]]:
    """The users in the order the Users list shows them (the site's own sort key)."""
    teams = {t["id"]: t["name"] for t in data["teams"]}

    def key(u: dict[str, Any]) -> tuple[str, int]:
        value = teams.get(u["team_id"], "(none)") if sort == "team" else str(u[sort])
        return (value.lower(), u["id"])

    return sorted(data["users"], key=key, reverse=order == "desc")


def _ordinal(n: int) -> str:
    return f"{n}{'tsnrhtdd'[(n // 10 % 10 != 1) * (n % 10 < 4) * n % 10 :: 4]}"


def _draft(rng: random.Random, data: dict[str, Any], template: str) -> dict[str, Any]:
    """A task spec drawn from ``template``."""
    users = {u["id"]: u for u in data["users"]}
    active = [u for u in data["users"] if u["status"] == "active"]
    if template == "change_role":
        u = rng.choice(data["users"])
        role = rng.choice([r for r in ROLES if r != u["role"]])
        return {
            "intent": f"Change the role of {u['name']} to {label(role)}. Then open the audit "
            "log, find the entry that records this role change and give its entry number "
            "with answer(...).",
            "user_id": u["id"],
            "changes": (("role", role),),
            "pages": (f"/users/{u['id']}", "/audit"),
        }
    if template in ("deactivate_sorted", "answer_sorted"):
        sort = rng.choice(sorted(_SORT_LABELS))
        order = rng.choice(("asc", "desc"))
        rows = sorted_users(data, sort, order)
        index = rng.randrange(len(rows))
        u = rows[index]
        page, row = index // 10 + 1, index % 10 + 1
        where = (
            f"Open the Users list sorted by {_SORT_LABELS[sort]} ({_ORDER_LABELS[order]}), "
            f"go to page {page} and take the {_ordinal(row)} user listed there"
        )
        listing = (("sort", sort), ("order", order), ("page", str(page)), ("row", str(row)))
        if template == "answer_sorted":
            field = "email" if sort == "name" else "name"
            return {
                "intent": f"{where}. What is that user's {field}? Give it with answer(...).",
                "user_id": u["id"],
                "answer": u[field],
                "listing": (*listing, ("field", field)),
                "pages": ("/users",),
            }
        if u["status"] != "active":
            return _draft(rng, data, template)
        return {
            "intent": f"{where}: deactivate them (set their status to Inactive and save). "
            "Reply answer(done) when it is saved.",
            "user_id": u["id"],
            "changes": (("status", "inactive"),),
            "listing": listing,
            "pages": ("/users", f"/users/{u['id']}"),
        }
    if template == "create_ticket":
        team = rng.choice(data["teams"])
        assignee = rng.choice(active)
        title = f"{rng.choice(_NEW_TITLES)} for {team['name']}"
        priority = rng.choice(PRIORITIES)
        due = f"2026-{rng.choice(('12', '11'))}-{rng.randint(24, 30):02d}"
        return {
            "intent": f'Create a new ticket with the New ticket wizard: title "{title}", team '
            f"{team['name']}, priority {label(priority)}, assignee {assignee['name']}, due "
            f"date {due}. Reply answer(done) when it is created.",
            "record": (
                ("title", title),
                ("team_id", team["id"]),
                ("priority", priority),
                ("status", "open"),
                ("assignee_id", assignee["id"]),
                ("due", due),
            ),
            "pages": ("/tickets/new",),
        }
    if template == "reassign_ticket":
        t = rng.choice([t for t in data["tickets"] if t["status"] != "closed"])
        assignee = rng.choice([u for u in active if u["id"] != t["assignee_id"]])
        due = f"2027-0{rng.randint(1, 3)}-{rng.randint(10, 28)}"
        return {
            "intent": f'Reassign ticket #{t["id"]} ("{t["title"]}") to {assignee["name"]} and '
            f"change its due date to {due}. Reply answer(done) when it is saved.",
            "ticket_id": t["id"],
            "changes": (("assignee_id", assignee["id"]), ("due", due)),
            "pages": (f"/tickets/{t['id']}",),
        }
    if template == "delete_tickets":
        combos: dict[tuple[str, str], list[int]] = {}
        for t in data["tickets"]:
            combos.setdefault((t["status"], t["priority"]), []).append(t["id"])
        choices = sorted(k for k, v in combos.items() if 1 <= len(v) <= 4)
        status, priority = rng.choice(choices)
        return {
            "intent": f"Delete every ticket whose status is {label(status)} and whose priority "
            f"is {label(priority)} (there may be several); leave all other tickets as they "
            "are. Reply answer(done) when they are deleted.",
            "deleted": tuple(combos[(status, priority)]),
            "listing": (("status", status), ("priority", priority)),
            "pages": ("/tickets",),
        }
    if template == "update_settings":
        keys = rng.sample(sorted(_SETTING_CHOICES), 3)
        changes = tuple((k, rng.choice(_SETTING_CHOICES[k])) for k in sorted(keys))
        words = []
        for key, value in changes:
            if isinstance(value, bool):
                words.append(f"turn {'on' if value else 'off'} {label(key).lower()}")
            elif key == "session_timeout":
                words.append(f"set the session timeout to {value} minutes")
            elif key == "default_priority":
                words.append(f"set the default ticket priority to {label(value)}")
            elif key == "timezone":
                words.append(f"set the time zone to {value}")
            else:
                words.append(f"set the {label(key).lower()} to {value}")
        return {
            "intent": f"In the site settings, {', '.join(words[:-1])} and {words[-1]}; keep "
            "every other setting. Reply answer(done) when they are saved.",
            "changes": changes,
            "pages": ("/settings",),
        }
    if template == "create_user":
        name = rng.choice(_NEW_PEOPLE)
        first, last = name.lower().split()
        team = rng.choice(data["teams"])
        role = rng.choice(ROLES)
        email = f"{first[0]}.{last}@corp.test"
        return {
            "intent": f"Add a new user {name} with email {email}, role {label(role)}, in the "
            f"{team['name']} team (status Active). Reply answer(done) when the user is created.",
            "record": (
                ("name", name),
                ("email", email),
                ("role", role),
                ("team_id", team["id"]),
                ("status", "active"),
                ("joined", TODAY),
            ),
            "pages": ("/users/new",),
        }
    if template == "change_team_lead":
        team = rng.choice(data["teams"])
        pool = [u for u in active if u["team_id"] == team["id"] and u["id"] != team["lead_id"]]
        lead = rng.choice(pool)
        return {
            "intent": f"Make {lead['name']} the lead of the {team['name']} team. Reply "
            "answer(done) when it is saved.",
            "team_id": team["id"],
            "user_id": lead["id"],
            "changes": (("lead_id", lead["id"]),),
            "pages": (f"/teams/{team['id']}",),
        }
    if template == "answer_count":
        team, role = rng.choice(data["teams"]), rng.choice(ROLES)
        count = sum(
            u["team_id"] == team["id"] and u["role"] == role and u["status"] == "active"
            for u in data["users"]
        )
        return {
            "intent": f"How many active users with the role {label(role)} are in the "
            f"{team['name']} team? Give the number with answer(...).",
            "answer": str(count),
            "listing": (("team", str(team["id"])), ("role", role), ("status", "active")),
            "pages": ("/users",),
        }
    if template == "answer_audit":
        entry = rng.choice(
            [e for e in data["audit"] if e["action"] in ("ticket.update", "user.update")]
        )
        if entry["action"] == "ticket.update":
            what = f"closed ticket {entry['target'].split()[0]}"
            match = (("target", entry["target"].split()[0] + " "), ("detail", "→ Closed"))
        else:
            what = f"changed the role of {entry['target'].split(' (')[0]}"
            match = (("target", entry["target"].split(" (")[0] + " (user #"), ("detail", "role:"))
        return {
            "intent": f"According to the audit log, which user {what}? Give the actor's user "
            "name with answer(...).",
            "answer": entry["actor"],
            "listing": (("entry", str(entry["id"])), *match),
            "pages": ("/audit",),
        }
    assignees = sorted({t["assignee_id"] for t in data["tickets"] if t["status"] != "closed"})
    uid = rng.choice(assignees)
    first = min(
        (t for t in data["tickets"] if t["assignee_id"] == uid and t["status"] != "closed"),
        key=lambda t: t["due"],
    )
    return {
        "intent": f"Of the tickets assigned to {users[uid]['name']} that are not closed, which "
        "one is due first? Give its number with answer(...), e.g. answer(123).",
        "user_id": uid,
        "ticket_id": first["id"],
        "answer": str(first["id"]),
        "listing": (("assignee", str(uid)),),
        "pages": ("/tickets",),
    }


@lru_cache(maxsize=4096)
def make_task(split: str, index: int) -> WebAdminTask:
    """Task ``index`` of ``split`` (deterministic; train and test never share a task)."""
    data = _data()
    rng = random.Random(f"webadmin-{split}-{index}")
    while True:
        template = rng.choice(TEMPLATES)
        for _ in range(30):  # templates with few distinct tasks may have none in a split
            spec = _draft(rng, data, template)
            if _split_of(json.dumps({"template": template, **spec}, sort_keys=True)) == split:
                spec["intent"] = _LOGIN_TEXT + spec["intent"]
                return WebAdminTask(
                    task_id=f"webadmin-{split}-{index:05d}", template=template, **spec
                )


def task_from_id(task_id: str) -> WebAdminTask:
    """The task named ``webadmin-<split>-<index>``; ``ValueError`` for anything else."""
    match = re.fullmatch(r"webadmin-(train|test)-(\d{5})", task_id)
    if match is None or int(match.group(2)) >= SEEDS_PER_SPLIT:
        raise ValueError(
            f"Unknown task id {task_id!r}; expected webadmin-<train|test>-<00000"
            f"..{SEEDS_PER_SPLIT - 1}>."
        )
    return make_task(match.group(1), int(match.group(2)))


def pick_eval_set() -> list[str]:
    """The eval set's ids: the first test tasks, taking at most ``ceil(40 / 12)`` of each
    template, so every template is in it."""
    cap = -(-EVAL_SIZE // len(TEMPLATES))
    ids: list[str] = []
    counts: dict[str, int] = {}
    index = 0
    while len(ids) < EVAL_SIZE:
        task = make_task("test", index)
        if counts.get(task.template, 0) < cap:
            counts[task.template] = counts.get(task.template, 0) + 1
            ids.append(task.task_id)
        index += 1
    return ids


def eval_set() -> list[str]:
    """The fixed evaluation task ids (test split), from ``assets/web/webadmin_eval.json``."""
    ids: list[str] = json.loads(EVAL_SET_PATH.read_text(encoding="utf-8"))["task_ids"]
    return ids


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return load()


def _row(rows: list[dict[str, Any]], rid: int | None) -> dict[str, Any] | None:
    return next((r for r in rows if r["id"] == rid), None)


def _target(task: WebAdminTask, tables: dict[str, Any]) -> dict[str, Any] | None:
    """The row (or the settings) that the task's ``changes`` apply to."""
    if task.template == "update_settings":
        settings: dict[str, Any] = tables["settings"]
        return settings
    if task.template == "change_team_lead":
        return _row(tables["teams"], task.team_id)
    if task.ticket_id is not None and task.template == "reassign_ticket":
        return _row(tables["tickets"], task.ticket_id)
    return _row(tables["users"], task.user_id)


def _new_rows(task: WebAdminTask, tables: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    table = "tickets" if task.template == "create_ticket" else "users"
    seeded = {r["id"] for r in _data()[table]}
    return table, [r for r in tables[table] if r["id"] not in seeded]


def _matches_record(task: WebAdminTask, row: dict[str, Any]) -> bool:
    return all(
        (str(row.get(k, "")).lower() == str(v).lower())
        if k in ("email", "title")
        else row.get(k) == v
        for k, v in task.record
    )


def _effect_done(task: WebAdminTask, state: dict[str, Any]) -> bool:
    """Whether the task's own change is in ``state`` (other rows not looked at)."""
    if task.record:
        return any(_matches_record(task, r) for r in _new_rows(task, state)[1])
    if task.deleted:
        return not {t["id"] for t in state["tickets"]} & set(task.deleted)
    target = _target(task, state)
    return target is not None and all(target.get(k) == v for k, v in task.changes)


def _role_entry_ids(task: WebAdminTask, state: dict[str, Any]) -> set[str]:
    role = dict(task.changes)["role"]
    return {
        str(e["id"])
        for e in state["audit"]
        if e["action"] == "user.update"
        and e["target"].endswith(f"(user #{task.user_id})")
        and e["detail"].startswith("role: ")
        and e["detail"].endswith(f"→ {label(role)}")
    }


def verify(task: WebAdminTask, state: dict[str, Any], answer: str) -> bool:
    """Whether the episode solved ``task``, from the final server ``state`` and answer."""
    if task.answer is not None:
        return answers_match(answer.strip().lstrip("#"), task.answer)
    tables = {k: copy.deepcopy(state[k]) for k in TABLES}
    want = {k: copy.deepcopy(_data()[k]) for k in TABLES}
    if task.record:
        table, new = _new_rows(task, tables)
        if len(new) != 1 or not _matches_record(task, new[0]):
            return False
        tables[table] = [r for r in tables[table] if r is not new[0]]
    elif task.deleted:
        want["tickets"] = [t for t in want["tickets"] if t["id"] not in task.deleted]
    else:
        target = _target(task, want)
        if target is None:
            return False
        target.update(dict(task.changes))
    if tables != want:
        return False
    if task.template == "change_role":
        return answer.strip().lstrip("#") in _role_entry_ids(task, state)
    return True


def reached_subgoals(task: WebAdminTask, state: dict[str, Any], path: str) -> set[str]:
    """Verifiable sub-goals reached now: ``logged_in``, each of the task's pages opened
    (``page:/users/12``), and ``done`` once the task's own change is in the state."""
    reached = set()
    if state["sessions"]:
        reached.add("logged_in")
    if path in task.pages:
        reached.add(f"page:{path}")
    if task.answer is None and _effect_done(task, state):
        reached.add("done")
    return reached


def subgoal_count(task: WebAdminTask) -> int:
    """How many sub-goals :func:`reached_subgoals` can report for ``task``."""
    return 1 + len(task.pages) + (1 if task.answer is None else 0)


if __name__ == "__main__":
    EVAL_SET_PATH.write_text(
        json.dumps({"task_ids": pick_eval_set()}, indent=1) + "\n", encoding="utf-8"
    )
