"""Rollout throughput benchmark: the mtenvs rollout engine against gymnasium's and GEM's
vector envs, with a stand-in agent that costs a fixed 50 ms per batch (a GPU-like cost).

Run from the repository root (``make bench`` builds the peers' venv first)::

    benchmarks/setup_peers.sh                     # once: the peers' own venv, .venv-bench
    .venv/bin/python benchmarks/bench_rollout.py  # --quick for a smoke run

Every row plays random well-formed Sokoban moves in N concurrent episodes for a fixed number
of lock-step *rounds* (one batched agent call + one step of every env each): warm-up
rounds first, then ``--rounds`` measured ones (a multiple of ``--max-turns``, so every row's
window holds the same share of episode ends and resets). Per row:

* **turns/s** = env turns completed in the window / wall time of the window;
* **env overhead** = 1 − (time inside the agent call) / (wall time): the share of wall time
  the GPU would sit idle because the env side (steps, resets, refills, bookkeeping) runs;
  **vs nominal** = 1 − (rounds × the nominal sleep) / (wall time), stricter: a late wake-up
  of the agent's thread (e.g. waiting for the GIL held by a background reset) counts as
  overhead too;
* the agent sleeps 50 ms per batch whatever its size, then replies (ours:
  ``<action>dir</action>`` for grid envs (``item.env.random_action(rng)`` for the code
  env); vector-env loops: the same ``<action>dir</action>``
  draw from a local generator, since their envs live in other threads or processes).

Rows: our engine (``mtenvs.rollout.rollout``) with ``executor="thread"`` and ``"sync"`` at
16/64/256 envs (default ``prefetch``: resets ahead on spare envs while the agent thinks),
``"sync"`` with ``prefetch=0`` and ``"process"`` at 64; gymnasium's own ``SyncVectorEnv`` /
``AsyncVectorEnv`` loop over ``mtenvs/Sokoban-v0`` (``gym.make_vec``, same-step
autoreset); GEM's thread-pool vector env on its ``game:Sokoban-v0-easy`` (run with
``.venv-bench/bin/python`` as ``--worker gem``); and 32 concurrent code episodes when an
``mtenvs/Python*`` id is registered.

With ``--repeat N`` every row is measured N times (fresh seeds each run) and reported by
its median-overhead run, with all runs' numbers in the JSON. The JSON goes to
``benchmarks/results/bench_rollout.json`` (``bench_rollout_quick.json`` with ``--quick``);
the verdict lines give the env overhead at 64 and at 256 envs (issue 21, item 2) of our
engine with the executor ``executor="auto"`` picks for Sokoban (``sync``: its steps are pure
Python and hold the GIL) against the 5 % target.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The helpers sit beside this file (benchmarks/ is no package; the peers' venv has no mtenvs).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

REPO = Path(__file__).resolve().parent.parent

ENV_ID = "mtenvs/Sokoban-v0"
GEM_ID = "game:Sokoban-v0-easy"
CODE_PREFIX = "mtenvs/Python"
CODE_ENVS = 32
AGENT_SLEEP_S = 0.050
TARGET_OVERHEAD = 0.05
VERDICT_ENVS = 64
#: Issue 21, item 2: the same target (env overhead < 5 %) at 256 envs.
SCALE_VERDICT_ENVS = 256
#: The executor ``rollout(executor="auto")`` picks for Sokoban (not ``io_bound``).
VERDICT_EXECUTOR = "sync"
DIRECTIONS = ("up", "down", "left", "right")
#: Seed distance between rows, so no row resets into levels an earlier row generated
#: (our Sokoban caches generated levels per process).
SEED_STRIDE = 1_000_000

OUR_PACKAGES = ("mtenvs", "gymnasium", "numpy", "rich")
PEER_PACKAGES = ("gem-llm", "numpy")
PEERS = ("gem",)


# --------------------------------------------------------------------------- measuring


class _Stop(Exception):
    """Raised by the stand-in agent when the measured rounds are done."""


def drain(gen: Generator[Any, None, None], clock: RoundClock) -> None:
    """Count ``gen``'s finished episodes on ``clock`` until the stand-in agent stops the
    run (or the episodes run out); the rollout is closed either way."""
    try:
        for _ in gen:
            clock.episode_done()
    except _Stop:
        pass
    finally:
        gen.close()


class RoundClock:
    """Times lock-step rounds: ``begin`` at the start of each agent call, ``end`` after it.

    Round ``warmup`` opens the window; the start of round ``warmup + rounds`` closes it, so
    the window holds exactly ``rounds`` agent calls plus the env work that followed each
    (steps, resets, refills, bookkeeping).
    """

    def __init__(self, rounds: int, warmup: int, nominal_s: float = AGENT_SLEEP_S) -> None:
        self.rounds, self.warmup = rounds, warmup
        #: The agent's intended seconds per call (the stand-in's sleep).
        self.nominal_s = nominal_s
        self.calls = 0
        self.t_open: float | None = None
        self.t_close: float | None = None
        self.agent_s = 0.0
        self.sleep_s = 0.0
        self.turns = 0
        self.episodes = 0
        self._t0 = 0.0

    @property
    def measuring(self) -> bool:
        return self.t_open is not None and self.t_close is None

    def begin(self) -> bool:
        """Start an agent call; ``False`` when the window is complete (stop now)."""
        now = time.perf_counter()
        if self.calls == self.warmup:
            gc.collect()
            now = time.perf_counter()
            self.t_open = now
        if self.calls == self.warmup + self.rounds:
            self.t_close = now
            return False
        self._t0 = now
        return True

    def slept(self, seconds: float) -> None:
        if self.measuring:
            self.sleep_s += seconds

    def end(self, batch: int) -> None:
        if self.measuring:
            self.agent_s += time.perf_counter() - self._t0
            self.turns += batch
        self.calls += 1

    def episode_done(self, count: int = 1) -> None:
        if self.measuring:
            self.episodes += count

    def result(self, **extra: Any) -> dict[str, Any]:
        if self.t_open is None or self.t_close is None:
            raise RuntimeError(
                f"only {self.calls} rounds ran ({self.warmup} + {self.rounds} needed)"
            )
        wall = self.t_close - self.t_open
        return {
            "rounds": self.rounds,
            "warmup_rounds": self.warmup,
            "turns": self.turns,
            "wall_s": wall,
            "agent_s": self.agent_s,
            "agent_sleep_s": self.sleep_s,
            "turns_per_s": self.turns / wall,
            "overhead": 1.0 - self.agent_s / wall,
            "overhead_vs_sleep": 1.0 - self.sleep_s / wall,
            "overhead_vs_nominal": 1.0 - self.rounds * self.nominal_s / wall,
            "env_ms_per_round": 1000.0 * (wall - self.agent_s) / self.rounds,
            "round_ms": 1000.0 * wall / self.rounds,
            "episodes_ended": self.episodes,
            **extra,
        }


def sleep_batch(clock: RoundClock, sleep_s: float) -> None:
    """The stand-in GPU cost: a fixed sleep per batch, whatever the batch size."""
    t0 = time.perf_counter()
    time.sleep(sleep_s)
    clock.slept(time.perf_counter() - t0)


class StandInAgent:
    """An :class:`mtenvs.agents.Agent` that sleeps ``sleep_s`` per batch and answers each
    conversation with a random move ``<action>dir</action>`` — the same replies the
    vector-env loops send, costing no env time, as a model's replies cost none — or, for
    envs whose replies are not moves, with ``item.env.random_action(rng)``."""

    def __init__(self, clock: RoundClock, sleep_s: float, seed: int, *, moves: bool) -> None:
        import numpy as np

        self.name = "stand-in-sleep"
        self.clock = clock
        self.sleep_s = sleep_s
        self.moves = moves
        self.rng = np.random.default_rng(seed)

    def act(self, batch: Sequence[Any]) -> list[str]:
        if not self.clock.begin():
            raise _Stop
        sleep_batch(self.clock, self.sleep_s)
        if self.moves:
            replies = [f"<action>{d}</action>" for d in self.rng.choice(DIRECTIONS, len(batch))]
        else:
            replies = [item.env.random_action(self.rng) for item in batch]
        self.clock.end(len(batch))
        return replies


def measure_engine(
    env_id: str,
    num_envs: int,
    executor: str,
    *,
    rounds: int,
    warmup: int,
    seed: int,
    env_kwargs: dict[str, Any],
    sleep_s: float,
    prefetch: int | None = None,
) -> dict[str, Any]:
    """Our engine: ``rollout(...)`` until the stand-in agent has run the window
    (``prefetch=None``: the engine's default)."""
    from mtenvs.rollout import rollout

    clock = RoundClock(rounds, warmup, sleep_s)
    grid = env_id in ("mtenvs/Sokoban-v0", "mtenvs/Maze-v0")
    agent = StandInAgent(clock, sleep_s, seed, moves=grid)
    # Enough tasks never to run dry: every episode lasts at least one round.
    episodes = num_envs * (warmup + rounds + 2)
    t0 = time.perf_counter()
    startup: float | None = None
    gen = rollout(
        env_id,
        agent,
        episodes,
        num_envs=num_envs,
        seed=seed,
        env_kwargs=env_kwargs,
        executor=executor,
        prefetch=prefetch,
    )
    drain(gen, clock)
    if clock.t_open is not None:
        startup = clock.t_open - t0
    return clock.result(startup_s=startup, close_s=time.perf_counter() - (clock.t_close or t0))


def vector_replies(rng: random.Random, n: int, template: str) -> list[str]:
    """``n`` random moves in a peer's reply format (``{}`` stands for the direction)."""
    return [template.format(rng.choice(DIRECTIONS)) for _ in range(n)]


def vector_loop(
    step: Callable[[list[str]], Any],
    num_envs: int,
    template: str,
    *,
    rounds: int,
    warmup: int,
    seed: int,
    sleep_s: float,
) -> RoundClock:
    """The classic vector-env loop: sleep (the batched model call), draw replies, step all
    envs (autoreset inside ``step``); ``step`` returns the number of episodes that ended."""
    clock = RoundClock(rounds, warmup, sleep_s)
    rng = random.Random(seed)
    while clock.begin():
        sleep_batch(clock, sleep_s)
        actions = vector_replies(rng, num_envs, template)
        clock.end(num_envs)
        clock.episode_done(step(actions))
    return clock


def measure_gym_vector(
    num_envs: int,
    mode: str,
    *,
    rounds: int,
    warmup: int,
    seed: int,
    env_kwargs: dict[str, Any],
    sleep_s: float,
) -> dict[str, Any]:
    """gymnasium's own loop: ``gym.make_vec(ENV_ID, vectorization_mode=mode)``, same-step
    autoreset (no turn is spent on a reset step)."""
    import gymnasium as gym

    import mtenvs  # noqa: F401  (registers the ids)

    t0 = time.perf_counter()
    envs = gym.make_vec(
        ENV_ID,
        num_envs=num_envs,
        vectorization_mode=mode,
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        **env_kwargs,
    )
    construct = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        envs.reset(seed=seed)
        first_reset = time.perf_counter() - t0

        def step(actions: list[str]) -> int:
            _, _, terminated, truncated, _ = envs.step(tuple(actions))
            return int((terminated | truncated).sum())

        clock = vector_loop(
            step,
            num_envs,
            "<action>{}</action>",
            rounds=rounds,
            warmup=warmup,
            seed=seed,
            sleep_s=sleep_s,
        )
    finally:
        t0 = time.perf_counter()
        envs.close()
        close = time.perf_counter() - t0
    return clock.result(construct_s=construct, first_reset_s=first_reset, close_s=close)


def measure_gem_vector(
    num_envs: int,
    async_mode: bool,
    *,
    rounds: int,
    warmup: int,
    seed: int,
    max_turns: int,
    sleep_s: float,
) -> dict[str, Any]:
    """GEM's loop: ``gem.make_vec([GEM_ID] * n, async_mode=…)`` (a thread pool of n threads
    when async), its default same-step autoreset, replies ``\\boxed{dir}``."""
    import contextlib
    import io

    import gem

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # make_vec prints a banner
        envs: Any = gem.make_vec(
            [GEM_ID] * num_envs, async_mode=async_mode, seed=seed, max_turns=max_turns
        )
    construct = time.perf_counter() - t0
    t0 = time.perf_counter()
    envs.reset(seed=seed)
    first_reset = time.perf_counter() - t0

    def step(actions: list[str]) -> int:
        _, _, terminated, truncated, _ = envs.step(actions)
        return int((terminated | truncated).sum())

    clock = vector_loop(
        step, num_envs, "\\boxed{{{}}}", rounds=rounds, warmup=warmup, seed=seed, sleep_s=sleep_s
    )
    pool = getattr(envs, "thread_pool_executer", None)
    if pool is not None:
        pool.shutdown(wait=True)
    return clock.result(construct_s=construct, first_reset_s=first_reset)


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    """One line of the table and one entry of the JSON."""

    key: str
    group: str  # "ours", "gymnasium", "peer" or "code"
    system: str
    mode: str
    num_envs: int
    notes: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def get(self, name: str) -> float | None:
        value = self.result.get(name)
        return float(value) if isinstance(value, (int, float)) else None


def run_row(row: Row, fn: Callable[[], dict[str, Any]]) -> Row:
    """Measure one row; an exception becomes its ``error``."""
    print(f"  {row.system} · {row.mode} · {row.num_envs} envs …", file=sys.stderr, flush=True)
    gc.collect()
    t0 = time.perf_counter()
    try:
        row.result = fn()
    except Exception as e:
        row.error = f"{type(e).__name__}: {e}"
    row.result["row_total_s"] = time.perf_counter() - t0
    return row


def code_env_ids() -> list[str]:
    """Registered ids of the code env family (``mtenvs/Python…``)."""
    import mtenvs

    return sorted(i for i in mtenvs.list_envs() if i.startswith(CODE_PREFIX))


def our_rows(args: argparse.Namespace) -> list[Row]:
    """Our engine and gymnasium's vector loops over ``mtenvs/Sokoban-v0``, in-process."""
    kwargs = {"max_turns": args.max_turns}
    common_kw = {"rounds": args.rounds, "warmup": args.warmup, "sleep_s": args.sleep}
    cases: list[tuple[Row, Callable[[int], dict[str, Any]]]] = []
    for n in args.sizes:
        for executor in [e for e in ("thread", "sync") if e in args.executors]:
            threads = min(n, 64)
            note = f"{threads} threads" if executor == "thread" else "steps one after another"
            cases.append(
                (
                    Row(f"ours-{executor}-{n}", "ours", "mtenvs rollout()", executor, n, note),
                    lambda seed, n=n, executor=executor: measure_engine(
                        ENV_ID, n, executor, seed=seed, env_kwargs=kwargs, **common_kw
                    ),
                )
            )
        if n == VERDICT_ENVS and "sync" in args.executors:
            cases.append(
                (
                    Row(
                        f"ours-sync-noprefetch-{n}",
                        "ours",
                        "mtenvs rollout()",
                        "sync, prefetch=0",
                        n,
                        "no resets ahead: only the round's own refills overlap the agent",
                    ),
                    lambda seed, n=n: measure_engine(
                        ENV_ID, n, "sync", seed=seed, env_kwargs=kwargs, prefetch=0, **common_kw
                    ),
                )
            )
        if n == VERDICT_ENVS and "process" in args.executors:
            workers = os.cpu_count() or 1
            cases.append(
                (
                    Row(
                        f"ours-process-{n}",
                        "ours",
                        "mtenvs rollout()",
                        "process",
                        n,
                        f"{workers} worker processes; random_action = a pipe round trip "
                        "(agent time)",
                    ),
                    lambda seed, n=n: measure_engine(
                        ENV_ID, n, "process", seed=seed, env_kwargs=kwargs, **common_kw
                    ),
                )
            )
    for n in args.sizes:
        for mode in ("async", "sync"):
            cls = "AsyncVectorEnv" if mode == "async" else "SyncVectorEnv"
            note = (
                f"{n} subprocesses; same-step autoreset"
                if mode == "async"
                else "same-step autoreset"
            )
            cases.append(
                (
                    Row(f"gym-{mode}-{n}", "gymnasium", f"gymnasium {cls}", mode, n, note),
                    lambda seed, n=n, mode=mode: measure_gym_vector(
                        n, mode, seed=seed, env_kwargs=kwargs, **common_kw
                    ),
                )
            )
    rows = [
        run_row(row, lambda fn=fn, i=i: fn(args.seed + SEED_STRIDE * (i + 1)))
        for i, (row, fn) in enumerate(cases)
    ]

    code_ids = code_env_ids() if args.code_rounds else []
    if code_ids:
        code_id = code_ids[0]
        code_rounds = min(args.rounds, args.code_rounds)
        row = Row(
            f"code-thread-{CODE_ENVS}",
            "code",
            f"mtenvs rollout() {code_id}",
            "thread",
            CODE_ENVS,
            f"{code_rounds} rounds; default env kwargs",
        )
        rows.append(
            run_row(
                row,
                lambda: measure_engine(
                    code_id,
                    CODE_ENVS,
                    "thread",
                    rounds=code_rounds,
                    warmup=args.warmup,
                    seed=args.seed + SEED_STRIDE * 99,
                    env_kwargs={},
                    sleep_s=args.sleep,
                ),
            )
        )
    elif args.code_rounds:
        print(
            f"note: no {CODE_PREFIX}* env is registered yet; the {CODE_ENVS}-env code row "
            "is skipped (code env not yet available).",
            file=sys.stderr,
        )
    return rows


def gem_rounds(n: int, args: argparse.Namespace) -> tuple[int, str]:
    """GEM's rounds at ``n`` envs: one ``max_turns`` cycle from ``--gem-one-cycle-from``
    envs up (all its episodes end on the same round, and that round's n resets on n threads
    take ~20 s at 256)."""
    if n >= args.gem_one_cycle_from and args.rounds > args.max_turns:
        return args.max_turns, f"{args.max_turns} rounds (1 cycle: its reset round is slow)"
    return args.rounds, ""


def gem_rows(args: argparse.Namespace) -> list[Row]:
    """Worker side: GEM's vector env at every size."""
    rows = []
    for i, n in enumerate(args.sizes):
        if n > args.gem_max_envs:
            continue
        rounds, note = gem_rounds(n, args)
        row = Row(
            f"gem-async-{n}",
            "peer",
            f"GEM {GEM_ID}",
            "async",
            n,
            "; ".join(
                p for p in (f"{n}-thread pool; 6×6, 2 boxes; same-step autoreset", note) if p
            ),
        )
        rows.append(
            run_row(
                row,
                lambda n=n, rounds=rounds, i=i: measure_gem_vector(
                    n,
                    True,
                    rounds=rounds,
                    warmup=args.warmup,
                    seed=args.seed + SEED_STRIDE * (50 + i),
                    max_turns=args.max_turns,
                    sleep_s=args.sleep,
                ),
            )
        )
    return rows


def run_worker(args: argparse.Namespace) -> None:
    """``--worker gem``: measure GEM's rows and write them to ``--json-out``."""
    common.write_worker_payload(args.json_out, args.worker, gem_rows(args), PEER_PACKAGES)


def skipped_gem_rows(args: argparse.Namespace, error: str | None = None) -> list[Row]:
    """Placeholder rows for GEM (worker failed, venv missing, or size over the cap)."""
    rows = []
    for n in args.sizes:
        if n > args.gem_max_envs:
            rows.append(
                Row(
                    f"gem-async-{n}",
                    "peer",
                    f"GEM {GEM_ID}",
                    "async",
                    n,
                    error=f"skipped: over --gem-max-envs {args.gem_max_envs}",
                )
            )
        elif error:
            rows.append(Row(f"gem-async-{n}", "peer", f"GEM {GEM_ID}", "async", n, error=error))
    return rows


def run_gem(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Run the GEM worker in ``--bench-python``; its rows, or error rows on failure."""
    payload, failure = common.run_peer_worker(
        Path(__file__).resolve(),
        args.bench_python,
        "gem",
        common.cli_flags(
            sizes=",".join(map(str, args.sizes)),
            rounds=args.rounds,
            warmup=args.warmup,
            max_turns=args.max_turns,
            seed=args.seed,
            sleep=args.sleep,
            gem_max_envs=args.gem_max_envs,
            gem_one_cycle_from=args.gem_one_cycle_from,
        ),
        timeout=args.peer_timeout,
        cwd=REPO,
        echo_prefix="  GEM",
    )
    if payload is None:
        return skipped_gem_rows(args, failure), {}
    rows = [Row(**r) for r in payload.pop("rows")]
    return rows + skipped_gem_rows(args), payload


# --------------------------------------------------------------------------- report


#: Seed distance between ``--repeat`` runs (beyond every row's and the peers' strides).
REPEAT_SEED_STRIDE = 1_000 * SEED_STRIDE

#: Per-run numbers kept in ``result["runs"]`` when ``--repeat`` > 1.
RUN_FIELDS = ("overhead", "overhead_vs_nominal", "turns_per_s", "env_ms_per_round", "wall_s")


def median_rows(runs: Sequence[Sequence[Row]]) -> list[Row]:
    """One row per key: the run with the median env overhead (its numbers stay together),
    every run's main numbers under ``result["runs"]``. A single run is returned as it is."""
    if len(runs) == 1:
        return list(runs[0])
    merged = []
    for first in runs[0]:
        same = [r for run in runs for r in run if r.key == first.key]
        ok = sorted((r for r in same if not r.error), key=lambda r: r.get("overhead") or 0.0)
        if not ok:
            merged.append(first)
            continue
        median = ok[(len(ok) - 1) // 2]
        result = dict(median.result)
        result["runs"] = [
            {"error": r.error} if r.error else {k: r.result.get(k) for k in RUN_FIELDS}
            for r in same
        ]
        result["repeats_ok"] = len(ok)
        merged.append(
            Row(
                median.key,
                median.group,
                median.system,
                median.mode,
                median.num_envs,
                median.notes,
                result,
            )
        )
    return merged


def base_row(rows: Sequence[Row], n: int) -> Row | None:
    return next((r for r in rows if r.key == f"ours-thread-{n}" and not r.error), None)


def verdict_row(rows: Sequence[Row], envs: int = VERDICT_ENVS) -> Row | None:
    """The row the target is judged on: our engine at ``envs`` envs with the executor
    ``executor="auto"`` picks for Sokoban (``sync``)."""
    key = f"ours-{VERDICT_EXECUTOR}-{envs}"
    return next((r for r in rows if r.key == key and not r.error), None)


def verdict(rows: Sequence[Row], envs: int) -> dict[str, Any]:
    """The target's verdict at ``envs`` envs (``overhead`` ``None`` when not measured)."""
    judged = verdict_row(rows, envs)
    overhead = judged.get("overhead") if judged else None
    return {
        "metric": (
            f"1 - agent time / wall time, mtenvs rollout() {VERDICT_EXECUTOR} (what "
            f"executor='auto' picks for Sokoban), {envs} envs"
        ),
        "overhead": overhead,
        "overhead_vs_nominal": judged.get("overhead_vs_nominal") if judged else None,
        "target": TARGET_OVERHEAD,
        "met": overhead is not None and overhead < TARGET_OVERHEAD,
    }


def build_report(
    rows: list[Row], gem_meta: dict[str, Any], args: argparse.Namespace, code_note: str | None
) -> dict[str, Any]:
    """Ratios, verdict and everything else the JSON records."""
    for r in rows:
        base = base_row(rows, r.num_envs)
        tps, base_tps = r.get("turns_per_s"), base.get("turns_per_s") if base else None
        r.result["turns_per_s_vs_ours_thread"] = tps / base_tps if tps and base_tps else None
    return {
        "benchmark": "bench_rollout",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "env_id": ENV_ID,
            "env_kwargs": {"max_turns": args.max_turns},
            "gem_env_id": GEM_ID,
            "sizes": args.sizes,
            "rounds": args.rounds,
            "warmup_rounds": args.warmup,
            "agent_sleep_s": args.sleep,
            "seed": args.seed,
            "repeat": args.repeat,
            "gem_max_envs": args.gem_max_envs,
            "gem_one_cycle_from": args.gem_one_cycle_from,
        },
        "code_env": code_note,
        "machine": common.machine_info(),
        "versions": common.versions_record(OUR_PACKAGES, gem_meta),
        "verdict": verdict(rows, VERDICT_ENVS),
        "verdict_at_scale": verdict(rows, SCALE_VERDICT_ENVS),
        "rows": [asdict(r) for r in rows],
    }


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def print_report(rows: list[Row], report: dict[str, Any]) -> None:
    """The rich table and the verdict line."""
    columns = [
        ("system", "left"),
        ("mode", "left"),
        ("envs", "right"),
        ("rounds", "right"),
        ("turns", "right"),
        ("wall s", "right"),
        ("turns/s", "right"),
        ("vs ours\nthread", "right"),
        ("env\noverhead", "right"),
        ("vs\nnominal", "right"),
        ("env ms\n/round", "right"),
        ("notes", "left"),
    ]
    order = {"ours": 0, "gymnasium": 1, "peer": 2, "code": 3}
    ordered = sorted(rows, key=lambda r: (r.num_envs, order.get(r.group, 9)))
    table_rows, sections = [], []
    for i, r in enumerate(ordered):
        if i and r.num_envs != ordered[i - 1].num_envs:
            sections.append(i)
        if r.error:
            error = r.error if len(r.error) <= 90 else r.error[:89] + "…"
            table_rows.append([r.system, r.mode, str(r.num_envs), "", "", "", *["n/a"] * 5, error])
            continue
        res = r.result
        ratio = res.get("turns_per_s_vs_ours_thread")
        is_base = r.key == f"ours-thread-{r.num_envs}"
        table_rows.append(
            [
                r.system,
                r.mode,
                str(r.num_envs),
                str(res["rounds"]),
                f"{res['turns']:,}",
                f"{res['wall_s']:.2f}",
                f"{res['turns_per_s']:,.0f}",
                "base" if is_base else common.fmt_ratio(ratio),
                fmt_pct(res["overhead"]),
                fmt_pct(res.get("overhead_vs_nominal")),
                f"{res['env_ms_per_round']:.1f}",
                r.notes,
            ]
        )
    s = report["settings"]
    common.print_table(
        f"Rollout throughput: {ENV_ID} (max_turns={s['env_kwargs']['max_turns']}), stand-in "
        f"agent sleeping {1000 * s['agent_sleep_s']:g} ms per batch, random moves; "
        f"{s['warmup_rounds']} warm-up + {s['rounds']} measured rounds per row"
        + (f", median of {s['repeat']} runs" if s["repeat"] > 1 else "")
        + "; env overhead "
        "= 1 − agent time / wall time (vs nominal: 1 − rounds × sleep / wall time)",
        columns,
        table_rows,
        sections=sections,
    )
    for envs, v in (
        (VERDICT_ENVS, report["verdict"]),
        (SCALE_VERDICT_ENVS, report["verdict_at_scale"]),
    ):
        met = "met" if v["met"] else "missed"
        print(
            f"env overhead at {envs} envs ({VERDICT_EXECUTOR}, the auto executor for "
            "Sokoban): "
            + ("n/a" if v["overhead"] is None else f"{100 * v['overhead']:.1f}%")
            + f" (target < {100 * TARGET_OVERHEAD:g}%)"
            + ("" if v["overhead"] is None else f" — {met}")
            + (
                ""
                if v.get("overhead_vs_nominal") is None
                else f"; vs nominal {100 * v['overhead_vs_nominal']:.1f}%"
            )
        )
    if report["code_env"]:
        print(report["code_env"])


def run_orchestrator(args: argparse.Namespace) -> int:
    """Measure ours and gymnasium's loops, run the GEM worker, print, write the JSON."""
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    runs: list[list[Row]] = []
    gem_meta: dict[str, Any] = {}
    first_seed = args.seed
    for i in range(args.repeat):
        # Fresh seeds per run: our Sokoban caches generated levels, so a repeat over the
        # same seeds would reset for free.
        args.seed = first_seed + REPEAT_SEED_STRIDE * i
        print(
            f"run {i + 1}/{args.repeat}: ours and gymnasium ({sys.executable}):",
            file=sys.stderr,
            flush=True,
        )
        rows = our_rows(args)
        if "gem" in args.peers:
            gem, gem_meta = run_gem(args)
            rows.extend(gem)
        runs.append(rows)
    args.seed = first_seed
    rows = median_rows(runs)
    code_note = (
        "code row skipped (--code-rounds 0)"
        if not args.code_rounds
        else None
        if code_env_ids()
        else (
            f"code env not yet available: no {CODE_PREFIX}* id is registered, so the "
            f"{CODE_ENVS}-env code row was skipped"
        )
    )
    report = build_report(rows, gem_meta, args, code_note)
    report["machine"]["loadavg_before"] = list(load_before)
    report["machine"]["loadavg_after"] = list(os.getloadavg())
    report["total_s"] = time.perf_counter() - t_start
    out = common.results_path("bench_rollout", quick=args.quick, out=args.out)
    common.write_json(out, report)
    print_report(rows, report)
    print(f"results: {out} ({report['total_s']:.0f} s)")
    if any(r.error and not r.error.startswith("skipped") for r in rows) and args.strict:
        return 1
    if args.check and not report["verdict"]["met"]:
        return 1
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--worker`` ones are internal)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 16 and 64 envs, max_turns 10, 10 rounds (JSON: bench_rollout_quick.json)",
    )
    p.add_argument(
        "--sizes",
        help="concurrent episodes per row, comma-separated (default 16,64,256; quick 16,64)",
    )
    p.add_argument(
        "--max-turns", type=int, help="turn budget of every Sokoban episode (default 30; quick 10)"
    )
    p.add_argument(
        "--rounds", type=int, help="measured rounds per row (default 2 × max_turns; quick 1 ×)"
    )
    p.add_argument("--warmup", type=int, help="untimed rounds before the window (default 5)")
    p.add_argument(
        "--sleep",
        type=float,
        default=AGENT_SLEEP_S,
        help="stand-in agent's sleep per batch, seconds (default 0.05)",
    )
    p.add_argument(
        "--executors",
        default="thread,sync,process",
        help="our executors; 'process' adds a row at 64 envs",
    )
    p.add_argument(
        "--code-rounds",
        type=int,
        default=20,
        help="measured rounds of the code-env row, when one is registered (0: no code row)",
    )
    p.add_argument("--seed", type=int, default=0, help="first task seed")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure every row this many times; the table shows each row's median-overhead "
        "run, the JSON every run's numbers (default 1)",
    )
    p.add_argument(
        "--gem-max-envs",
        type=int,
        default=256,
        help="largest GEM vector env built (bigger sizes are reported as skipped)",
    )
    p.add_argument(
        "--gem-one-cycle-from",
        type=int,
        default=256,
        help="from this many envs up, GEM runs one max_turns cycle of rounds only",
    )
    common.add_peer_options(p, "bench_rollout", PEERS, peer_timeout=600.0)
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 when the overhead at {VERDICT_ENVS} envs is not below "
        f"{100 * TARGET_OVERHEAD:g}%%",
    )
    args = p.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ("16,64" if quick else "16,64,256")
    try:
        args.sizes = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be integers, got {sizes!r}")
    args.max_turns = args.max_turns or (10 if quick else 30)
    args.rounds = args.rounds or args.max_turns * (1 if quick else 2)
    args.warmup = args.warmup if args.warmup is not None else (2 if quick else 5)
    if not args.sizes or min(args.sizes) < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("--sizes and --rounds must be at least 1, --warmup at least 0")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    args.executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    common.check_peer_options(p, args, PEERS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the orchestrator, or the GEM worker with ``--worker gem``."""
    return common.run_main(parse_args(argv), run_worker, run_orchestrator)


if __name__ == "__main__":
    sys.exit(main())
