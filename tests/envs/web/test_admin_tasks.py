"""Admin site app, data, task generation, splits and verification (no browser)."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mtenvs.envs.web import admin_data
from mtenvs.envs.web.admin_data import ASSET, LOGIN, generate
from mtenvs.envs.web.admin_tasks import (
    EVAL_SET_PATH,
    TEMPLATES,
    WebAdminTask,
    eval_set,
    label,
    make_task,
    pick_eval_set,
    reached_subgoals,
    subgoal_count,
    task_from_id,
    verify,
)
from mtenvs.envs.web.site import SiteProcess

_SITE_DIR = Path(__file__).resolve().parents[3] / "sandboxes" / "web"


def _site() -> ModuleType:
    """``sandboxes/web/admin.py`` (it imports ``pages`` from its own folder)."""
    if str(_SITE_DIR) not in sys.path:
        sys.path.insert(0, str(_SITE_DIR))
    spec = importlib.util.spec_from_file_location("mtenvs_admin_site", _SITE_DIR / "admin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SITE = _site()


class Client:
    """Calls the site's ``handle`` as the server does, keeping the session cookie."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, form: dict[str, str] | None = None) -> Any:
        path, _, raw = url.partition("?")
        query = dict(p.split("=", 1) for p in raw.split("&") if "=" in p)
        resp = SITE.handle(self.state, method, path, query, form or {}, self.cookies)
        for key, value in resp.headers:
            if key == "Set-Cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return resp

    def login(self) -> None:
        resp = self.request("POST", "/login?next=/", {"username": LOGIN[0], "password": LOGIN[1]})
        assert resp.status == 303 and self.cookies


def _state() -> dict[str, Any]:
    return copy.deepcopy(generate())


def _task(template: str) -> WebAdminTask:
    return next(t for t in (make_task("train", i) for i in range(800)) if t.template == template)


# ---------------------------------------------------------------------- data and tasks


def test_shipped_data_is_the_generators_output():
    assert json.loads(ASSET.read_text(encoding="utf-8")) == json.loads(json.dumps(generate()))


def test_eval_set_is_fixed_test_tasks_covering_every_template():
    ids = eval_set()
    assert len(ids) == 40 and all(i.startswith("webadmin-test-") for i in ids)
    assert ids == pick_eval_set()
    assert json.loads(EVAL_SET_PATH.read_text())["task_ids"] == ids
    assert set(Counter(task_from_id(i).template for i in ids)) == set(TEMPLATES)


def test_tasks_are_deterministic_and_splits_disjoint():
    assert make_task("train", 7) == make_task("train", 7)
    train = {make_task("train", i).intent for i in range(600)}
    test = {make_task("test", i).intent for i in range(600)}
    assert not train & test
    assert {make_task("train", i).template for i in range(600)} == set(TEMPLATES)
    assert len(TEMPLATES) >= 10
    assert all(LOGIN[1] in make_task("test", i).intent for i in range(20))


def test_task_from_id_rejects_unknown_ids():
    assert task_from_id("webadmin-test-00003") == make_task("test", 3)
    with pytest.raises(ValueError, match="Unknown task id 'webadmin-dev-1'"):
        task_from_id("webadmin-dev-1")


# ---------------------------------------------------------------------- the site app


def test_site_and_task_modules_agree_on_codes_and_labels():
    # the site runs on its own (stdlib only), so it keeps its own copies
    common = importlib.import_module("admin_common")  # on sys.path since _site()
    for name in ("ROLES", "PRIORITIES", "TICKET_STATUSES", "TODAY"):
        assert getattr(common, name) == getattr(admin_data, name), name
    assert all(common.label(s) == label(s) for s in admin_data.TICKET_STATUSES)


def test_server_state_endpoints_need_the_token():
    site = SiteProcess("admin", ASSET)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for path, data in (("/__state", None), ("/__reset", b"")):
            with pytest.raises(urllib.error.HTTPError, match="403"):
                opener.open(site.origin + path, data=data, timeout=10)
        state = site.state()
        assert state["users"] == generate()["users"] and state["sessions"] == {}
        site.reset()
    finally:
        site.close()


def test_every_page_but_login_redirects_when_logged_out():
    client = Client(_state())
    for path in ("/", "/users", "/users/3", "/tickets/new", "/settings", "/audit", "/teams/1"):
        resp = client.request("GET", path)
        assert resp.status == 303
        assert dict(resp.headers)["Location"].startswith("/login?next=")
    assert client.request("POST", "/users/3", {"role": "admin"}).status == 303
    assert client.state["users"] == generate()["users"]
    bad = client.request("POST", "/login", {"username": "admin", "password": "wrong"})
    assert "Invalid username or password." in bad.body and not client.cookies
    client.login()
    assert "Dashboard" in client.request("GET", "/").body
    client.request("POST", "/logout")
    assert client.request("GET", "/users").status == 303


def test_changes_are_audited_and_validated():
    client = Client(_state())
    client.login()
    before = len(client.state["audit"])
    user = client.state["users"][2]
    form = {
        "name": user["name"],
        "email": user["email"],
        "role": "admin" if user["role"] != "admin" else "viewer",
        "team_id": str(user["team_id"]),
        "status": user["status"],
    }
    assert client.request("POST", f"/users/{user['id']}", form).status == 303
    entry = client.state["audit"][-1]
    assert len(client.state["audit"]) == before + 1 and entry["id"] == before + 1
    assert entry["actor"] == "admin" and entry["target"].endswith(f"(user #{user['id']})")
    assert entry["detail"].startswith("role: ")
    bad = client.request("POST", f"/users/{user['id']}", {**form, "email": "nope"})
    assert "Please enter a valid email address." in bad.body
    assert len(client.state["audit"]) == before + 1


def test_wizard_validates_each_step_and_creates_one_ticket():
    client = Client(_state())
    client.login()
    step1 = client.request("POST", "/tickets/new", {"step": "1", "title": "abc", "go": "next"})
    assert "The title needs at least 5 characters." in step1.body
    assert "Please choose a team." in step1.body and "Step 1 of 3" in step1.body
    fields = {"title": "Rotate keys", "description": "", "team_id": "2"}
    step2 = client.request("POST", "/tickets/new", {"step": "1", **fields, "go": "next"})
    assert "Step 2 of 3" in step2.body and 'type="date"' in step2.body
    fields |= {"priority": "high", "assignee_id": "1", "due": "2026-01-05"}
    early = client.request("POST", "/tickets/new", {"step": "2", **fields, "go": "next"})
    assert "Due date must be on or after 2026-11-23." in early.body
    fields["due"] = "2026-12-05"
    review = client.request("POST", "/tickets/new", {"step": "2", **fields, "go": "next"})
    assert "Step 3 of 3" in review.body and "Create ticket" in review.body
    back = client.request("POST", "/tickets/new", {"step": "3", **fields, "go": "back"})
    assert "Step 2 of 3" in back.body
    count = len(client.state["tickets"])
    done = client.request("POST", "/tickets/new", {"step": "3", **fields, "go": "create"})
    assert done.status == 303 and len(client.state["tickets"]) == count + 1
    assert client.state["tickets"][-1]["due"] == "2026-12-05"
    assert client.state["audit"][-1]["action"] == "ticket.create"


def test_lists_sort_filter_and_paginate():
    client = Client(_state())
    client.login()
    page = client.request("GET", "/users?sort=joined&order=desc&page=5").body
    assert "42 users found · page 5 of 5" in page
    oldest = min(client.state["users"], key=lambda u: u["joined"])
    assert page.rstrip().count("<tr>") == 1 + 2 and oldest["name"] in page
    editors = client.request("GET", "/users?role=editor&status=active").body
    n = sum(u["role"] == "editor" and u["status"] == "active" for u in client.state["users"])
    assert f"{n} users found" in editors
    audit = client.request("GET", "/audit?page=3").body
    assert "page 3 of 3" in audit


# ---------------------------------------------------------------------- verification


def _apply_changes(task: WebAdminTask, state: dict[str, Any]) -> None:
    if task.template == "update_settings":
        state["settings"].update(dict(task.changes))
    elif task.template == "change_team_lead":
        next(t for t in state["teams"] if t["id"] == task.team_id).update(dict(task.changes))
    elif task.template == "reassign_ticket":
        next(t for t in state["tickets"] if t["id"] == task.ticket_id).update(dict(task.changes))
    else:
        next(u for u in state["users"] if u["id"] == task.user_id).update(dict(task.changes))


@pytest.mark.parametrize(
    "template",
    ["deactivate_sorted", "reassign_ticket", "update_settings", "change_team_lead"],
)
def test_changes_are_verified_from_the_tables(template):
    task = _task(template)
    state = _state()
    assert not verify(task, state, "done")
    _apply_changes(task, state)
    assert verify(task, state, "done")
    assert "done" in reached_subgoals(task, state, "/")
    state["users"][0]["email"] = "someone.else@corp.test"  # an unrelated extra change
    assert not verify(task, state, "done")


def test_change_role_needs_the_change_and_its_audit_entry_number():
    task = _task("change_role")
    client = Client(_state())
    client.login()
    user = next(u for u in client.state["users"] if u["id"] == task.user_id)
    form = {k: str(user[k]) for k in ("name", "email", "team_id", "status")}
    client.request("POST", f"/users/{user['id']}", {**form, "role": dict(task.changes)["role"]})
    entry = str(client.state["audit"][-1]["id"])
    assert verify(task, client.state, entry)
    assert verify(task, client.state, f"#{entry}")
    assert not verify(task, client.state, str(int(entry) - 1))
    assert not verify(task, _state(), entry)


def test_creations_and_deletions_are_verified_from_the_tables():
    task = _task("create_user")
    state = _state()
    record = dict(task.record)
    state["users"].append({"id": state["next_user_id"], **record})
    assert verify(task, state, "done")
    state["users"].append({"id": 99, **record, "email": "x@corp.test"})
    assert not verify(task, state, "done")  # two new users, not one
    task = _task("delete_tickets")
    state = _state()
    state["tickets"] = [t for t in state["tickets"] if t["id"] not in task.deleted[1:]]
    assert not verify(task, state, "done")  # one matching ticket left
    state["tickets"] = [t for t in state["tickets"] if t["id"] not in task.deleted]
    assert verify(task, state, "done")
    state["tickets"].pop()
    assert not verify(task, state, "done")  # one ticket too many deleted


def test_answers_and_sub_goals():
    task = _task("answer_count")
    assert task.answer is not None
    assert verify(task, _state(), f" {task.answer} ")
    assert not verify(task, _state(), str(int(task.answer) + 1))
    state = _state()
    assert reached_subgoals(task, state, "/users") == {"page:/users"}
    state["sessions"]["t"] = "admin"
    assert reached_subgoals(task, state, "/users") == {"logged_in", "page:/users"}
    assert subgoal_count(task) == 2
    assert subgoal_count(_task("change_role")) == 4
