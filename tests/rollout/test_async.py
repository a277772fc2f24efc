"""Async collection (``rollout(..., schedule="async")``): the same trajectories as lock-step
for agents whose replies depend only on their input, slow episodes do not hold the others,
and the combinations it does not do are refused."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from mtenvs.agents import OracleAgent
from mtenvs.error import InvalidArgumentError
from mtenvs.rollout import Branching, Trajectory, rollout
from mtenvs.rollout.async_engine import AsyncSchedule
from tests.agents_support import ConversationSeededAgent


def _by_id(trajs: list[Trajectory]) -> dict[str, dict[str, Any]]:
    return {t.id: t.to_dict(timings=False) for t in trajs}


@pytest.mark.parametrize("agent", [OracleAgent(), ConversationSeededAgent()], ids=lambda a: a.name)
def test_same_trajectories_as_lockstep(agent):
    envs = ["mtenvs/Maze-v0", "mtenvs/Sokoban-v0"]
    kwargs = {"env_kwargs": {"max_turns": 6}, "num_envs": 4, "group_size": 2}
    lockstep = list(rollout(envs, agent, 12, **kwargs))
    asynchronous = list(rollout(envs, agent, 12, schedule="async", **kwargs))
    assert sorted(t.id for t in asynchronous) == sorted(str(k) for k in range(12))
    assert _by_id(asynchronous) == _by_id(lockstep)
    assert all(t.turns and all(turn.agent_s > 0 for turn in t.turns) for t in asynchronous)


def test_same_trajectories_with_tasks_and_a_capped_batch():
    tasks = [("mtenvs/Sokoban-v0", 5), ("mtenvs/Maze-v0", 9, 3)]
    agent = ConversationSeededAgent()
    lockstep = list(rollout(None, agent, tasks=tasks, env_kwargs={"max_turns": 5}))
    agent.batches.clear()
    schedule = AsyncSchedule(max_batch=2, max_wait=0.001)
    asynchronous = list(
        rollout(None, agent, tasks=tasks, env_kwargs={"max_turns": 5}, schedule=schedule)
    )
    assert _by_id(asynchronous) == _by_id(lockstep)
    assert max(agent.batches) <= 2


class SleepyEnv(gym.Env[str, str]):
    """Three turns per episode; each step sleeps ``SLOW_S`` for seed 0, nothing for others."""

    SLOW_S = 0.3
    observation_space = gym.spaces.Text(32)
    action_space = gym.spaces.Text(32)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._delay = self.SLOW_S if seed == 0 else 0.0
        self._turn = 0
        return "go", {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        time.sleep(self._delay)
        self._turn += 1
        return f"turn {self._turn}", 1.0, self._turn >= 3, False, {}

    def random_action(self, rng: np.random.Generator) -> str:
        return str(rng.integers(10))


def test_a_slow_env_does_not_hold_the_others():
    agent = ConversationSeededAgent()
    start = time.perf_counter()
    seen: list[tuple[str, int, float]] = []
    for traj in rollout(SleepyEnv, agent, 8, num_envs=4, schedule="async"):
        seen.append((traj.id, traj.seed, time.perf_counter() - start))
    assert [seed for _, seed, _ in seen][-1] == 0  # the slow episode (task 0) ends last
    # The other 7 episodes (4 of them queued behind the first round) finish while task 0 is
    # still in its first steps: lock-step would end them no sooner than 3 slow steps.
    fast_done = max(t for _, seed, t in seen if seed != 0)
    assert fast_done < 2 * SleepyEnv.SLOW_S
    assert sorted(seed for _, seed, _ in seen) == list(range(8))
    # The agent was called with whatever was waiting, not once per lock-step round.
    assert len(agent.batches) > 9 and sum(agent.batches) == 8 * 3


class Boom(SleepyEnv):
    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        raise RuntimeError("the env broke")


def test_an_env_error_reaches_the_caller():
    with pytest.raises(RuntimeError, match="the env broke"):
        list(rollout(Boom, ConversationSeededAgent(), 4, num_envs=2, schedule="async"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor": "sync"}, "executor='sync' is lock-step only"),
        ({"executor": "process"}, "executor='process' is lock-step only"),
        ({"executor": "ray"}, "executor='ray' is lock-step only"),
        ({"branch": Branching(turns=[1], n=2)}, "branch= needs schedule='lockstep'"),
        ({"prefetch": 4}, "prefetch=4 needs schedule='lockstep'"),
        ({"schedule": "eager"}, "choose 'lockstep', 'async'"),
        ({"workers": 0}, "workers"),
    ],
)
def test_unsupported_combinations_are_refused(kwargs, message):
    kwargs = {"schedule": "async", **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        next(rollout("mtenvs/Maze-v0", OracleAgent(), 2, **kwargs))


def test_bad_async_settings_name_the_problem():
    with pytest.raises(InvalidArgumentError, match="max_batch"):
        AsyncSchedule(max_batch=0)
    with pytest.raises(InvalidArgumentError, match="max_wait=-1"):
        AsyncSchedule(max_wait=-1)
