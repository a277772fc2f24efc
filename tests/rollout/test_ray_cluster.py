"""The Ray executor on a multi-node cluster: Ray's own local test cluster (a head node and a
worker node, separate raylets on this machine), reached the way a real cluster is
(``ray.init(address=…)``), with no change to the ``rollout(...)`` call."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason='the Ray executor needs Ray: pip install "mtenvs[ray]"')
psutil = pytest.importorskip("psutil", reason="psutil (a Ray dependency) checks for leaks")

from ray.cluster_utils import Cluster  # noqa: E402

from mtenvs.agents import OracleAgent, RandomAgent  # noqa: E402
from mtenvs.rollout import Trajectory, rollout  # noqa: E402
from mtenvs.rollout import workers as workers_module  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # starting two raylets takes ~10 s
    # One Ray instance at a time on this machine: a ray.init() without an address joins the
    # latest cluster started here (Ray's address resolution), so Ray tests share one worker.
    pytest.mark.xdist_group("ray"),
]

#: A custom resource per node, so the test knows which node is which.
HEAD, WORKER = "mtenvs_test_head", "mtenvs_test_worker"


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """A 2-node cluster, this process connected to it; yields node id by resource name."""
    if ray.is_initialized():
        ray.shutdown()
    before = _children()
    cluster = Cluster(
        initialize_head=True,
        # Logical CPUs (nothing is reserved): with this many, Ray's default scheduling packs
        # the env workers onto the head node, which the executor must not leave it to do.
        head_node_args={"num_cpus": 16, "resources": {HEAD: 1}, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=16, resources={WORKER: 1})
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        nodes = {
            name: node["NodeID"]
            for node in ray.nodes()
            if node["Alive"]
            for name in (HEAD, WORKER)
            if name in node["Resources"]
        }
        assert set(nodes) == {HEAD, WORKER}
        yield nodes
    finally:
        ray.shutdown()
        cluster.shutdown()
    # Ray's processes end a moment after shutdown; none may outlive the test module.
    deadline = time.monotonic() + 20
    while (left := _children() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left after cluster shutdown: {left}"


def _key(traj: Trajectory) -> tuple[Any, ...]:
    return (
        traj.env_id,
        traj.seed,
        traj.task_id,
        traj.group,
        traj.success,
        [(t.observation, t.reply, t.reward, t.reward_components, t.state_key) for t in traj.turns],
    )


@pytest.fixture
def node_ids(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The node ids of every Ray group's env workers, recorded before the group closes."""
    seen: list[list[str]] = []

    class Recording(workers_module._RayGroup):
        def close(self) -> None:
            seen.append(self.node_ids())
            super().close()

    monkeypatch.setattr(workers_module, "_RayGroup", Recording)
    return seen


def test_same_rollout_call_runs_on_a_two_node_cluster(
    cluster: dict[str, str], node_ids: list[list[str]]
) -> None:
    kwargs: dict[str, Any] = {"env_kwargs": {"max_turns": 6}, "num_envs": 4, "seed": 3}
    reference = [
        _key(t)
        for t in rollout("mtenvs/Maze-v0", RandomAgent(seed=1), 8, executor="sync", **kwargs)
    ]
    got = [
        _key(t)
        for t in rollout(
            "mtenvs/Maze-v0", RandomAgent(seed=1), 8, executor="ray", **kwargs, workers=4
        )
    ]
    assert got == reference
    # The agent reaches the env through the workers (oracle_action on the remote env).
    oracle = list(
        rollout("mtenvs/Sokoban-v0", OracleAgent(), 4, num_envs=4, executor="ray", workers=4)
    )
    assert [_key(t) for t in oracle] == [
        _key(t) for t in rollout("mtenvs/Sokoban-v0", OracleAgent(), 4, num_envs=4)
    ]
    assert all(t.success for t in oracle)
    # In every rollout the env workers took the nodes in turn: two on each.
    assert len(node_ids) == 2
    for ids in node_ids:
        assert Counter(ids) == {cluster[HEAD]: 2, cluster[WORKER]: 2}, ids
