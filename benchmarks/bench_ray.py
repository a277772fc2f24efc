"""Ray executor throughput: the same ``rollout(..., executor="ray")`` on a one-node and a
two-node Ray cluster, with a stand-in agent that costs a fixed 50 ms per batch.

Run from the repository root (needs ``pip install "mtenvs[ray]"``)::

    .venv/bin/python benchmarks/bench_ray.py          # --quick for a smoke run

Both clusters are Ray's own local test clusters (``ray.cluster_utils.Cluster``): separate
raylets, object stores and worker processes, reached with ``ray.init(address=…)`` exactly
as a real cluster is, but all on this machine. So the two-node rows measure what spreading
env workers over nodes costs (placement, cross-node calls), not a gain in cores: a real
second machine adds its cores, which this one cannot. Workloads:

* **Sokoban** (``mtenvs/Sokoban-v0``, ``max_turns`` 10, random moves): a cheap, CPU-bound
  step (~0.1 ms), so a round is the agent's 50 ms plus the Ray calls;
* **I/O-bound**: the same Sokoban behind a wrapper that sleeps 20 ms per step (a stand-in
  for a sandbox or a browser page), so a round is bounded by the envs per worker × 20 ms.

Per row: ``--warmup`` untimed rounds, then ``--rounds`` measured ones (one batched agent
call + one step of every env each); **turns/s** = turns in the window / its wall time,
**env overhead** = 1 − agent time / wall time; the table shows the median of ``--repeat``
runs (fresh seeds each) and **vs 1 node** = the two-node row's turns/s over the one-node
row's with the same workload and workers. **placement** counts the env workers per node
(read from the actors' Ray node ids). JSON: ``benchmarks/results/bench_ray.json``
(``bench_ray_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

# The helpers sit beside this file (benchmarks/ is no package).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
from bench_rollout import RoundClock, StandInAgent, drain

ENV_ID = "mtenvs/Sokoban-v0"
AGENT_SLEEP_S = 0.050
IO_STEP_S = 0.020
MAX_TURNS = 10
#: Seed distance between runs and rows: Sokoban caches generated levels per process.
SEED_STRIDE = 1_000_000
#: Custom resources naming the nodes, so placement can be reported per node.
HEAD, WORKER = "bench_head", "bench_worker"
#: Logical CPUs per node (Ray's scheduling unit; nothing is pinned).
NODE_CPUS = 2
OUR_PACKAGES = ("mtenvs", "gymnasium", "numpy", "ray")


class SlowStep(gym.Wrapper[Any, Any, Any, Any]):
    """Sleeps ``seconds`` per step: an I/O-bound env (the thread waits, the CPU is free)."""

    def __init__(self, env: gym.Env[Any, Any], seconds: float) -> None:
        super().__init__(env)
        self.seconds = seconds

    def step(self, action: Any) -> Any:
        time.sleep(self.seconds)
        return self.env.step(action)


def io_bound_sokoban() -> gym.Env[Any, Any]:
    """The I/O-bound workload's env factory (travels to the actors cloudpickled)."""
    return SlowStep(gym.make(ENV_ID, max_turns=MAX_TURNS), IO_STEP_S)


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    env: str | Callable[[], gym.Env[Any, Any]]
    num_envs: int
    workers: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)


def workloads(quick: bool) -> list[Workload]:
    sokoban_envs = 16 if quick else 64
    return [
        Workload(
            f"sokoban-{sokoban_envs}-w{w}",
            "Sokoban",
            ENV_ID,
            sokoban_envs,
            w,
            {"max_turns": MAX_TURNS},
        )
        for w in (2, 4)
    ] + [Workload("io-16-w4", f"I/O-bound ({1000 * IO_STEP_S:g} ms/step)", io_bound_sokoban, 16, 4)]


@dataclass
class Row:
    key: str
    nodes: int
    workload: str
    num_envs: int
    workers: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    placement: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def median(self, name: str) -> float | None:
        values = [r[name] for r in self.runs if r.get(name) is not None]
        return statistics.median(values) if values else None


def start_cluster(nodes: int) -> Any:
    """A local Ray cluster of ``nodes`` nodes with this process connected to it."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": NODE_CPUS, "resources": {HEAD: 1}, "include_dashboard": False},
    )
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=NODE_CPUS, resources={WORKER: 1})
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
    except BaseException:
        cluster.shutdown()
        raise
    return cluster


def node_names() -> dict[str, str]:
    """Node id -> ``head`` or ``worker`` for the connected cluster's live nodes."""
    import ray

    return {
        node["NodeID"]: ("head" if HEAD in node["Resources"] else "worker")
        for node in ray.nodes()
        if node["Alive"]
    }


def measure(
    w: Workload, *, rounds: int, warmup: int, seed: int
) -> tuple[dict[str, Any], list[str]]:
    """One run of ``w`` on the connected cluster: the window's numbers and the workers'
    node ids."""
    from mtenvs.rollout import rollout
    from mtenvs.rollout import workers as workers_module

    placed: list[str] = []

    class Recording(workers_module._RayGroup):
        def close(self) -> None:
            placed.extend(self.node_ids())
            super().close()

    clock = RoundClock(rounds, warmup, AGENT_SLEEP_S)
    agent = StandInAgent(clock, AGENT_SLEEP_S, seed, moves=True)
    original = workers_module._RayGroup
    workers_module._RayGroup = Recording  # type: ignore[misc]
    t0 = time.perf_counter()
    gen = rollout(
        w.env,
        agent,
        w.num_envs * (warmup + rounds + 2),
        num_envs=w.num_envs,
        seed=seed,
        env_kwargs=w.env_kwargs,
        executor="ray",
        workers=w.workers,
    )
    try:
        drain(gen, clock)
    finally:
        workers_module._RayGroup = original  # type: ignore[misc]
    startup = None if clock.t_open is None else clock.t_open - t0
    return clock.result(startup_s=startup), placed


def run_cluster(nodes: int, args: argparse.Namespace, rows: list[Row]) -> None:
    """Measure every workload ``args.repeat`` times on a fresh ``nodes``-node cluster."""
    import ray

    print(f"{nodes}-node cluster: starting …", file=sys.stderr, flush=True)
    try:
        cluster = start_cluster(nodes)
    except Exception as e:
        for row in rows:
            row.error = f"cluster start failed: {type(e).__name__}: {e}"
        return
    try:
        names = node_names()
        for i in range(args.repeat):
            for j, (row, w) in enumerate(zip(rows, workloads(args.quick))):
                if row.error:
                    continue
                print(f"  run {i + 1}: {w.key} …", file=sys.stderr, flush=True)
                seed = args.seed + SEED_STRIDE * (i * 10 + j) + nodes
                try:
                    result, placed = measure(w, rounds=args.rounds, warmup=args.warmup, seed=seed)
                except Exception as e:
                    row.error = f"{type(e).__name__}: {e}"
                    continue
                row.runs.append(result)
                row.placement = dict(Counter(names.get(n, n) for n in placed))
    finally:
        ray.shutdown()
        cluster.shutdown()


RUN_FIELDS = ("turns_per_s", "overhead", "env_ms_per_round", "round_ms", "wall_s", "startup_s")


def build_report(rows: list[Row], args: argparse.Namespace) -> dict[str, Any]:
    one = {r.key: r for r in rows if r.nodes == 1}
    out_rows = []
    for r in rows:
        record = asdict(r)
        record["runs"] = [{k: run.get(k) for k in RUN_FIELDS} for run in r.runs]
        for name in ("turns_per_s", "overhead", "env_ms_per_round"):
            record[f"median_{name}"] = r.median(name)
        base = one.get(r.key)
        tps, base_tps = r.median("turns_per_s"), base.median("turns_per_s") if base else None
        record["turns_per_s_vs_one_node"] = tps / base_tps if tps and base_tps else None
        out_rows.append(record)
    return {
        "benchmark": "bench_ray",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "env_id": ENV_ID,
            "max_turns": MAX_TURNS,
            "io_step_s": IO_STEP_S,
            "agent_sleep_s": AGENT_SLEEP_S,
            "node_cpus": NODE_CPUS,
            "rounds": args.rounds,
            "warmup_rounds": args.warmup,
            "repeat": args.repeat,
            "seed": args.seed,
            "cluster": "ray.cluster_utils.Cluster: every node on this machine",
        },
        "machine": common.machine_info(),
        "versions": common.versions_record(OUR_PACKAGES, {}),
        "rows": out_rows,
    }


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def print_report(report: dict[str, Any]) -> None:
    columns = [
        ("workload", "left"),
        ("nodes", "right"),
        ("envs", "right"),
        ("workers", "right"),
        ("turns/s", "right"),
        ("vs 1 node", "right"),
        ("env\noverhead", "right"),
        ("env ms\n/round", "right"),
        ("placement", "left"),
    ]
    ordered = sorted(report["rows"], key=lambda r: (r["key"], r["nodes"]))
    table, sections = [], []
    for i, r in enumerate(ordered):
        if i and r["key"] != ordered[i - 1]["key"]:
            sections.append(i)
        lead = [r["workload"], str(r["nodes"]), str(r["num_envs"]), str(r["workers"])]
        if r["error"] or not r["runs"]:
            table.append([*lead, "n/a", "n/a", "n/a", "n/a", r["error"] or "no run"])
            continue
        ratio = r["turns_per_s_vs_one_node"]
        placement = ", ".join(f"{n} {name}" for name, n in sorted(r["placement"].items()))
        table.append(
            [
                *lead,
                f"{r['median_turns_per_s']:,.0f}",
                "base" if r["nodes"] == 1 else common.fmt_ratio(ratio),
                fmt_pct(r["median_overhead"]),
                f"{r['median_env_ms_per_round']:.1f}",
                placement,
            ]
        )
    s = report["settings"]
    common.print_table(
        f"Ray executor, one node vs two (local test cluster, one machine): stand-in agent "
        f"sleeping {1000 * s['agent_sleep_s']:g} ms per batch; {s['warmup_rounds']} warm-up + "
        f"{s['rounds']} measured rounds, median of {s['repeat']} run(s)",
        columns,
        table,
        sections=sections,
    )


def run(args: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401
    except ImportError:
        print('bench_ray needs Ray: pip install "mtenvs[ray]"', file=sys.stderr)
        return 1
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    rows: list[Row] = []
    for nodes in (1, 2):
        mine = [Row(w.key, nodes, w.label, w.num_envs, w.workers) for w in workloads(args.quick)]
        run_cluster(nodes, args, mine)
        rows.extend(mine)
    report = build_report(rows, args)
    report["machine"]["loadavg_before"] = list(load_before)
    report["machine"]["loadavg_after"] = list(os.getloadavg())
    report["total_s"] = time.perf_counter() - t_start
    out = common.results_path("bench_ray", quick=args.quick, out=args.out)
    common.write_json(out, report)
    print_report(report)
    print(f"results: {out} ({report['total_s']:.0f} s)")
    return 1 if args.strict and any(r.error for r in rows) else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 16 Sokoban envs, 8 rounds, 1 run (JSON: bench_ray_quick.json)",
    )
    p.add_argument("--rounds", type=int, help="measured rounds per run (default 20; quick 8)")
    p.add_argument("--warmup", type=int, help="untimed rounds before the window (default 3)")
    p.add_argument("--repeat", type=int, help="runs per row, median shown (default 3; quick 1)")
    p.add_argument("--seed", type=int, default=0, help="first task seed")
    p.add_argument("--out", help="JSON path (default benchmarks/results/bench_ray.json)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a row failed")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (8 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.rounds < 1 or args.warmup < 0 or args.repeat < 1:
        p.error("--rounds and --repeat must be at least 1, --warmup at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
