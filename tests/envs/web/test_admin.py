"""WebAdmin-v0 with real Chromium: login, forms (selects, dates, checkboxes, radios), the
wizard, isolation, determinism, fuzzed replies, the oracle on every template."""

from __future__ import annotations

import re
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401  # registers the ids
from mtenvs.envs.web.admin import WebAdminEnv
from mtenvs.envs.web.admin_data import LOGIN
from mtenvs.envs.web.admin_tasks import TEMPLATES, eval_set, task_from_id
from tests.envs.web._support import PARTS, act, element_id, parts, require_browser, solve

pytestmark = pytest.mark.xdist_group("web-admin")


@pytest.fixture(scope="module")
def env() -> Iterator[WebAdminEnv]:
    require_browser()
    e = WebAdminEnv(page_load_timeout=2.0)
    yield e
    e.close()


def _login(env: WebAdminEnv, obs: str) -> str:
    act(env, f'type({element_id(obs, "textbox", "Username")}, "{LOGIN[0]}")')
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Password")}, "{LOGIN[1]}")')
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Log in')})")
    return obs


def test_check_env_and_reset_step_contract():
    require_browser()
    e = gym.make("mtenvs/WebAdmin-v0")
    try:
        check_env(e.unwrapped, skip_render_check=True)
        obs, info = e.reset(seed=0)
        assert obs.startswith("Task: Log in to the admin site as admin")
        assert "URL: http://admin.local/login\n" in obs and "127.0.0.1" not in obs
        assert info["tools"] and info["task_id"].startswith("webadmin-train-")
        assert e.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = e.step("no action here")
        assert info["parse_error"] and "click(id)" in obs and reward == pytest.approx(-0.1)
        assert not terminated and not truncated
    finally:
        e.close()


def test_login_is_required_and_returns_to_the_asked_page(env):
    obs, _ = env.reset(seed=0)
    obs, info = act(env, "goto(/settings)")
    assert info["url"] == "http://admin.local/login?next=%2Fsettings" and "Sign in" in obs
    act(env, f'type({element_id(obs, "textbox", "Username")}, "admin")')
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Password")}, "wrong")')
    obs, info = act(env, f"click({element_id(obs, 'button', 'Log in')})")
    assert "Invalid username or password." in obs and not env.server_state()["sessions"]
    obs = _login(env, obs)
    assert 'heading "Settings"' in obs and env.server_state()["sessions"]
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Log out')})")
    obs, info = act(env, "goto(/users/3)")
    assert info["url"].startswith("http://admin.local/login?next=")


def test_forms_with_selects_dates_checkboxes_and_radios(env):
    obs, _ = env.reset(seed=0)
    act(env, "goto(/settings)")
    obs = _login(env, env.unwrapped._last_observation)
    # a date input takes YYYY-MM-DD only: type() refuses anything else with the format
    # penalty (the input keeps its value); an empty date is refused by the site
    day = element_id(obs, "textbox", "Fiscal year start")
    obs, info = act(env, f'type({day}, "01/02/2027")')
    assert "date inputs take YYYY-MM-DD, e.g. 2024-03-01" in info["last_action_error"]
    assert info["reward_components"] == {"format": pytest.approx(-0.1)}
    assert 'textbox "Fiscal year start" (date, YYYY-MM-DD) value="2026-01-01"' in obs
    obs, _ = act(env, f'type({day}, "")')
    assert 'textbox "Fiscal year start" (date, YYYY-MM-DD) value=""' in obs
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Save settings')})")
    assert "Fiscal year start must be a date (YYYY-MM-DD)." in obs
    assert env.server_state()["settings"]["fiscal_year_start"] == "2026-01-01"
    obs, _ = act(env, f'select({element_id(obs, "combobox", "Time zone")}, "Asia/Tokyo")')
    obs, _ = act(env, f"click({element_id(obs, 'checkbox', 'Weekly digest')})")
    obs, _ = act(env, f"click({element_id(obs, 'radio', 'Urgent')})")
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Fiscal year start")}, "2027-04-01")')
    assert 'value="2027-04-01"' in obs and '[12] checkbox "Weekly digest" checked' in obs
    obs, info = act(env, f"click({element_id(obs, 'button', 'Save settings')})")
    assert "Settings saved." in obs and info["url"] == "http://admin.local/settings?saved=1"
    settings = env.server_state()["settings"]
    assert settings["timezone"] == "Asia/Tokyo" and settings["weekly_digest"] is True
    assert settings["default_priority"] == "urgent"
    assert settings["fiscal_year_start"] == "2027-04-01"
    assert [e["action"] for e in env.server_state()["audit"][-4:]] == ["settings.update"] * 4


def test_wizard_shows_validation_errors_in_the_browser(env):
    obs, _ = env.reset(seed=0)
    act(env, "goto(/tickets/new)")
    obs = _login(env, env.unwrapped._last_observation)
    assert "Step 1 of 3" in obs
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Next')})")
    assert "The title needs at least 5 characters." in obs and "Please choose a team." in obs
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Title")}, "Rotate API keys")')
    obs, _ = act(env, f'select({element_id(obs, "combobox", "Team")}, "Data")')
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Next')})")
    assert "Step 2 of 3" in obs
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Due date")}, "2020-01-01")')
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Next')})")
    assert "Please choose an assignee." in obs and "on or after 2026-11-23" in obs
    assert len(env.server_state()["tickets"]) == 36


@pytest.mark.slow
@pytest.mark.parametrize("part", parts("web-admin-oracle"))
def test_oracle_solves_the_whole_eval_set_and_every_template(env, part):
    ids = eval_set()
    assert {task_from_id(t).template for t in ids} == set(TEMPLATES)
    failed = []
    for task_id in ids[part::PARTS]:
        env.reset(options={"task_id": task_id})
        info, total, terminated = solve(env)
        if not (info["success"] and terminated and total == pytest.approx(1.0)):
            failed.append(task_id)
    assert not failed


def test_process_reward_counts_sub_goals():
    require_browser()
    e = gym.make("mtenvs/WebAdmin-v0", reward_mode="process")
    try:
        task_id = next(t for t in eval_set() if task_from_id(t).template == "change_role")
        e.reset(options={"task_id": task_id})
        info, total, _ = solve(e.unwrapped)
        # logged in, user page, role saved, audit page: 4 sub-goals worth 1 in all
        assert info["success"] and total == pytest.approx(2.0)
    finally:
        e.close()


def test_wrong_solutions_are_not_rewarded(env):
    task_id = next(t for t in eval_set() if task_from_id(t).template == "change_role")
    env.reset(options={"task_id": task_id})
    while True:  # the oracle up to its answer, then a wrong entry number
        action = env.oracle_action()
        if "answer(" in action:
            break
        env.step(action)
    right = re.search(r"answer\((\d+)\)", action)
    assert right
    _, reward, terminated, _, info = env.step(f"<action>answer({int(right[1]) + 1})</action>")
    assert terminated and not info["success"] and reward == 0.0
    task_id = next(t for t in eval_set() if task_from_id(t).template == "delete_tickets")
    env.reset(options={"task_id": task_id})
    obs, _ = act(env, "goto(/tickets/101)")
    obs = _login(env, obs)
    keep = task_from_id(task_id).deleted
    assert 101 not in keep
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Delete ticket')})")
    assert "confirm dialog said 'Delete this ticket?'" in obs
    info, _, _ = solve(env)  # the oracle deletes the right ones too: one deletion too many
    assert not info["success"]


def test_two_concurrent_episodes_are_isolated(env):
    other = WebAdminEnv(page_load_timeout=2.0)
    try:
        env.reset(seed=0)
        other.reset(seed=0)
        obs, _ = act(env, "goto(/tickets/102)")
        obs = _login(env, obs)
        act(env, f"click({element_id(obs, 'button', 'Delete ticket')})")
        obs_other, _ = act(other, "goto(/tickets/102)")
        assert "Sign in" in obs_other  # no session leaks into the other context
        obs_other = _login(other, obs_other)
        assert 'heading "Ticket #102' in obs_other
        assert 102 not in {t["id"] for t in env.server_state()["tickets"]}
        assert 102 in {t["id"] for t in other.server_state()["tickets"]}
        env.reset(seed=0)
        obs, _ = act(env, "goto(/tickets/102)")
        assert "Sign in" in obs
        assert 102 in {t["id"] for t in env.server_state()["tickets"]}
        assert not env.server_state()["sessions"]
    finally:
        other.close()


def _trajectory(seed: int) -> list[object]:
    e = WebAdminEnv()
    try:
        obs, info = e.reset(seed=seed)
        record: list[object] = [obs, info["task_id"]]
        rng = np.random.default_rng(seed)
        for i in range(8):
            reply = e.oracle_action() if i < 5 else e.random_action(rng)
            obs, reward, terminated, truncated, info = e.step(reply)
            record.append((obs, reward, terminated, truncated, info["url"]))
            if terminated or truncated:
                break
        return record
    finally:
        e.close()


def test_same_seed_same_task_and_trajectory():
    require_browser()
    a, b, c = _trajectory(5), _trajectory(5), _trajectory(6)
    assert a == b
    assert a[:2] != c[:2]


def test_fuzzed_replies_and_random_agent_never_crash(env):
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    replies: list[object] = [
        "",
        "<action>",
        "<action>click(</action>",
        "<action>type(3)</action>",
        '<action>select(2, "Nope")</action>',
        "<action>goto(http://evil.example.com/)</action>",
        "<action>goto(/users/99999)</action>",
        "<action>goto(/tickets/new?step=9)</action>",
        {"name": "click", "arguments": {"id": "x"}},
        {"name": "nope", "arguments": {}},
        "<action>type(1, '" + "x" * 5000 + "')</action>",
        None,
        42,
        "<action>press(F13)</action>",
    ]
    replies += ["".join(rng.choice(list("<>()[]{}aé1 ,'\""), size=30)) for _ in range(30)]
    for reply in replies:
        obs, reward, terminated, truncated, info = env.step(reply)  # type: ignore[arg-type]
        assert isinstance(obs, str) and np.isfinite(reward)
        if terminated or truncated:
            env.reset()
    for _ in range(40):
        obs, reward, terminated, truncated, info = env.step(env.random_action(rng))
        assert isinstance(obs, str) and reward == pytest.approx(
            sum(info["reward_components"].values())
        )
        if terminated or truncated:
            env.reset()
