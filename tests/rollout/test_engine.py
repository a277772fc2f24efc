from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from mtenvs.agents import AgentInput, OracleAgent, RandomAgent
from mtenvs.error import InvalidArgumentError
from mtenvs.rollout import Trajectory, read_jsonl, rollout, write_jsonl
from mtenvs.rollout.workers import EnvWorker


class CountingAgent:
    """Records the size of every batch it is asked to answer."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.batches = inner, inner.name, []

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.batches.append(len(batch))
        return self.inner.act(batch)


def _key(traj: Trajectory):
    return (
        traj.env_id,
        traj.seed,
        traj.task_id,
        traj.group,
        traj.success,
        [(t.observation, t.reply, t.reward, t.state_key) for t in traj.turns],
    )


def test_one_batched_call_per_round_and_slots_refill():
    agent = CountingAgent(RandomAgent(seed=0))
    trajs = list(
        rollout(
            "mtenvs/Maze-v0", agent, 10, num_envs=4, executor="sync", env_kwargs={"max_turns": 3}
        )
    )
    assert len(trajs) == 10 and all(len(t.turns) == 3 for t in trajs)
    # 10 episodes of exactly 3 turns, 4 in flight: rounds of 4, 4, 2 slots, 3 turns each.
    assert agent.batches == [4, 4, 4, 4, 4, 4, 2, 2, 2]


def test_mixed_lengths_refill_until_episode_count():
    agent = CountingAgent(OracleAgent())
    trajs = list(rollout(["mtenvs/Maze-v0", "mtenvs/Sokoban-v0"], agent, 8, num_envs=3))
    assert len(trajs) == 8 and all(t.success for t in trajs)
    assert {t.env_id for t in trajs} == {"mtenvs/Maze-v0", "mtenvs/Sokoban-v0"}
    assert sorted((t.env_id, t.seed) for t in trajs) == sorted(
        [("mtenvs/Maze-v0", s) for s in range(4)] + [("mtenvs/Sokoban-v0", s) for s in range(4)]
    )
    assert max(agent.batches) == 3 and sum(agent.batches) == sum(len(t.turns) for t in trajs)


def test_group_sampling_shares_the_task():
    trajs = list(
        rollout(
            "mtenvs/Sokoban-v0",
            RandomAgent(seed=1),
            6,
            num_envs=6,
            group_size=3,
            env_kwargs={"max_turns": 4},
        )
    )
    groups: dict[int, set[str]] = {}
    for t in trajs:
        groups.setdefault(t.group, set()).add(t.task_id)
    assert len(groups) == 2 and all(len(ids) == 1 for ids in groups.values())
    with pytest.raises(InvalidArgumentError, match="multiple of group_size"):
        list(rollout("mtenvs/Maze-v0", RandomAgent(), 5, group_size=2))


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_executors_give_identical_trajectories(executor):
    kwargs = {"env_kwargs": {"max_turns": 6}, "num_envs": 4, "seed": 3}
    reference = [
        _key(t)
        for t in rollout("mtenvs/Maze-v0", RandomAgent(seed=5), 8, executor="sync", **kwargs)
    ]
    other = [
        _key(t)
        for t in rollout(
            "mtenvs/Maze-v0", RandomAgent(seed=5), 8, executor=executor, workers=2, **kwargs
        )
    ]
    assert other == reference


def test_records_messages_returns_and_jsonl_round_trip(tmp_path):
    (traj,) = rollout("mtenvs/Maze-v0", OracleAgent(), 1, env_kwargs={"reward_mode": "process"})
    msgs = traj.messages()
    assert msgs[0]["role"] == "system" and msgs[1]["role"] == "user"
    assert [m["role"] for m in msgs[2::2]] == ["assistant"] * len(traj.turns)
    returns = traj.returns()
    assert returns[0] == pytest.approx(traj.episode_return) == pytest.approx(2.0)
    assert returns[-1] == pytest.approx(traj.turns[-1].reward)
    assert all(t.state_key for t in traj.turns) and traj.success
    path = tmp_path / "t.jsonl"
    assert write_jsonl([traj, traj], path) == 2
    back = list(read_jsonl(path))
    assert back == [traj, traj]


def test_to_hf_dataset():
    datasets = pytest.importorskip("datasets")
    from mtenvs.rollout import to_hf_dataset

    trajs = list(rollout("mtenvs/Maze-v0", OracleAgent(), 3))
    ds = to_hf_dataset(trajs)
    assert isinstance(ds, datasets.Dataset) and len(ds) == 3
    row = ds[0]
    assert row["messages"][0]["role"] == "system" and len(row["rewards"]) == row["num_turns"]


@pytest.mark.xdist_group("ray")  # one Ray instance at a time: a second ray.init joins it
def test_ray_backend_matches_local():
    ray = pytest.importorskip("ray")
    kwargs = {"env_kwargs": {"max_turns": 5}, "num_envs": 3, "seed": 7}
    reference = [
        _key(t)
        for t in rollout("mtenvs/Maze-v0", RandomAgent(seed=2), 6, executor="sync", **kwargs)
    ]
    try:
        # address="local": a new instance of its own, never a cluster another process started
        if ray.is_initialized():
            ray.shutdown()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        got = [
            _key(t)
            for t in rollout(
                "mtenvs/Maze-v0", RandomAgent(seed=2), 6, executor="ray", workers=2, **kwargs
            )
        ]
        oracle = list(rollout("mtenvs/Sokoban-v0", OracleAgent(), 2, executor="ray", workers=2))
    finally:
        ray.shutdown()
    assert got == reference
    assert all(t.success for t in oracle)


def test_tasks_play_the_given_seeds_in_groups():
    tasks = [("mtenvs/Sokoban-v0", 11), ("mtenvs/Maze-v0", 3), ("mtenvs/Sokoban-v0", 5, 1)]
    agent = CountingAgent(RandomAgent(seed=4))
    trajs = list(
        rollout(None, agent, tasks=tasks, group_size=2, num_envs=8, env_kwargs={"max_turns": 3})
    )
    assert len(trajs) == 5 and agent.batches[0] == 5  # every episode in one batch
    played = sorted((t.group, t.env_id, t.seed) for t in trajs)
    assert played == [
        (0, "mtenvs/Sokoban-v0", 11),
        (0, "mtenvs/Sokoban-v0", 11),
        (1, "mtenvs/Maze-v0", 3),
        (1, "mtenvs/Maze-v0", 3),
        (2, "mtenvs/Sokoban-v0", 5),
    ]
    # A task played through tasks= is the same episode as through env_ids and seed.
    (alone,) = rollout(
        "mtenvs/Maze-v0", RandomAgent(seed=4), 1, seed=3, env_kwargs={"max_turns": 3}
    )
    (first,) = rollout(
        None, RandomAgent(seed=4), tasks=[("mtenvs/Maze-v0", 3)], env_kwargs={"max_turns": 3}
    )
    assert _key(first) == _key(alone)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env_ids": "mtenvs/Maze-v0", "tasks": [("mtenvs/Maze-v0", 0)]}, "env_ids=None"),
        ({"env_ids": None, "tasks": [("mtenvs/Maze-v0", 0)], "seed": 3}, "no seed"),
        ({"env_ids": None, "tasks": [("mtenvs/Maze-v0", 0)], "episodes": 2}, "make 1 episodes"),
        ({"env_ids": None, "tasks": [("mtenvs/Maze-v0", "0")]}, r"tasks\[0\]"),
        ({"env_ids": None, "tasks": [("mtenvs/Maze-v0", 0, 0)]}, "n >= 1"),
        ({"env_ids": None, "tasks": []}, "tasks is empty"),
        ({"env_ids": None}, "at least one env id"),
        ({"env_ids": "mtenvs/Maze-v0"}, "needs episodes"),
        ({"env_ids": "mtenvs/Maze-v0", "episodes": 2, "prefetch": -1}, "prefetch"),
    ],
)
def test_bad_schedules_name_the_problem(kwargs, message):
    env_ids = kwargs.pop("env_ids")
    with pytest.raises(InvalidArgumentError, match=message):
        list(rollout(env_ids, RandomAgent(), **kwargs))


@pytest.mark.parametrize("executor", ["sync", "thread"])
def test_prefetch_does_not_change_trajectories(executor):
    kwargs = {
        "env_kwargs": {"max_turns": 5},
        "num_envs": 6,
        "seed": 40,
        "group_size": 2,
        "executor": executor,
    }
    ids = ["mtenvs/Sokoban-v0", "mtenvs/Maze-v0"]
    without = [_key(t) for t in rollout(ids, RandomAgent(seed=9), 24, prefetch=0, **kwargs)]
    deep = [_key(t) for t in rollout(ids, RandomAgent(seed=9), 24, prefetch=20, **kwargs)]
    default = [_key(t) for t in rollout(ids, RandomAgent(seed=9), 24, **kwargs)]
    assert deep == without and default == without


def test_worker_prefetch_prepares_the_resets_it_is_asked_for():
    fresh = EnvWorker(plain=False)
    worker = EnvWorker(plain=False)
    try:
        upcoming = [("mtenvs/Sokoban-v0", 7), ("mtenvs/Sokoban-v0", 7), ("mtenvs/Maze-v0", 1)]
        assert worker.prefetch(upcoming, threading.Event()) == 3
        assert worker.prefetch(upcoming, threading.Event()) == 0  # all of them are ready
        for slot, (env_id, seed) in enumerate(upcoming):
            got, want = worker.reset(slot, env_id, seed), fresh.reset(slot, env_id, seed)
            assert (got.observation, got.info) == (want.observation, want.info)
        assert worker._ready == {}  # every prepared env went to its slot
        stopped = threading.Event()
        stopped.set()
        assert worker.prefetch([("mtenvs/Maze-v0", 2)], stopped) == 0
        # Resets ahead that would end past the deadline are not started.
        assert worker.prefetch([("mtenvs/Maze-v0", 2)], threading.Event(), 0.0) == 0
        later = time.perf_counter() + 60
        assert worker.prefetch([("mtenvs/Maze-v0", 2)], threading.Event(), later) == 1
    finally:
        worker.close()
        fresh.close()
