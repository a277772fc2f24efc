"""The MultiTurnEnv base class, on a toy answer env (tests our own logic around it)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mtenvs.core.env import EnvSnapshot
from mtenvs.error import Error, InvalidArgumentError, ResetNeededError
from tests.toy_envs import AddEnv, AddTask


def test_check_env_passes():
    check_env(AddEnv(), skip_render_check=True)


def test_reset_info_has_documented_keys():
    _, info = AddEnv().reset(seed=3)
    for key in (
        "system_prompt",
        "task_id",
        "max_turns",
        "split",
        "turn",
        "success",
        "reward_components",
        "parse_error",
        "state_key",
    ):
        assert key in info
    assert info["turn"] == 0 and info["max_turns"] == 5 and info["split"] == "train"


@pytest.mark.parametrize(
    "bad", ["", "blah", "<answer>x</answer>", 17, None, ["a"], {"x": 1}, "\x00" * 10, "🙂" * 1000]
)
def test_malformed_reply_is_an_observation_not_an_exception(bad):
    env = AddEnv()
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(bad)
    assert obs.startswith("Invalid reply:") and "Expected format: <answer>" in obs
    assert info["parse_error"] and info["reward_components"] == {"format": -0.1}
    assert reward == pytest.approx(-0.1)
    assert not terminated and not truncated and env.episode_active


def test_reward_is_sum_of_components_and_mode_moves_process():
    env = AddEnv(reward_mode="outcome", turn_cost=0.01)
    env.reset(seed=0)
    _, reward, *_, info = env.step("<action>hint</action>")
    assert info["uncounted_components"] == {"process": 0.25}
    assert reward == pytest.approx(sum(info["reward_components"].values())) == -0.01
    env = AddEnv(reward_mode="process")
    env.reset(seed=0)
    _, reward, *_, info = env.step("<action>hint</action>")
    assert reward == pytest.approx(0.25) and info["uncounted_components"] == {}


def test_truncation_at_max_turns_and_step_after_end_raises():
    env = AddEnv(max_turns=3)
    env.reset(seed=1)
    flags = [env.step("<action>hint</action>")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    with pytest.raises(ResetNeededError, match="after the episode ended"):
        env.step("<action>hint</action>")
    with pytest.raises(ResetNeededError, match="before reset"):
        AddEnv().step("x")


def test_terminates_on_final_answer_with_success_flag():
    env = AddEnv()
    env.reset(seed=2)
    _, reward, terminated, truncated, info = env.step(env.oracle_action())
    assert (reward, terminated, truncated, info["success"], info["final_answer"]) == (
        1.0,
        True,
        False,
        True,
        True,
    )


def test_unknown_and_invalid_arguments_name_allowed_values():
    with pytest.raises(InvalidArgumentError, match="Did you mean 'max_turns'"):
        AddEnv(max_turn=3)
    with pytest.raises(InvalidArgumentError, match="choose one of 'train', 'test'"):
        AddEnv(split="dev")
    with pytest.raises(InvalidArgumentError, match="max_turns must be >= 1"):
        AddEnv(max_turns=0)
    with pytest.raises(InvalidArgumentError, match="Unknown reset option 'taskid'"):
        AddEnv().reset(options={"taskid": 1})
    assert issubclass(InvalidArgumentError, Error)


def test_seeded_reset_is_deterministic_and_state_key_tracks_state():
    a, b = AddEnv(), AddEnv()
    obs_a, info_a = a.reset(seed=7)
    obs_b, info_b = b.reset(seed=7)
    assert obs_a == obs_b and info_a["state_key"] == info_b["state_key"]
    assert a.reset(seed=8)[1]["state_key"] != info_b["state_key"]
    key_before = b.state_key()
    b.step("<action>hint</action>")
    assert b.state_key() != key_before


def test_snapshot_restore_gives_identical_continuations():
    env = AddEnv()
    env.reset(seed=4)
    env.step("nonsense")
    snap = env.snapshot()
    first = [env.step(r)[:4] for r in ("<action>hint</action>", "<answer>1</answer>")]
    env.restore(snap)
    assert env.turn == 1 and env.episode_active
    second = [env.step(r)[:4] for r in ("<action>hint</action>", "<answer>1</answer>")]
    assert first == second
    with pytest.raises(InvalidArgumentError):
        env.restore(EnvSnapshot(env_class="Other", state={}))
    with pytest.raises(ResetNeededError):
        AddEnv().snapshot()


def test_task_before_the_first_reset_raises_naming_the_fix():
    env = AddEnv()
    with pytest.raises(
        ResetNeededError, match=r"AddEnv\.task read before reset\(\).*env\.reset\(\)"
    ):
        _ = env.task
    assert env.task_id == ""


def test_task_and_task_id_are_the_task_reset_chose():
    env = AddEnv()
    obs, info = env.reset(options={"task_id": "add-12-34"})
    assert env.task == AddTask(12, 34)
    assert env.task_id == info["task_id"] == "add-12-34"
    obs, info = env.reset(seed=3)
    task = env.task
    assert isinstance(task, AddTask) and obs == f"What is {task.a} + {task.b}?"
    assert env.task_id == info["task_id"] == task.task_id
    assert env.task_source().choose(3, 0, np.random.default_rng(3))[0] == task


def test_snapshot_restore_keeps_the_task():
    env = AddEnv()
    env.reset(seed=4)
    env.step("<action>hint</action>")
    task, key = env.task, env.state_key()
    snap = env.snapshot()
    env.reset(seed=5)
    assert env.task != task
    env.restore(snap)
    assert env.task == task and env.task_id == task.task_id and env.state_key() == key
    fresh = AddEnv()  # never reset: the snapshot alone brings the task
    fresh.restore(snap)
    assert fresh.task == task and fresh.task_id == task.task_id
    assert (
        fresh.step("<answer>0</answer>")[4]["state_key"]
        == env.step("<answer>0</answer>")[4]["state_key"]
    )


def test_resume_only_after_wrong_final_answer():
    env = AddEnv()
    env.reset(seed=0)
    with pytest.raises(ResetNeededError):
        env.resume()
    env.step("<answer>-1</answer>")
    env.resume()
    assert env.episode_active and env.turn == 1


def test_state_key_digest_is_the_same_in_every_process():
    # Sets of strings iterate in an order that follows PYTHONHASHSEED; pickling them raw
    # gave web envs (a frozenset of reached subgoals) a different state_key per process.
    import subprocess
    import sys

    code = (
        "from dataclasses import dataclass\n"
        "from mtenvs.core.env import stable_digest\n"
        "@dataclass(frozen=True)\n"
        "class Task:\n"
        "    tags: frozenset\n"
        "print(stable_digest(['x', frozenset({'cart', 'search', 'checkout', 'item'}),\n"
        "      {'seen': {'a', 'b', 'c', 'd'}}, Task(frozenset({'p', 'q', 'r'}))]))\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in range(6)
    }
    assert len(digests) == 1 and len(digests.pop()) == 16


def test_state_key_digest_ignores_dict_order_and_tells_contents_apart() -> None:
    from mtenvs.core.env import stable_digest

    assert stable_digest({"a": 1, "b": [2, 3]}) == stable_digest({"b": [2, 3], "a": 1})
    assert stable_digest({"a": 1, "b": [2, 3]}) != stable_digest({"a": 1, "b": [3, 2]})
    assert stable_digest({"a": 1}) != stable_digest({"a": 2})
