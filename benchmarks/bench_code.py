"""PythonCode speed: latency of a code turn and of an answer turn, oracle episodes/s.

    .venv/bin/python benchmarks/bench_code.py [--steps 200] [--episodes 160] [--quick]

Measured for DockerSandbox and LocalSandbox (Docker is skipped when unusable):
* ``env.step`` of a code turn (one ```python cell, the observation rendered), warm sandbox;
* ``env.step`` of an answer turn (host precheck, verifier reset, harness, host judging);
* episodes per second of the oracle on 16 envs in parallel,
  ``mtenvs.rollout.rollout(..., num_envs=16, executor="thread")`` on the eval set, sandbox
  start-up included (each env starts its agent sandbox lazily and its verifier at the
  first answer: the oracle never runs code, so only verifiers start).
Writes benchmarks/results/bench_code.json (bench_code_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

RESULTS = Path(__file__).resolve().parent / "results" / "bench_code.json"
QUICK_RESULTS = RESULTS.with_name("bench_code_quick.json")
CELL = "```python\nx = sum(i * i for i in range(1000))\nprint(x)\n```"


def docker_usable() -> bool:
    from mtenvs.sandbox import resolve_backend

    return resolve_backend("auto").backend == "docker"


def step_latencies(backend: str, steps: int) -> dict[str, dict[str, float]]:
    from mtenvs.envs.code.code_env import PythonCodeEnv

    env = PythonCodeEnv(sandbox=backend, eval_set=True, max_turns=steps + 10, feedback="tests")
    env.reset(seed=0)
    env.step(CELL)  # start the sandbox
    code_ns = []
    for _ in range(steps):
        t = time.perf_counter_ns()
        env.step(CELL)
        code_ns.append(time.perf_counter_ns() - t)
    answer_ns = []
    for i in range(max(10, steps // 4)):
        env.reset(seed=i)
        t = time.perf_counter_ns()
        env.step(env.oracle_action())
        answer_ns.append(time.perf_counter_ns() - t)
    env.close()
    return {
        "code_turn": common.summarize_ns(code_ns),
        "answer_turn": common.summarize_ns(answer_ns),
    }


def oracle_throughput(backend: str, episodes: int) -> dict[str, float]:
    from mtenvs.agents import OracleAgent
    from mtenvs.rollout import rollout

    start = time.perf_counter()
    first = None
    n = wins = 0
    for traj in rollout(
        "mtenvs/PythonCode-v0",
        OracleAgent(),
        episodes,
        num_envs=16,
        executor="thread",
        env_kwargs={"sandbox": backend, "eval_set": True},
    ):
        first = first or time.perf_counter() - start
        n += 1
        wins += bool(traj.success)
    wall = time.perf_counter() - start
    return {
        "episodes": n,
        "wall_s": wall,
        "episodes_per_s": n / wall,
        "first_episode_s": first or 0.0,
        "success_rate": wins / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=160)
    parser.add_argument("--quick", action="store_true", help="40 steps, 48 episodes")
    args = parser.parse_args()
    steps, episodes = (40, 48) if args.quick else (args.steps, args.episodes)
    backends = ["docker", "local"] if docker_usable() else ["local"]
    results: dict[str, object] = {
        "benchmark": "bench_code",
        "timestamp": common.utc_timestamp(),
        "machine": common.machine_info(),
        "versions": common.package_versions(["mtenvs", "gymnasium", "docker"]),
        "config": {
            "steps": steps,
            "episodes": episodes,
            "num_envs": 16,
            "executor": "thread",
            "cell": CELL,
        },
        "backends": {},
    }
    rows = []
    for backend in backends:
        lat = step_latencies(backend, steps)
        thr = oracle_throughput(backend, episodes)
        results["backends"][backend] = {**lat, "oracle_rollout": thr}  # type: ignore[index]
        rows.append(
            [
                backend,
                common.fmt_us(lat["code_turn"]["median_us"]),
                common.fmt_us(lat["code_turn"]["p90_us"]),
                common.fmt_us(lat["answer_turn"]["median_us"]),
                f"{thr['episodes_per_s']:.1f}",
                f"{thr['success_rate']:.0%}",
            ]
        )
    out = QUICK_RESULTS if args.quick else RESULTS
    common.write_json(out, results)
    common.print_table(
        "PythonCode-v0 step latency and oracle throughput (16 envs, threads)",
        [
            ("sandbox", "left"),
            ("code turn median", "right"),
            ("code turn p90", "right"),
            ("answer turn median", "right"),
            ("oracle episodes/s", "right"),
            ("success", "right"),
        ],
        rows,
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
