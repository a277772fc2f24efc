"""The one seed rule of :mod:`mtenvs.core.task_source`, on its own and on every suite id
that plays a task list, and that the core alone implements ``reset``."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.core.args import constructor_arguments
from mtenvs.core.registry import env_class
from mtenvs.core.task_source import GeneratedTasks, TaskList
from mtenvs.error import InvalidArgumentError, ResetNeededError
from tests.toy_envs import AddEnv


@dataclass(frozen=True)
class _Task:
    task_id: str


TASKS = TaskList([_Task(f"t{i}") for i in range(5)], "the toy list")
RNG = np.random.default_rng(0)


def test_a_seed_plays_its_task_and_no_seed_the_next():
    assert TASKS.choose(3, 0, RNG) == (_Task("t3"), 4)
    assert TASKS.choose(None, 4, RNG) == (_Task("t4"), 0)
    assert TASKS.choose(None, 0, RNG) == (_Task("t0"), 1)
    assert TASKS.choose(12, 0, RNG) == (_Task("t2"), 3)  # modulo the list


def test_a_listed_task_is_found_by_id_and_unknown_ids_name_the_list():
    assert TASKS.find("t2") == _Task("t2")
    with pytest.raises(InvalidArgumentError, match=r"'t9' is not in the toy list .*'t0' to 't4'"):
        TASKS.find("t9")
    with pytest.raises(InvalidArgumentError, match="No task in the empty list"):
        TaskList([], "the empty list")


def test_generated_tasks_come_from_the_generator_and_keep_the_cursor():
    source = GeneratedTasks(lambda rng: int(rng.integers(1000)), int)
    task, cursor = source.choose(3, 7, np.random.default_rng(3))
    assert (task, cursor) == (int(np.random.default_rng(3).integers(1000)), 7)
    assert source.find("42") == 42


def test_generated_envs_replay_a_seed_and_draw_afresh_without_one():
    env = AddEnv()
    first = env.reset(seed=3)[1]["task_id"]
    following = [env.reset()[1]["task_id"] for _ in range(3)]
    assert env.reset(seed=3)[1]["task_id"] == first
    assert len({first, *following}) == 4
    assert env.reset(options={"task_id": "add-12-34"})[0] == "What is 12 + 34?"


def _listed_env(env_id: str) -> gym.Env:
    """The env of ``env_id`` playing its task list: its eval set where it has one."""
    takes = constructor_arguments(env_class(env_id))
    return gym.make(env_id, **({"eval_set": True} if "eval_set" in takes else {}))


def _plays_a_list(env_id: str) -> bool:
    env = _listed_env(env_id)
    try:
        return isinstance(env.unwrapped.task_source(), TaskList)
    finally:
        env.close()


LISTED_IDS = [env_id for env_id in mtenvs.list_envs(suite=True) if _plays_a_list(env_id)]


def test_every_env_with_an_eval_set_plays_it_as_a_list():
    with_eval_set = {
        env_id
        for env_id in mtenvs.list_envs(suite=True)
        if "eval_set" in constructor_arguments(env_class(env_id))
    }
    assert with_eval_set <= set(LISTED_IDS)
    assert "mtenvs/CodeTasks-v0" in LISTED_IDS  # a dataset env lists its records


@pytest.mark.parametrize("env_id", LISTED_IDS)
def test_a_reset_without_a_seed_plays_the_next_listed_task(env_id):
    env = _listed_env(env_id)
    try:
        played = [env.reset(seed=3)[1]["task_id"], env.reset()[1]["task_id"]]
        played.append(env.reset()[1]["task_id"])
        assert len(set(played)) == 3, played
        # the next tasks are the seeds' own: 4 and 5
        assert [env.reset(seed=s)[1]["task_id"] for s in (4, 5)] == played[1:]
        # a task id plays that task and leaves the walk where it was
        assert env.reset(options={"task_id": played[0]})[1]["task_id"] == played[0]
        assert env.reset()[1]["task_id"] == env.reset(seed=6)[1]["task_id"]
    finally:
        env.close()


@pytest.mark.parametrize("env_id", mtenvs.list_envs(suite=True))
def test_every_env_keeps_the_task_it_played_and_its_snapshots_carry_it(env_id):
    env = gym.make(env_id)
    base = env.unwrapped
    try:
        with pytest.raises(ResetNeededError, match="before reset"):
            _ = base.task
        _, info = env.reset(seed=5)
        task = base.task
        assert base.task_id == info["task_id"] == task.task_id
        snap = base.snapshot()
        assert env.reset(seed=6)[1]["task_id"] != info["task_id"]
        base.restore(snap)
        assert base.task == task and base.task_id == info["task_id"]
        assert base.state_key() == info["state_key"]
    finally:
        env.close()


def test_only_the_core_implements_reset():
    classes = {cls for env_id in mtenvs.list_envs() for cls in env_class(env_id).__mro__}
    overriding = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in classes
        if cls.__module__.startswith("mtenvs.")
        and not cls.__module__.startswith("mtenvs.core.")
        and "reset" in vars(cls)
    ]
    assert not overriding, f"these env classes override reset(): {overriding}"
