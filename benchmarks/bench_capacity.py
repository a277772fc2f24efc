"""Capacity on this machine: 1,000 concurrent cheap episodes, 64 sandboxed code episodes, and
the process's memory over 10,000 episodes.

Run from the repository root (``make bench`` runs it)::

    .venv/bin/python benchmarks/bench_capacity.py           # about 3 min on 2 cores
    .venv/bin/python benchmarks/bench_capacity.py --quick   # smoke run, about 1 min

Three parts, each in this process (see benchmarks/README.md):

* **cheap**: ``rollout("mtenvs/Sokoban-v0", agent, num_envs=1000, executor="sync")`` with the
  stand-in agent of ``bench_rollout.py`` (a fixed 50 ms sleep per batch, random moves), a
  window of ``--rounds`` lock-step rounds after ``--warmup``: turns/s, env overhead, and the
  process's RSS before the rollout, at its peak (sampled every 50 ms) and after it closed;
  memory per episode = (peak − before) / 1000 (the engine's default ``prefetch`` keeps as
  many spare envs as slots, reset ahead: they are counted in).
* **code**: ``rollout("mtenvs/PythonCode-v0", agent, num_envs=64, executor="thread")`` with
  ``sandbox="docker"`` (one container per sandbox) and ``sandbox="local"`` (the embedded
  REPL processes); the agent (the same 50 ms sleep) sends ``--cells`` code cells, then the
  oracle's answer. A sampler thread counts this process's sandboxes (containers labelled
  with its pid; REPL processes among its children) and reads each one's memory (the
  container's or sandbox's cgroup, ``usage − inactive file`` as ``docker stats`` shows it).
  After the rollout every container this process started must be gone
  (``leftover_containers``).
* **leak** (run first, on the fresh process's memory): ``--leak-episodes`` short Sokoban
  episodes (``max_turns=5``, 64 envs, an agent that does not sleep), RSS sampled every
  1,000 finished episodes; the slope of a least-squares line through the samples from
  episode 2,000 on (the level and solver caches are full by then) says whether memory
  stays flat.

The machine this runs on is shared (other jobs load its 2 cores): the JSON records the load
averages before and after. JSON: ``benchmarks/results/bench_capacity.json``
(``bench_capacity_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
import bench_rollout

import mtenvs  # noqa: F401  (registers the ids)

CHEAP_ENV = "mtenvs/Sokoban-v0"
CODE_ENV = "mtenvs/PythonCode-v0"
CHEAP_ENVS = 1000
CODE_ENVS = 64
LEAK_EPISODES = 10_000
LEAK_EVERY = 1_000
#: Leak samples from this many episodes on enter the slope (caches fill before).
LEAK_FROM = 2_000
#: A slope below this many MiB per 1,000 episodes counts as flat (0.1 MiB: about 100 bytes
#: an episode, far below one episode's trajectory).
FLAT_MIB_PER_1000 = 0.1
CELL = "```python\nx = sum(i * i for i in range(1000))\nprint(x)\n```"
OUR_PACKAGES = ("mtenvs", "gymnasium", "numpy", "docker", "psutil")
MIB = 2**20


# --------------------------------------------------------------------------- memory


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (default: this process), from ``/proc``."""
    with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def mem_available() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def cgroup_memory(directory: Path) -> int | None:
    """Memory of a cgroup as ``docker stats`` shows it: usage − inactive file cache (v1:
    ``memory.usage_in_bytes`` and ``total_inactive_file``; v2: ``memory.current`` and
    ``inactive_file``); ``None`` when it cannot be read."""
    for usage_name, inactive_key in (
        ("memory.usage_in_bytes", "total_inactive_file"),
        ("memory.current", "inactive_file"),
    ):
        try:
            usage = int((directory / usage_name).read_text())
            stat = (directory / "memory.stat").read_text().split()
        except OSError:
            continue
        fields = dict(zip(stat[::2], stat[1::2], strict=False))
        return usage - int(fields.get(inactive_key, 0))
    return None


def container_cgroup(container_id: str) -> Path | None:
    """The memory cgroup folder of a Docker container (cgroupfs v1, systemd or v2 layout)."""
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope",
        f"/sys/fs/cgroup/docker/{container_id}",
    ):
        if Path(path).is_dir():
            return Path(path)
    return None


def local_sandbox_cgroups() -> list[Path]:
    """This process's local-sandbox cgroups (named ``mtenvs-local-…-<pid>-…``)."""
    pid = str(os.getpid())
    found = []
    for root in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")):
        with contextlib.suppress(OSError):
            for path in root.glob("**/mtenvs-local-*"):
                parts = path.name.split("-")
                if len(parts) > 3 and parts[3] == pid and path.is_dir():
                    found.append(path)
        if found:
            break
    return found


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ``ys`` over ``xs`` (``None`` with fewer than 2 points)."""
    if len(xs) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


class Sampler:
    """Calls ``probe`` every ``every_s`` seconds in a thread until stopped; keeps the results."""

    def __init__(self, probe: Callable[[], dict[str, Any]], every_s: float) -> None:
        self.probe, self.every_s = probe, every_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="capacity-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a container gone mid-read
                self.samples.append({"t": time.perf_counter(), **self.probe()})
            self._stop.wait(self.every_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- cheap


def measure_cheap(args: argparse.Namespace) -> dict[str, Any]:
    """1,000 concurrent Sokoban episodes in one rollout (see the module doc)."""
    gc.collect()
    before = rss_bytes()
    with Sampler(lambda: {"rss": rss_bytes()}, 0.05) as sampler:
        t0 = time.perf_counter()
        timing = bench_rollout.measure_engine(
            CHEAP_ENV,
            args.cheap_envs,
            "sync",
            rounds=args.rounds,
            warmup=args.warmup,
            seed=args.seed,
            env_kwargs={"max_turns": args.max_turns},
            sleep_s=args.sleep,
        )
        total = time.perf_counter() - t0
    gc.collect()
    after = rss_bytes()
    peak = max((s["rss"] for s in sampler.samples), default=after)
    return {
        "env_id": CHEAP_ENV,
        "num_envs": args.cheap_envs,
        "executor": "sync",
        "max_turns": args.max_turns,
        **timing,
        "run_s": total,
        "rss_before_mib": before / MIB,
        "rss_peak_mib": peak / MIB,
        "rss_after_mib": after / MIB,
        "mem_per_episode_kib": (peak - before) / args.cheap_envs / 1024,
    }


# --------------------------------------------------------------------------- code


class CodeAgent:
    """The stand-in agent for code episodes: sleeps ``sleep_s`` per batch, then sends each
    episode ``cells`` code cells and then the oracle's answer."""

    name = "stand-in-code"

    def __init__(self, sleep_s: float, cells: int) -> None:
        self.sleep_s, self.cells = sleep_s, cells
        self.calls = 0
        self.batches: list[int] = []

    def act(self, batch: Sequence[Any]) -> list[str]:
        self.calls += 1
        self.batches.append(len(batch))
        time.sleep(self.sleep_s)
        return [CELL if item.env.turn < self.cells else item.env.oracle_action() for item in batch]


def docker_client() -> Any | None:
    try:
        from mtenvs.sandbox import resolve_backend
        from mtenvs.sandbox.engine import docker_client as client

        if resolve_backend("auto").backend != "docker":
            return None
        return client()
    except Exception:
        return None


def own_containers(client: Any) -> list[Any]:
    """The mtenvs containers this process started (running or not)."""
    from mtenvs.sandbox.reaper import LABEL_OWNER, list_containers

    return list_containers(client, **{LABEL_OWNER: str(os.getpid())})


def sandbox_probe(backend: str, client: Any | None) -> Callable[[], dict[str, Any]]:
    """A sampler probe: how many sandboxes this process has now and each one's memory."""
    import psutil

    me = psutil.Process()

    def probe() -> dict[str, Any]:
        children = me.children(recursive=True)
        tree_rss = sum(_rss(p) for p in children)
        if backend == "docker":
            assert client is not None
            ids = [c.id for c in own_containers(client) if c.status == "running"]
            dirs = [d for d in map(container_cgroup, ids) if d is not None]
        else:
            # One cgroup per local sandbox where this process may make them (root); else
            # its REPL server processes (a sandbox may run more than one).
            dirs = local_sandbox_cgroups()
            ids = [str(d) for d in dirs] or [str(p.pid) for p in children if _is_repl(p)]
        mems = [m for m in map(cgroup_memory, dirs) if m is not None]
        return {
            "sandboxes": len(ids),
            "processes": len(children),
            "cgroup_mem": mems,
            "children_rss": tree_rss,
            "rss": rss_bytes(),
            "mem_available": mem_available(),
        }

    return probe


def _rss(process: Any) -> int:
    try:
        return int(process.memory_info().rss)
    except Exception:
        return 0


def _is_repl(process: Any) -> bool:
    """Whether a child process is a local sandbox's REPL server: the Python process running
    ``repl_server.py`` (not the ``sh`` / ``unshare`` wrappers that carry it as an argument)."""
    try:
        cmdline = process.cmdline()
    except Exception:
        return False
    return (
        bool(cmdline)
        and Path(cmdline[0]).name.startswith("python")
        and any(part.endswith("repl_server.py") for part in cmdline)
    )


def measure_code(args: argparse.Namespace, backend: str, client: Any | None) -> dict[str, Any]:
    """``--code-envs`` concurrent PythonCode episodes on ``backend`` (see the module doc)."""
    import psutil

    from mtenvs.rollout import rollout

    episodes = args.code_envs * args.code_waves
    agent = CodeAgent(args.sleep, args.cells)
    gc.collect()
    free_before = mem_available()
    rss_before = rss_bytes()
    turns = wins = done = 0
    with Sampler(sandbox_probe(backend, client), 1.0) as sampler:
        t0 = time.perf_counter()
        first = None
        for traj in rollout(
            CODE_ENV,
            agent,
            episodes,
            num_envs=args.code_envs,
            executor="thread",
            env_kwargs={"sandbox": backend, "eval_set": True},
        ):
            first = first or time.perf_counter() - t0
            done += 1
            turns += len(traj.turns)
            wins += bool(traj.success)
        wall = time.perf_counter() - t0
    leftover = len(own_containers(client)) if backend == "docker" and client else 0
    leftover_processes = sum(1 for p in psutil.Process().children(recursive=True) if _is_repl(p))
    samples = sampler.samples
    peak = max(samples, key=lambda s: s["sandboxes"], default=None)
    host_used = free_before - min((s["mem_available"] for s in samples), default=free_before)
    mems = (peak or {}).get("cgroup_mem") or []
    return {
        "env_id": CODE_ENV,
        "backend": backend,
        "num_envs": args.code_envs,
        "episodes": done,
        "turns": turns,
        "success_rate": wins / max(done, 1),
        "wall_s": wall,
        "first_episode_s": first,
        "episodes_per_s": done / wall,
        "turns_per_s": turns / wall,
        "agent_calls": agent.calls,
        "max_batch": max(agent.batches, default=0),
        "peak_sandboxes": peak["sandboxes"] if peak else 0,
        "sandbox_mem_median_mib": statistics.median(mems) / MIB if mems else None,
        "sandbox_mem_max_mib": max(mems) / MIB if mems else None,
        "sandbox_mem_measured": len(mems),
        "peak_processes": max((s["processes"] for s in samples), default=0),
        # Summed RSS counts pages the forked processes share once per process.
        "children_rss_sum_peak_mib": max((s["children_rss"] for s in samples), default=0) / MIB,
        "host_mem_used_peak_mib": host_used / MIB,
        "host_mem_per_episode_mib": host_used / args.code_envs / MIB,
        "rss_before_mib": rss_before / MIB,
        "rss_peak_mib": max((s["rss"] for s in samples), default=rss_before) / MIB,
        "leftover_containers": leftover,
        "leftover_repl_processes": leftover_processes,
        "samples": len(samples),
    }


# --------------------------------------------------------------------------- leak


class QuickAgent:
    """Random moves at once (no sleep): the leak run is about memory, not overlap."""

    name = "random-moves"

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)

    def act(self, batch: Sequence[Any]) -> list[str]:
        moves = self.rng.choice(bench_rollout.DIRECTIONS, len(batch))
        return [f"<action>{m}</action>" for m in moves]


def measure_leak(args: argparse.Namespace) -> dict[str, Any]:
    """RSS every ``LEAK_EVERY`` episodes over ``--leak-episodes`` short Sokoban episodes."""
    from mtenvs.rollout import rollout

    gc.collect()
    samples = [{"episodes": 0, "rss_mib": rss_bytes() / MIB, "t": 0.0}]
    t0 = time.perf_counter()
    done = 0
    for _ in rollout(
        CHEAP_ENV,
        QuickAgent(args.seed),
        args.leak_episodes,
        num_envs=64,
        seed=args.seed + 5_000_000,
        env_kwargs={"max_turns": 5},
    ):
        done += 1
        if done % LEAK_EVERY == 0:
            samples.append(
                {"episodes": done, "rss_mib": rss_bytes() / MIB, "t": time.perf_counter() - t0}
            )
    wall = time.perf_counter() - t0
    late = [s for s in samples if s["episodes"] >= min(LEAK_FROM, args.leak_episodes // 2)]
    per_1000 = slope([s["episodes"] / 1000 for s in late], [s["rss_mib"] for s in late])
    return {
        "env_id": CHEAP_ENV,
        "episodes": done,
        "num_envs": 64,
        "max_turns": 5,
        "wall_s": wall,
        "samples": samples,
        "slope_from_episode": late[0]["episodes"] if late else None,
        "slope_mib_per_1000": per_1000,
        "slope_all_mib_per_1000": slope(
            [s["episodes"] / 1000 for s in samples], [s["rss_mib"] for s in samples]
        ),
        "growth_mib": samples[-1]["rss_mib"] - samples[0]["rss_mib"],
        "flat_threshold_mib_per_1000": FLAT_MIB_PER_1000,
        "flat": per_1000 is not None and per_1000 < FLAT_MIB_PER_1000,
    }


# --------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def print_report(report: dict[str, Any]) -> None:
    rows: list[list[str]] = []
    cheap = report.get("cheap")
    if cheap:
        rows.append(
            [
                f"{cheap['num_envs']:,} Sokoban episodes (sync)",
                f"{cheap['turns_per_s']:,.0f} turns/s",
                f"env overhead {100 * cheap['overhead']:.1f}%",
                f"{cheap['mem_per_episode_kib']:.0f} KiB/episode",
                f"RSS {cheap['rss_before_mib']:.0f} → peak {cheap['rss_peak_mib']:.0f} → "
                f"after {cheap['rss_after_mib']:.0f} MiB",
            ]
        )
    for code in report.get("code", []):
        if "error" in code:
            rows.append(
                [f"{CODE_ENVS} code episodes ({code['backend']})", "error", "", "", code["error"]]
            )
            continue
        rows.append(
            [
                f"{code['num_envs']} PythonCode episodes ({code['backend']})",
                f"{code['turns_per_s']:,.1f} turns/s",
                f"{code['peak_sandboxes']} sandboxes at peak",
                fmt(code["sandbox_mem_median_mib"], 1, " MiB/sandbox"),
                f"{code['episodes']} episodes in {code['wall_s']:.1f} s, success "
                f"{code['success_rate']:.0%}; host memory {code['host_mem_per_episode_mib']:.0f} "
                f"MiB/episode; left over: {code['leftover_containers']} containers, "
                f"{code['leftover_repl_processes']} REPL processes",
            ]
        )
    leak = report.get("leak")
    if leak:
        rows.append(
            [
                f"{leak['episodes']:,} short Sokoban episodes",
                f"{leak['episodes'] / leak['wall_s']:,.0f} episodes/s",
                f"slope {fmt(leak['slope_mib_per_1000'], 3)} MiB/1,000",
                "flat" if leak["flat"] else "GROWS",
                f"RSS {leak['samples'][0]['rss_mib']:.0f} → {leak['samples'][-1]['rss_mib']:.0f} "
                f"MiB (slope from episode {leak['slope_from_episode']:,})",
            ]
        )
    common.print_table(
        "Capacity (loaded 2-core machine; see load averages in the JSON)",
        [
            ("run", "left"),
            ("throughput", "right"),
            ("", "right"),
            ("memory", "right"),
            ("notes", "left"),
        ],
        rows,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, episodes, waves")
    parser.add_argument("--parts", default="cheap,code,leak", help="which parts to run")
    parser.add_argument("--cheap-envs", type=int, default=CHEAP_ENVS)
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (60; quick 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-turns", type=int, default=30)
    parser.add_argument("--sleep", type=float, default=bench_rollout.AGENT_SLEEP_S)
    parser.add_argument("--code-envs", type=int, default=CODE_ENVS)
    parser.add_argument("--code-waves", type=int, default=None, help="episodes per slot (2)")
    parser.add_argument("--cells", type=int, default=2, help="code cells before the answer")
    parser.add_argument(
        "--backends", default="docker,local", help="sandboxes of the code part ('docker,local')"
    )
    parser.add_argument("--leak-episodes", type=int, default=None, help="10,000; quick 3,000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (20 if args.quick else 60)
    args.code_waves = args.code_waves or (1 if args.quick else 2)
    args.leak_episodes = args.leak_episodes or (3_000 if args.quick else LEAK_EPISODES)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    load_before = os.getloadavg()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "benchmark": "bench_capacity",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "machine": common.machine_info(),
        "versions": common.package_versions(OUR_PACKAGES),
    }
    # The leak run first: memory the later parts free stays in CPython's allocator, and
    # reusing it would hide a slow growth.
    if "leak" in parts:
        print(f"leak: RSS over {args.leak_episodes:,} short episodes …", flush=True)
        report["leak"] = measure_leak(args)
    if "cheap" in parts:
        print(f"cheap: {args.cheap_envs} concurrent {CHEAP_ENV} episodes …", flush=True)
        report["cheap"] = measure_cheap(args)
    if "code" in parts:
        client = docker_client()
        report["code"] = []
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            print(
                f"code: {args.code_envs} concurrent {CODE_ENV} episodes ({backend}) …", flush=True
            )
            if backend == "docker" and client is None:
                report["code"].append({"backend": backend, "error": "Docker is not usable here"})
                continue
            try:
                report["code"].append(measure_code(args, backend, client))
            except Exception as e:  # a row that cannot run shows why, the others go on
                report["code"].append({"backend": backend, "error": f"{type(e).__name__}: {e}"})
    report["load_average_before"] = load_before
    report["load_average_after"] = os.getloadavg()
    report["run_s"] = time.perf_counter() - started
    report["targets"] = targets(report, args)
    out = common.results_path("bench_capacity", quick=args.quick, out=args.out)
    common.write_json(out, report)
    print_report(report)
    for name, verdict in report["targets"].items():
        print(f"{name}: {verdict['value']} — {'met' if verdict['met'] else 'NOT met'}")
    print(f"results: {out} ({report['run_s']:.0f} s)")
    missed = any(not v["met"] for v in report["targets"].values())
    return 1 if args.check and missed else 0


def targets(report: dict[str, Any], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Issue 21, item 5: 1,000 concurrent cheap episodes, 64 sandboxed code episodes, RSS
    flat over 10,000 episodes."""
    out: dict[str, dict[str, Any]] = {}
    cheap = report.get("cheap")
    if cheap:
        out["1,000 concurrent cheap episodes"] = {
            "value": f"{cheap['num_envs']} envs, {cheap['turns_per_s']:,.0f} turns/s",
            "met": cheap["num_envs"] >= CHEAP_ENVS and cheap["turns"] > 0,
        }
    for code in report.get("code", []):
        ok = "error" not in code
        out[f"64 sandboxed code episodes ({code['backend']})"] = {
            "value": code.get("error")
            or f"{code['num_envs']} envs, {code['peak_sandboxes']} sandboxes at peak, "
            f"{code['leftover_containers']} left over",
            "met": ok
            and code["num_envs"] >= CODE_ENVS
            and code["episodes"] == code["num_envs"] * args.code_waves
            and code["leftover_containers"] == 0
            and code["leftover_repl_processes"] == 0,
        }
    leak = report.get("leak")
    if leak:
        out[f"RSS flat over {leak['episodes']:,} episodes"] = {
            "value": f"{fmt(leak['slope_mib_per_1000'], 3)} MiB per 1,000 episodes",
            "met": leak["flat"] and leak["episodes"] >= LEAK_EPISODES,
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
