from __future__ import annotations

from collections.abc import Sequence

import pytest

from mtenvs.agents import AgentInput, OracleAgent, RandomAgent
from mtenvs.error import InvalidArgumentError
from mtenvs.rollout import Trajectory, read_jsonl, rollout, write_jsonl


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


def test_ray_backend_matches_local():
    ray = pytest.importorskip("ray")
    kwargs = {"env_kwargs": {"max_turns": 5}, "num_envs": 3, "seed": 7}
    reference = [
        _key(t)
        for t in rollout("mtenvs/Maze-v0", RandomAgent(seed=2), 6, executor="sync", **kwargs)
    ]
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
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
