"""Branch rollouts: ``rollout(..., branch=Branching(...))`` snapshots episodes at chosen turns
and plays ``n`` continuations from there, on every executor alike."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from mtenvs.agents import RandomAgent
from mtenvs.error import InvalidArgumentError
from mtenvs.rollout import (
    Branching,
    BranchingError,
    Trajectory,
    branch_groups,
    read_jsonl,
    rollout,
    write_jsonl,
)
from mtenvs.wrappers import TurnLimit

MAZE = {"max_turns": 6}


def _maze_branches(executor: str = "sync", **kwargs: Any) -> list[Trajectory]:
    return list(
        rollout(
            "mtenvs/Maze-v0",
            RandomAgent(seed=0),
            4,
            num_envs=3,
            executor=executor,  # type: ignore[arg-type]
            env_kwargs=MAZE,
            branch=Branching(turns=[1, 3], n=3),
            **kwargs,
        )
    )


def _replay(traj: Trajectory, make: Any) -> None:
    """Play ``traj``'s replies in a fresh env from its seed: every observation, reward and
    end flag must be the recorded one (a branch is a real episode of the env)."""
    env = make()
    obs, _ = env.reset(seed=traj.seed)
    for k, turn in enumerate(traj.turns):
        assert obs == turn.observation, (traj.id, k)
        obs, reward, terminated, truncated, _ = env.step(turn.reply)
        assert (reward, terminated, truncated) == (turn.reward, turn.terminated, turn.truncated)
    assert obs == traj.final_observation
    env.close()


def _key(traj: Trajectory) -> tuple[Any, ...]:
    return (
        traj.id,
        traj.parent,
        traj.branch_turn,
        traj.seed,
        traj.success,
        [(t.observation, t.reply, t.reward, t.state_key) for t in traj.turns],
    )


def test_branches_start_at_the_chosen_turns_from_the_parents_state():
    trajs = _maze_branches()
    by_id = {t.id: t for t in trajs}
    roots = [t for t in trajs if t.parent is None]
    assert sorted(t.id for t in roots) == ["0", "1", "2", "3"]
    assert all(t.branch_turn is None and t.own_turns == t.turns for t in roots)
    branches = [t for t in trajs if t.parent is not None]
    # Every episode reaches turns 1 and 3 (6-turn Maze, random moves): 3 branches at each.
    assert len(branches) == 4 * 2 * 3
    for root in roots:
        for turn in (1, 3):
            ids = sorted(t.id for t in branches if t.parent == root.id and t.branch_turn == turn)
            assert ids == [f"{root.id}/{turn}.{k}" for k in range(3)]
    for branch in branches:
        parent, t = by_id[branch.parent], branch.branch_turn
        assert t is not None and branch.id.count("/") == 1  # depth 1: branches do not branch
        # The parent's turns up to the branch point, shared; then the branch's own.
        assert all(a is b for a, b in zip(branch.turns[:t], parent.turns[:t]))
        assert branch.own_turns == branch.turns[t:] and branch.own_turns
        # It starts in the parent's state at that turn: same observation, same state.
        assert branch.turns[t].observation == parent.turns[t].observation
        assert branch.turns[t].state_key == parent.turns[t].state_key
        assert (branch.group, branch.seed, branch.task_id) == (
            parent.group,
            parent.seed,
            parent.task_id,
        )
        assert branch.returns()[t] == pytest.approx(sum(x.reward for x in branch.own_turns))
    # The restored env really is in that state: each branch replays in a fresh env.
    for traj in trajs:
        _replay(traj, lambda: gym.make("mtenvs/Maze-v0", **MAZE))
    # A sampling agent continues differently in the branches of a point.
    groups = branch_groups(trajs)
    assert len(groups) == 8 and all(len(g) == 4 for g in groups.values())
    assert all(g[0].parent is None for g in groups.values())
    differs = [len({tuple(x.reply for x in t.own_turns) for t in g}) > 1 for g in groups.values()]
    assert sum(differs) >= 6


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_executors_give_the_same_branches(executor):
    reference = [_key(t) for t in _maze_branches("sync")]
    assert [_key(t) for t in _maze_branches(executor, workers=2)] == reference


@pytest.mark.xdist_group("ray")  # one Ray instance at a time: a second ray.init joins it
def test_ray_gives_the_same_branches():
    ray = pytest.importorskip("ray")
    reference = [_key(t) for t in _maze_branches("sync")]
    try:
        # address="local": a new instance of its own, never a cluster another process started
        if ray.is_initialized():
            ray.shutdown()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        assert [_key(t) for t in _maze_branches("ray", workers=2)] == reference
    finally:
        ray.shutdown()


def test_a_rule_and_depth_grow_a_tree():
    asked: list[tuple[str, int]] = []

    def every_other_turn(traj: Trajectory, turn: int, info: Any) -> bool:
        asked.append((traj.id, turn))
        assert len(traj.turns) == turn and "state_key" in info
        return turn % 2 == 1

    trajs = list(
        rollout(
            "mtenvs/Sokoban-v0",
            RandomAgent(seed=1),
            2,
            num_envs=4,
            env_kwargs={"max_turns": 4},
            branch=Branching(turns=every_other_turn, n=2, depth=2),
        )
    )
    ids = {t.id for t in trajs}
    # Episodes branch at turns 1 and 3; their branches from turn 1 branch again at 3.
    assert {"0/1.0", "0/1.1", "0/3.0", "0/3.1", "0/1.0/3.0", "0/1.1/3.1"} <= ids
    assert not any(t.id.count("/") > 2 for t in trajs)
    nested = next(t for t in trajs if t.id == "0/1.0/3.1")
    assert nested.parent == "0/1.0" and nested.branch_turn == 3
    # A branch is not asked at its own branch turn, only after it.
    assert ("0/1.0", 1) not in asked and ("0/1.0", 2) in asked
    for traj in trajs:
        _replay(traj, lambda: gym.make("mtenvs/Sokoban-v0", max_turns=4))


def _limited_maze() -> gym.Env[Any, Any]:
    return TurnLimit(gym.make("mtenvs/Maze-v0", max_turns=20), max_turns=4)


@pytest.mark.parametrize("executor", ["sync", "process"])
def test_wrapper_state_travels_with_the_snapshot(executor):
    trajs = list(
        rollout(
            _limited_maze,
            RandomAgent(seed=0),
            2,
            num_envs=4,
            executor=executor,
            branch=Branching(turns=[2], n=2),
        )
    )
    assert len(trajs) == 6
    # TurnLimit's count is restored: a branch from turn 2 has 2 turns left, not 4.
    assert all(len(t.turns) == 4 and t.turns[-1].truncated for t in trajs)
    for traj in trajs:
        _replay(traj, _limited_maze)


class _PlainTextEnv(gym.Env[str, str]):
    """A Gymnasium env with no snapshot()."""

    observation_space = gym.spaces.Text(16)
    action_space = gym.spaces.Text(16)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        return "go", {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        return "done", 0.0, True, False, {}

    def random_action(self, rng: Any) -> str:
        return "x"


def test_an_env_without_snapshot_cannot_branch():
    with pytest.raises(BranchingError, match=r"cannot branch.*snapshot"):
        next(rollout(_PlainTextEnv, RandomAgent(), 1, branch=Branching(turns=[0], n=1)))
    # Without branching it plays as before.
    (traj,) = rollout(_PlainTextEnv, RandomAgent(), 1)
    assert traj.id == "0" and traj.parent is None and len(traj.turns) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"turns": "2"}, "list of turn numbers"),
        ({"turns": [1, -1]}, "ints >= 0"),
        ({"turns": [1], "n": 0}, "n"),
        ({"turns": [1], "depth": 0}, "depth"),
    ],
)
def test_bad_branching_names_the_problem(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        Branching(**kwargs)


def test_branch_must_be_a_branching():
    with pytest.raises(InvalidArgumentError, match="Branching"):
        next(rollout("mtenvs/Maze-v0", RandomAgent(), 1, branch=[2]))  # type: ignore[arg-type]


def test_branch_records_round_trip(tmp_path):
    datasets = pytest.importorskip("datasets")
    trajs = list(
        rollout(
            "mtenvs/Maze-v0",
            RandomAgent(seed=0),
            1,
            env_kwargs={"max_turns": 3},
            branch=Branching(turns=[0], n=2),
        )
    )
    assert [t.id for t in trajs] == ["0", "0/0.0", "0/0.1"]
    path = tmp_path / "branches.jsonl"
    write_jsonl(trajs, path)
    assert list(read_jsonl(path)) == trajs
    from mtenvs.rollout import to_hf_dataset

    to_hf = to_hf_dataset(trajs)
    assert isinstance(to_hf, datasets.Dataset) and to_hf["id"] == ["0", "0/0.0", "0/0.1"]
    assert to_hf["parent"] == [None, "0", "0"] and to_hf["branch_turn"] == [None, 0, 0]


def test_without_branching_ids_number_the_episodes():
    trajs = list(rollout("mtenvs/Maze-v0", RandomAgent(seed=0), 5, num_envs=2))
    assert sorted(int(t.id) for t in trajs) == list(range(5))
    assert all(t.parent is None and t.branch_turn is None for t in trajs)


def test_the_rollouts_page_shows_a_branch_rollout():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "rollouts.md").read_text()
    blocks = page.split("```python")[1:]
    assert any("branch=Branching(" in block.split("```")[0] for block in blocks)


class _VariableAgent:
    """Sets a variable in the REPL, then reads it back on every later turn."""

    name = "variable"

    def act(self, batch: Any) -> list[str]:
        replies = []
        for item in batch:
            turn = sum(m["role"] == "assistant" for m in item.messages)
            code = "x = 41" if turn == 0 else f"print(x + {turn})"
            replies.append(f"```python\n{code}\n```")
        return replies


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_sandbox_env_branches_with_its_interpreter_state(executor):
    trajs = list(
        rollout(
            "mtenvs/PythonMath-v0",
            _VariableAgent(),
            2,
            num_envs=2,
            executor=executor,
            env_kwargs={"max_turns": 3, "sandbox": "local"},
            branch=Branching(turns=[1], n=2),
        )
    )
    branches = [t for t in trajs if t.parent is not None]
    assert len(branches) == 4
    for branch in branches:
        # The restored REPL still holds x from the parent's first cell.
        assert "42" in branch.turns[2].observation and "NameError" not in str(branch.turns)
