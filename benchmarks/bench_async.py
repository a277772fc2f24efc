"""Async collection benchmark: ``rollout(..., schedule="async")`` against the lock-step
engine on a mixed-latency set of envs, with a stand-in agent whose latency grows with its
batch (a GPU-like cost: ``20 ms + 2 ms x batch``).

Run from the repository root::

    .venv/bin/python benchmarks/bench_async.py           # 64 envs, 192 episodes, 3 repeats
    .venv/bin/python benchmarks/bench_async.py --quick   # 32 envs, 64 episodes, 1 repeat

The env set (``--mix``, default 40 slow : 16 grid : 8 code out of every 64 tasks):

* **slow**: a stand-in for web pages and other remote tools, :class:`LatencyEnv`: each step
  sleeps a heavy-tailed time (log-normal, median 40 ms, sigma 1, capped at 2 s: most steps
  are quick, a few take seconds) drawn from the episode's seed, 3 to 8 turns. The real web
  envs need Chromium and the site containers, too heavy for this 2-core machine's CI;
* **grid**: ``mtenvs/Sokoban-v0`` (8 turns at most), pure-Python steps in microseconds;
* **code**: ``mtenvs/PythonMath-v0`` with ``sandbox="local"`` (a Python REPL per env in a
  subprocess; 4 turns at most), steps of 0.1 to 0.5 s.

The agent's replies are random legal moves drawn from a generator seeded by the
conversation, so both schedules play the same trajectories (checked every run: the
benchmark fails if any differs) and the same number of turns. Per row: **turns/s** = turns
played / wall time from the first ``next()`` to the last trajectory (resets, sandbox starts
and all), the agent calls, their mean batch and the agent's busy share of wall time (a GPU's
utilisation). Rows alternate (lock-step, async, lock-step, …); the table gives medians and
the async / lock-step ratio of the medians against the 1.5× target (issue 21, item 1).
No peer rows: DART and VerlTool's async rollouts are built into their trainers and need a
GPU server; their scheme (continuous batching) is what ``schedule="async"`` does.

JSON: ``benchmarks/results/bench_async.json`` (``bench_async_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
import gymnasium as gym
import numpy as np

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import AgentInput
from mtenvs.core.agent import message_text
from mtenvs.rollout import rollout

TARGET_RATIO = 1.5
AGENT_BASE_S = 0.020
AGENT_PER_ITEM_S = 0.002
PACKAGES = ("mtenvs", "gymnasium", "numpy")


class LatencyEnv(gym.Env[str, str]):
    """A stand-in for a remote tool: each step sleeps a heavy-tailed time (log-normal,
    median ``median_s``, ``sigma``, capped at ``cap_s``); 3 to 8 turns; all from the seed."""

    observation_space = gym.spaces.Text(64)
    action_space = gym.spaces.Text(64)

    def __init__(self, median_s: float = 0.040, sigma: float = 1.0, cap_s: float = 2.0) -> None:
        self.median_s, self.sigma, self.cap_s = median_s, sigma, cap_s

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._turns = int(self.np_random.integers(3, 9))
        self._turn = 0
        return "page 0", {"system_prompt": "Browse."}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        delay = self.np_random.lognormal(math.log(self.median_s), self.sigma)
        time.sleep(min(self.cap_s, float(delay)))
        self._turn += 1
        done = self._turn >= self._turns
        return f"page {self._turn} after {action}", float(done), done, False, {"success": done}

    def random_action(self, rng: np.random.Generator) -> str:
        return f"click {int(rng.integers(100))}"


class StandInAgent:
    """Sleeps ``base + per_item x batch`` per call, then replies with random legal moves
    drawn from a generator seeded by each conversation (so a reply depends on its input
    only)."""

    name = "stand-in"

    def __init__(self, base_s: float, per_item_s: float) -> None:
        self.base_s, self.per_item_s = base_s, per_item_s
        self.batches: list[int] = []
        self.busy_s = 0.0

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        start = time.perf_counter()
        self.batches.append(len(batch))
        replies = []
        for item in batch:
            text = "\n".join(message_text(m) for m in item.messages)
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            replies.append(item.env.random_action(rng))
        # The rest of the modelled call's time (the replies above are part of it).
        time.sleep(
            max(0.0, self.base_s + self.per_item_s * len(batch) - (time.perf_counter() - start))
        )
        self.busy_s += time.perf_counter() - start
        return replies


def make_tasks(mix: dict[str, int], episodes: int, seed: int) -> list[tuple[Any, int]]:
    """``episodes`` tasks cycling through the mix, each kind with its own seeds."""
    factories: dict[str, Any] = {
        "slow": LatencyEnv,
        "grid": functools.partial(gym.make, "mtenvs/Sokoban-v0", max_turns=8),
        "code": functools.partial(gym.make, "mtenvs/PythonMath-v0", sandbox="local", max_turns=4),
    }
    cycle = [kind for kind, n in mix.items() for _ in range(n)]
    counts = dict.fromkeys(mix, 0)
    tasks: list[tuple[Any, int]] = []
    for k in range(episodes):
        kind = cycle[k % len(cycle)]
        tasks.append((factories[kind], seed + counts[kind]))
        counts[kind] += 1
    return tasks


def run_once(
    schedule: Literal["lockstep", "async"], tasks: list[tuple[Any, int]], num_envs: int
) -> tuple[dict, dict]:
    agent = StandInAgent(AGENT_BASE_S, AGENT_PER_ITEM_S)
    start = time.perf_counter()
    trajs = list(
        rollout(None, agent, tasks=tasks, num_envs=num_envs, executor="thread", schedule=schedule)
    )
    wall = time.perf_counter() - start
    turns = sum(len(t.turns) for t in trajs)
    env_s = sorted(turn.env_s for t in trajs for turn in t.turns)
    row = {
        "schedule": schedule,
        "wall_s": wall,
        "turns": turns,
        "episodes": len(trajs),
        "turns_per_s": turns / wall,
        "agent_calls": len(agent.batches),
        "mean_batch": statistics.mean(agent.batches),
        "agent_busy": agent.busy_s / wall,
        "env_step_median_ms": 1000 * common.percentile(env_s, 50),
        "env_step_p99_ms": 1000 * common.percentile(env_s, 99),
    }
    print(
        f"{schedule}: {turns / wall:.1f} turns/s ({turns} turns, {wall:.1f} s, "
        f"{len(agent.batches)} agent calls)",
        file=sys.stderr,
        flush=True,
    )
    return row, {t.id: t.to_dict(timings=False) for t in trajs}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 envs, 64 episodes, 1 repeat")
    parser.add_argument("--envs", type=int, default=None, help="episodes in flight (64)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes per row (192)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per schedule (3)")
    parser.add_argument("--mix", default="slow:40,grid:16,code:8", help="kind:share,...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON path (default benchmarks/results/bench_async.json)")
    parser.add_argument("--check", action="store_true", help="exit 1 below the 1.5x target")
    args = parser.parse_args(argv)
    envs = args.envs or (32 if args.quick else 64)
    episodes = args.episodes or (64 if args.quick else 192)
    repeat = args.repeat or (1 if args.quick else 3)
    mix = {kind: int(n) for kind, n in (part.split(":") for part in args.mix.split(","))}

    rows: list[dict[str, Any]] = []
    for r in range(repeat):
        tasks = make_tasks(mix, episodes, args.seed + 10_000 * r)
        lockstep, expected = run_once("lockstep", tasks, envs)
        asynchronous, got = run_once("async", tasks, envs)
        if got != expected:
            print("async trajectories differ from lock-step ones", file=sys.stderr)
            return 1
        rows += [{**lockstep, "run": r}, {**asynchronous, "run": r}]

    def median(schedule: str, key: str) -> float:
        return statistics.median(row[key] for row in rows if row["schedule"] == schedule)

    ratio = median("async", "turns_per_s") / median("lockstep", "turns_per_s")
    results = {
        "benchmark": "bench_async",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "envs": envs,
            "episodes": episodes,
            "repeat": repeat,
            "mix": mix,
            "agent_s": f"{AGENT_BASE_S} + {AGENT_PER_ITEM_S} x batch",
            "slow_env": "log-normal step latency, median 40 ms, sigma 1, cap 2 s, 3-8 turns",
            "executor": "thread",
        },
        "same_trajectories": True,
        "ratio_async_vs_lockstep": ratio,
        "target_ratio": TARGET_RATIO,
        "machine": common.machine_info(),
        "versions": {"ours": common.package_versions(PACKAGES)},
        "rows": rows,
    }
    common.write_json(common.results_path("bench_async", quick=args.quick, out=args.out), results)
    table = []
    for schedule in ("lockstep", "async"):
        table.append(
            [
                schedule,
                f"{median(schedule, 'turns_per_s'):.1f}",
                f"{median(schedule, 'wall_s'):.1f}",
                f"{median(schedule, 'agent_calls'):.0f}",
                f"{median(schedule, 'mean_batch'):.1f}",
                f"{100 * median(schedule, 'agent_busy'):.0f} %",
                common.fmt_ratio(
                    median(schedule, "turns_per_s") / median("lockstep", "turns_per_s")
                ),
            ]
        )
    common.print_table(
        f"Async vs lock-step collection: {envs} envs ({args.mix}), {episodes} episodes, "
        f"agent {AGENT_BASE_S * 1000:.0f} ms + {AGENT_PER_ITEM_S * 1000:.0f} ms x batch, "
        f"median of {repeat}",
        [
            ("schedule", "left"),
            ("turns/s", "right"),
            ("wall s", "right"),
            ("agent calls", "right"),
            ("mean batch", "right"),
            ("agent busy", "right"),
            ("vs lock-step", "right"),
        ],
        table,
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"async / lock-step turns/s: {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    return 1 if args.check and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
