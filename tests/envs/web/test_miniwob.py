"""MiniWoB++ envs with real Chromium: contract, the page's own reward, determinism, errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401  # registers the ids
from mtenvs.envs.web.miniwob import MiniWobEnv
from mtenvs.envs.web.miniwob_tasks import MINIWOB_TASKS, REPRESENTATIVE_TASKS
from tests.envs.web._support import PARTS, parts, require_browser

pytestmark = pytest.mark.xdist_group("miniwob")


@pytest.fixture(scope="module")
def envs() -> Iterator[dict[str, MiniWobEnv]]:
    require_browser()
    made: dict[str, MiniWobEnv] = {}
    yield made
    for env in made.values():
        env.close()


def _env(envs: dict[str, MiniWobEnv], task: str) -> MiniWobEnv:
    if task not in envs:
        envs[task] = MiniWobEnv(task=task)
    return envs[task]


def _id(obs: str, kind: str, name: str) -> int:
    match = re.search(rf'\[(\d+)\] {kind} "{re.escape(name)}"', obs)
    assert match, f"no {kind} {name!r} in:\n{obs}"
    return int(match.group(1))


def _task_line(obs: str) -> str:
    return obs.splitlines()[0].removeprefix("Task: ")


def _act(env: MiniWobEnv, action: str):
    obs, reward, terminated, truncated, info = env.step(f"<action>{action}</action>")
    assert info["parse_error"] is None and info["last_action_error"] is None, obs
    return obs, reward, terminated, truncated, info


@pytest.mark.parametrize("task", REPRESENTATIVE_TASKS)
def test_check_env(task):
    require_browser()
    env = gym.make(f"mtenvs/MiniWob-{task}-v0")
    try:
        check_env(env.unwrapped, skip_render_check=True)
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        assert obs.startswith("Task: ") and "URL: http://miniwob.local/miniwob/" in obs
        assert "127.0.0.1" not in obs and info["tools"] and info["raw_reward"] == 0.0
        obs, *_ = env.step(env.unwrapped.random_action(np.random.default_rng(0)))
        assert env.observation_space.contains(obs)
    finally:
        env.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_click_button_solved_from_the_outline_gets_the_pages_reward(envs, seed):
    env = _env(envs, "click-button")
    obs, _ = env.reset(seed=seed)
    name = re.fullmatch(r'Click on the "(.+)" button\.', _task_line(obs))
    assert name, obs
    obs, reward, terminated, truncated, info = _act(env, f"click({_id(obs, 'button', name[1])})")
    assert terminated and not truncated and info["success"]
    assert reward == 1.0 and info["reward_components"] == {"outcome": 1.0}
    assert info["raw_reward"] == 1.0 and env.privileged()["time_scaled_reward"] == 1.0


def test_wrong_button_gets_no_reward(envs):
    env = _env(envs, "click-button")
    for seed in range(20):  # a page with a second button
        obs, _ = env.reset(seed=seed)
        target = re.fullmatch(r'Click on the "(.+)" button\.', _task_line(obs))
        assert target, obs
        buttons = re.finditer(r'\[(\d+)\] button "([^"]*)"', obs)
        others = [int(m[1]) for m in buttons if m[2] != target[1]]
        if others:
            break
    assert others, "no click-button page with two buttons in 20 seeds"
    _, reward, terminated, _, info = _act(env, f"click({others[0]})")
    assert terminated and not info["success"] and reward == 0.0
    assert info["raw_reward"] == -1.0 and info["reward_components"] == {"outcome": 0.0}


@pytest.mark.parametrize("seed", [0, 5])
def test_enter_text_solved_by_typing_and_submitting(envs, seed):
    env = _env(envs, "enter-text")
    obs, _ = env.reset(seed=seed)
    word = re.fullmatch(r'Enter "(.+)" into the text field and press Submit\.', _task_line(obs))
    assert word, obs
    box = int(re.search(r"\[(\d+)\] textbox", obs)[1])
    obs, reward, terminated, _, _ = _act(env, f'type({box}, "{word[1]}")')
    assert not terminated and reward == 0.0 and f'value="{word[1]}"' in obs
    _, reward, terminated, _, info = _act(env, f"click({_id(obs, 'button', 'Submit')})")
    assert terminated and info["success"] and reward == 1.0 and info["raw_reward"] == 1.0


def test_enter_text_with_a_wrong_word_fails(envs):
    env = _env(envs, "enter-text")
    obs, _ = env.reset(seed=3)
    box = int(re.search(r"\[(\d+)\] textbox", obs)[1])
    obs, *_ = _act(env, f'type({box}, "definitely-wrong")')
    _, reward, terminated, _, info = _act(env, f"click({_id(obs, 'button', 'Submit')})")
    assert terminated and not info["success"] and reward == 0.0 and info["raw_reward"] < 0


def test_click_checkboxes_solved_from_the_outline(envs):
    env = _env(envs, "click-checkboxes")
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        match = re.fullmatch(r"Select (.*?) ?and click Submit\.", _task_line(obs))
        assert match, obs
        wanted = [w for w in re.split(r", ?", match[1]) if w and w != "nothing"]
        terminated = False
        for word in wanted:
            obs, _, terminated, _, _ = _act(env, f"click({_id(obs, 'checkbox', word)})")
            assert not terminated
        obs, reward, terminated, _, info = _act(env, f"click({_id(obs, 'button', 'Submit')})")
        assert terminated and info["success"] and reward == 1.0, obs


def test_same_seed_same_page_and_different_seeds_differ(envs):
    env = _env(envs, "click-checkboxes")
    other = MiniWobEnv(task="click-checkboxes")
    try:
        first = [env.reset(seed=s)[0] for s in range(4)]
        assert [other.reset(seed=s)[0] for s in range(4)] == first
        assert len({_task_line(o) for o in first}) > 1
        by_id = env.reset(options={"task_id": "click-checkboxes/train-17"})
        again = other.reset(options={"task_id": "click-checkboxes/train-17"})
        assert by_id == again and by_id[1]["task_id"] == "click-checkboxes/train-17"
        test = env.reset(options={"task_id": "click-checkboxes/test-17"})[0]
        assert test != by_id[0]
    finally:
        other.close()


def test_bad_actions_give_error_observations_and_the_episode_goes_on(envs):
    env = _env(envs, "click-button")
    obs, _ = env.reset(seed=4)
    obs, reward, terminated, truncated, info = env.step("<action>click(999)</action>")
    assert "no element [999]" in info["last_action_error"] and "Valid ids" in obs
    assert reward == 0.0 and not terminated and not truncated and info["parse_error"] is None
    obs, reward, terminated, _, info = env.step("I would click the button")
    assert info["parse_error"] and "click(id)" in obs and reward == pytest.approx(-0.1)
    assert info["reward_components"] == {"format": pytest.approx(-0.1)} and not terminated
    obs, reward, terminated, _, info = env.step("<action>goto(http://example.com)</action>")
    assert info["parse_error"] and not terminated
    obs, reward, terminated, _, info = env.step("<action>goto(/miniwob/enter-text.html)</action>")
    assert "goto() is not available" in info["last_action_error"] and not terminated
    assert info["url"] == "http://miniwob.local/miniwob/click-button.html"
    target = re.fullmatch(r'Click on the "(.+)" button\.', _task_line(obs))
    assert target
    button = _id(obs, "button", target[1])
    obs, reward, terminated, _, info = env.step(f'<action>type({button}, "x")</action>')
    assert "not a textbox" in info["last_action_error"] and not terminated and reward == 0.0
    _, reward, terminated, _, info = _act(env, f"click({button})")
    assert terminated and info["success"] and reward == 1.0  # the errors did not end it


def test_answer_gives_up_and_max_turns_truncates(envs):
    env = _env(envs, "enter-text")
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step("<answer>done</answer>")
    assert terminated and info["final_answer"] and not info["success"] and reward == 0.0
    assert "Gave up with answer 'done'." in obs
    short = MiniWobEnv(task="enter-text", max_turns=2)
    try:
        short.reset(seed=0)
        assert short.step("<action>scroll(down)</action>")[2:4] == (False, False)
        assert short.step("<action>press(Tab)</action>")[2:4] == (False, True)
    finally:
        short.close()


def test_timer_disabled_and_clock_frozen(envs):
    env = _env(envs, "click-button")
    env.reset(seed=0)
    session = env.session
    max_time, now = session.call(
        lambda: session.page.evaluate("[core.EPISODE_MAX_TIME, Date.now()]")
    )
    assert max_time >= 2**31 - 1
    time.sleep(0.05)
    env.reset(seed=0)
    session = env.session
    assert session.call(lambda: session.page.evaluate("Date.now()")) == now
    assert env.privileged()["page_seed"] == int(env.task_id.split("-")[-1])


def test_snapshot_restore_replays_the_same_page(envs):
    env = _env(envs, "click-checkboxes")
    obs, _ = env.reset(seed=2)
    first_box = int(re.search(r"\[(\d+)\] checkbox", obs)[1])
    _act(env, f"click({first_box})")
    snap = env.snapshot()
    after = env.step("<action>scroll(down)</action>")[0]
    env.restore(snap)
    assert env.step("<action>scroll(down)</action>")[0] == after
    assert "checked" in after


def test_image_observation():
    require_browser()
    env = MiniWobEnv(task="click-button", obs_mode="text+image", set_of_marks=True)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["image"].shape == (320, 500, 3) and obs["image"].dtype == np.uint8
        assert env.observation_space.contains(obs)
        assert obs["image"].min() < 128  # the page drew something
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("part", parts("miniwob-pages"))
def test_every_task_page_loads_and_resets(part):
    """All 130 pages (a third per part), one browser: each starts an episode with an
    utterance and elements."""
    require_browser()
    start = time.perf_counter()
    failures = []
    tasks = MINIWOB_TASKS[part::PARTS]
    env = MiniWobEnv(task=tasks[0])
    try:
        for task in tasks:
            env.task_name = task
            obs, info = env.reset(seed=0)
            utterance = _task_line(obs)
            if not utterance or info["task_id"] != f"{task}/train-{info['task_id'].split('-')[-1]}":
                failures.append((task, obs[:200]))
            elif "Events: Blocked" in obs:
                failures.append((task, "blocked request"))
    finally:
        env.close()
    assert not failures, failures
    print(f"{len(tasks)} pages in {time.perf_counter() - start:.1f} s")
