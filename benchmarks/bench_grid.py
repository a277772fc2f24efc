"""Grid-world speed benchmark: mtenvs Sokoban and Maze against gym-sokoban, GEM and TextArena.

Run from the repository root (``make bench`` does both steps)::

    benchmarks/setup_peers.sh                  # once: the peers' own venv, .venv-bench
    .venv/bin/python benchmarks/bench_grid.py  # --quick for a smoke run

This process (the project's ``.venv``) is the orchestrator: it times our envs in-process,
then runs this same file with ``.venv-bench/bin/python --worker <peer>`` once per peer, so
the peers' pins (old ``gym``, NumPy 1.26) never meet ours. A worker imports only the
standard library, :mod:`_common` and its peer, and writes its rows as JSON to a file.

What is measured, for every row alike (see benchmarks/README.md):

* **rounds**: resets and steps are split over ``--rounds`` rounds that each run every row in
  turn, and pooled, so a slow spell of a shared machine hits all rows alike.
* **reset**: ``time.perf_counter_ns`` around one reset, over ``--resets`` distinct seeds;
  median (p10, p90, p99, mean, min, max in the JSON).
* **step**: the same around one step, over ``--steps`` steps; median, p90, mean. Each
  action is a *valid* move (it changes the state: not into a wall, not a blocked push),
  picked at random among the valid ones, all outside the timed region: the random draws
  are made before timing, the valid moves are found between steps (on a probe copy for
  ours, from the board for the peers), and an episode that ends is reset outside the timed
  region. After every timed step the state is compared with the state before it, and the
  fraction that changed is reported as ``valid``: 100 % shows every reply was parsed as a
  legal move, not as a format error.
* Text envs get the text reply each expects: ``<action>up</action>`` (ours),
  ``\\boxed{up}`` (GEM), ``[up]`` (TextArena); gym-sokoban gets its integer push action.

The JSON (machine, versions, timestamp, every number) goes to
``benchmarks/results/bench_grid.json`` (``bench_grid_quick.json`` with ``--quick``), and the
verdict line compares our text step (through ``gym.make``) with the fastest peer row.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import random
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

# The helpers sit beside this file; put it on the path also when imported from elsewhere
# (benchmarks/ is no package, and the peers' venv does not have the project installed).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

REPO = Path(__file__).resolve().parent.parent
#: Issue 21, item 4: our Sokoban text step at least 4.5x faster than GEM's (the fastest
#: peer), and a reset of at most 200 µs median.
TARGET_SPEEDUP = 4.5
TARGET_RESET_US = 200.0
#: Seed distance between rows; the seeds of one row stay below it.
SEED_STRIDE = 1_000_000
#: Seed distance between rounds.
ROUND_STRIDE = 100 * SEED_STRIDE
#: The timed resets use seeds of their own, below the Sokoban bank's 2,048 seeds
#: (mtenvs/envs/grid/sokoban_bank.py): each row and round gets ``resets`` fresh ones, at
#: most this many rows a round, so no row resets into a level an earlier one played.
MAX_ROWS_PER_ROUND = 8
#: Added to every seed of the "generated" row: far beyond the bank, every level generated.
GENERATED_SEED_OFFSET = 10**9

DIRECTIONS = ("up", "down", "left", "right")
_OFFSETS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
# Cell codes of gym-sokoban's room_state, kept by GEM and TextArena (both derive from it).
_FREE = (1, 2)  # floor, empty target
_BOX = (3, 4)  # box on target, box

PEERS = ("gym-sokoban", "gem", "textarena")
#: Distributions whose versions each side reports.
OUR_PACKAGES = ("mtenvs", "gymnasium", "numpy", "rich")
PEER_PACKAGES = ("gym-sokoban", "gym", "gem-llm", "textarena", "numpy")
#: Fallback room for gym-sokoban when our Sokoban's easy size cannot be read: GEM's easy size.
FALLBACK_ROOM = ((6, 6), 2)


# --------------------------------------------------------------------------- measuring


class Adapter(Protocol):
    """One env under test, driven the same way for every row."""

    def before_reset(self, seed: int) -> None:
        """Untimed preparation of the next reset (global seeding, a fresh env)."""

    def reset(self, seed: int) -> None:
        """The timed reset."""

    def step(self, action: Any) -> bool:
        """The timed step; returns whether the episode is over."""

    def moves(self) -> list[Any]:
        """Untimed: the actions that are valid moves in the current state."""

    def signature(self) -> Hashable:
        """Untimed: a fingerprint of the state, to check that a step changed it."""


def measure(
    adapter: Adapter, *, resets: int, steps: int, warmup: int, seed: int, reset_seed: int
) -> dict[str, Any]:
    """Time ``resets`` resets (seeds ``reset_seed + i``) and ``steps`` valid random moves
    (episodes from ``seed + 100_000``) of ``adapter``; the raw samples (ns) and counts,
    merged over rounds by :func:`summarize_rounds`."""
    for i in range(warmup):  # imports, caches, first-call checks (gym's passive checker)
        adapter.before_reset(seed + 900_000 + i)
        adapter.reset(seed + 900_000 + i)
        for _ in range(3):
            moves = adapter.moves()
            if not moves or adapter.step(moves[0]):
                break

    gc.collect()
    reset_ns: list[int] = []
    t_phase = time.perf_counter()
    for i in range(resets):
        adapter.before_reset(reset_seed + i)
        t0 = time.perf_counter_ns()
        adapter.reset(reset_seed + i)
        reset_ns.append(time.perf_counter_ns() - t0)
    reset_wall = time.perf_counter() - t_phase

    draws = random.Random(seed).choices(range(1_000_000), k=steps)  # made before timing
    episode_seed = seed + 100_000
    adapter.before_reset(episode_seed)
    adapter.reset(episode_seed)
    episodes, changed, stuck = 1, 0, 0
    step_ns: list[int] = []
    gc.collect()
    t_phase = time.perf_counter()
    while len(step_ns) < steps:
        moves = adapter.moves()
        if not moves:  # boxed in: no valid move left, start another episode
            stuck += 1
            done = True
        else:
            action = moves[draws[len(step_ns)] % len(moves)]
            before = adapter.signature()
            t0 = time.perf_counter_ns()
            done = adapter.step(action)
            step_ns.append(time.perf_counter_ns() - t0)
            changed += adapter.signature() != before
        if done:
            episode_seed += 1
            episodes += 1
            adapter.before_reset(episode_seed)
            adapter.reset(episode_seed)
    step_wall = time.perf_counter() - t_phase

    return {
        "reset_ns": reset_ns,
        "step_ns": step_ns,
        "changed": changed,
        "episodes": episodes,
        "stuck": stuck,
        "reset_wall_s": reset_wall,
        "step_wall_s": step_wall,
    }


def summarize_rounds(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row's statistics over the samples of all its rounds (raw samples dropped)."""
    reset_ns = [t for r in rounds for t in r["reset_ns"]]
    step_ns = [t for r in rounds for t in r["step_ns"]]
    return {
        "reset": common.summarize_ns(reset_ns),
        "step": common.summarize_ns(step_ns),
        "valid_fraction": sum(r["changed"] for r in rounds) / max(1, len(step_ns)),
        "round_step_medians_us": [
            common.summarize_ns(r["step_ns"]).get("median_us") for r in rounds
        ],
        "round_reset_medians_us": [
            common.summarize_ns(r["reset_ns"]).get("median_us") for r in rounds
        ],
        "step_phase_episodes": sum(r["episodes"] for r in rounds),
        "episodes_without_valid_move": sum(r["stuck"] for r in rounds),
        "reset_phase_wall_s": round(sum(r["reset_wall_s"] for r in rounds), 3),
        "step_phase_wall_s": round(sum(r["step_wall_s"] for r in rounds), 3),
    }


@dataclass
class Row:
    """One line of the table and one entry of the JSON."""

    key: str
    group: str  # "ours" or "peer"
    env: str
    obs: str
    api: str
    notes: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def step_median(self) -> float | None:
        step = self.result.get("step", {})
        return step.get("median_us") if step.get("n") else None

    def step_mean(self) -> float | None:
        step = self.result.get("step", {})
        return step.get("mean_us") if step.get("n") else None


def run_rows(
    specs: Sequence[tuple[Row, Callable[[], Adapter]]],
    *,
    resets: int,
    steps: int,
    warmup: int,
    seed: int,
    reset_seed: int,
) -> list[Row]:
    """Build and measure each adapter for one round: ``row.result`` holds the raw
    :func:`measure` output; an exception becomes the row's ``error``.

    Each row gets seeds of its own (``seed`` + 1,000,000 × its index; timed resets
    ``reset_seed`` + ``resets`` × its index): our grid envs cache generated tasks per
    process, and a row must not reset into tasks that an earlier row already played.
    """
    rows = []
    for index, (row, factory) in enumerate(specs):
        print(f"  measuring {row.env} · {row.obs} · {row.api} …", file=sys.stderr, flush=True)
        try:
            row.result = measure(
                factory(),
                resets=resets,
                steps=steps,
                warmup=warmup,
                seed=seed + SEED_STRIDE * index,
                reset_seed=reset_seed + resets * index,
            )
        except Exception as e:
            row.error = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows


def merge_rounds(rounds: Sequence[Sequence[Row]]) -> list[Row]:
    """One row per key, in first-seen order, with statistics over all rounds; a row that
    failed in any round keeps that round's error."""
    merged: dict[str, Row] = {}
    raw: dict[str, list[dict[str, Any]]] = {}
    for round_rows in rounds:
        for row in round_rows:
            first = merged.setdefault(row.key, row)
            if row.error and not first.error:
                first.error = row.error
            if row.result:
                raw.setdefault(row.key, []).append(row.result)
    for key, row in merged.items():
        row.result = summarize_rounds(raw[key]) if key in raw else {}
        valid = row.result.get("valid_fraction", 1.0)
        if valid < 1.0:
            row.notes += f" WARNING: only {valid:.1%} of steps moved."
    return list(merged.values())


class GymApiAdapter:
    """Base of the adapters whose ``env`` has the Gymnasium API: nothing to prepare before
    a reset, ``reset(seed=…)``, and a step's ``(obs, reward, terminated, truncated, info)``."""

    env: Any

    def before_reset(self, seed: int) -> None:
        pass

    def reset(self, seed: int) -> None:
        self.env.reset(seed=seed)

    def step(self, action: Any) -> bool:
        _, _, terminated, truncated, _ = self.env.step(action)
        return bool(terminated or truncated)


# --------------------------------------------------------------------------- ours


class OursAdapter(GymApiAdapter):
    """An mtenvs grid env through ``gym.make`` (or its ``unwrapped`` core).

    Valid moves are found on a second, text-only core: the timed env's snapshot is restored
    into it and each direction tried there, so the timed env never sees a probe step.
    """

    def __init__(
        self, env_id: str, obs_mode: str, *, unwrapped: bool, difficulty: str, seed_offset: int = 0
    ) -> None:
        import gymnasium as gym

        import mtenvs  # noqa: F401  (registers the ids)

        made = gym.make(env_id, difficulty=difficulty, obs_mode=obs_mode)
        self.core: Any = made.unwrapped
        #: What is timed: the env through its gymnasium wrappers, or its core.
        self.env = self.core if unwrapped else made
        self.probe: Any = gym.make(env_id, difficulty=difficulty, obs_mode="text").unwrapped
        self.probe.reset(seed=0)
        self.replies = [f"<action>{d}</action>" for d in DIRECTIONS]
        self.seed_offset = seed_offset

    def reset(self, seed: int) -> None:
        self.env.reset(seed=seed + self.seed_offset)

    def moves(self) -> list[Any]:
        snapshot = self.core.snapshot()
        before = self.core.render_text()
        valid = []
        for reply in self.replies:
            self.probe.restore(snapshot)
            info = self.probe.step(reply)[4]
            if info["parse_error"] is None and self.probe.render_text() != before:
                valid.append(reply)
        return valid

    def signature(self) -> Hashable:
        return self.core.render_text()


def our_sokoban_size(difficulty: str) -> tuple[tuple[int, int], int]:
    """Room ``(rows, cols)``, walls included (as gym-sokoban's ``dim_room``), and box count
    of our Sokoban at ``difficulty``; GEM's easy room when our task module does not say."""
    try:
        tasks = importlib.import_module("mtenvs.envs.grid.sokoban_tasks")
        spec = tasks.DIFFICULTIES[difficulty]
        rows, cols = (int(v) for v in spec.room)
        return (rows, cols), int(spec.boxes)
    except Exception:
        return FALLBACK_ROOM


def our_maze_size(difficulty: str) -> str:
    """`` (7×7)``: the side of our Maze grid at ``difficulty``, walls included; ``""`` if
    unknown."""
    try:
        tasks = importlib.import_module("mtenvs.envs.grid.maze_tasks")
        side = int(tasks.DIFFICULTIES[difficulty].size)
        return f" ({side}×{side})"
    except Exception:
        return ""


def our_specs(difficulty: str) -> list[tuple[Row, Callable[[], Adapter]]]:
    """Rows for our envs: every observation mode through gym.make, text also unwrapped."""
    cases = [
        ("mtenvs/Sokoban-v0", "text", False),
        ("mtenvs/Sokoban-v0", "text", True),
        ("mtenvs/Sokoban-v0", "generated", False),
        ("mtenvs/Sokoban-v0", "image", False),
        ("mtenvs/Sokoban-v0", "text+image", False),
        ("mtenvs/Maze-v0", "text", False),
        ("mtenvs/Maze-v0", "text", True),
        ("mtenvs/Maze-v0", "image", False),
    ]
    (rows, cols), boxes = our_sokoban_size(difficulty)
    sizes = {
        "sokoban": f" ({rows}×{cols}, {boxes} box{'es' if boxes != 1 else ''})",
        "maze": our_maze_size(difficulty),
    }
    specs: list[tuple[Row, Callable[[], Adapter]]] = []
    for env_id, obs_mode, unwrapped in cases:
        name = env_id.split("/")[1].split("-")[0].lower()
        api = "env.unwrapped" if unwrapped else "gym.make"
        generated = obs_mode == "generated"  # text, with seeds beyond the level bank
        row = Row(
            key=f"ours-{name}-{obs_mode}-{'unwrapped' if unwrapped else 'make'}",
            group="ours",
            env=f"mtenvs {env_id.split('/')[1]} {difficulty}{sizes[name]}",
            obs="text" if generated else obs_mode,
            api=api,
            notes="no gymnasium wrappers"
            if unwrapped
            else "seeds beyond the bank: every level generated"
            if generated
            else "",
        )

        def factory(
            env_id: str = env_id,
            obs_mode: str = "text" if generated else obs_mode,
            unwrapped: bool = unwrapped,
            offset: int = GENERATED_SEED_OFFSET if generated else 0,
        ) -> Adapter:
            return OursAdapter(
                env_id, obs_mode, unwrapped=unwrapped, difficulty=difficulty, seed_offset=offset
            )

        specs.append((row, factory))
    return specs


# --------------------------------------------------------------------------- peers (worker side)


def sokoban_moves(room_state: Any, player: Sequence[int]) -> list[str]:
    """Directions that move the player in a gym-sokoban style ``room_state``: onto a free
    cell, or pushing a box onto a free cell."""
    height, width = room_state.shape
    r, c = int(player[0]), int(player[1])
    moves = []
    for direction, (dr, dc) in _OFFSETS.items():
        r1, c1 = r + dr, c + dc
        if not (0 <= r1 < height and 0 <= c1 < width):
            continue
        cell = room_state[r1, c1]
        if cell in _FREE:
            moves.append(direction)
        elif cell in _BOX:
            r2, c2 = r1 + dr, c1 + dc
            if 0 <= r2 < height and 0 <= c2 < width and room_state[r2, c2] in _FREE:
                moves.append(direction)
    return moves


class GymSokobanAdapter:
    """gym-sokoban through ``gym.make("Sokoban-v1", dim_room=…, num_boxes=…)``.

    Its rooms come from Python's and NumPy's global generators (``reset`` takes no seed), so
    both are seeded before each reset, outside the timed region. ``rgb_array`` (its default
    observation, 16 px sprites) goes through the make API; ``tiny_rgb_array`` (1 px a cell)
    is only reachable as ``env.unwrapped.step(a, observation_mode=…)``.
    """

    #: gym-sokoban's "push <dir>" actions (1-4) push a box if there is one, else move.
    ACTIONS: ClassVar[dict[str, int]] = {"up": 1, "down": 2, "left": 3, "right": 4}

    def __init__(self, observation_mode: str, dim_room: tuple[int, int], num_boxes: int) -> None:
        import gym
        import gym_sokoban  # noqa: F401  (registers Sokoban-v*)
        import numpy as np

        self.np_random = np.random
        self.env = gym.make("Sokoban-v1", dim_room=dim_room, num_boxes=num_boxes, reset=False)
        self.core: Any = self.env.unwrapped
        self.tiny = observation_mode == "tiny_rgb_array"

    def before_reset(self, seed: int) -> None:
        random.seed(seed)
        self.np_random.seed(seed)

    def reset(self, seed: int) -> None:
        if self.tiny:
            self.core.reset(render_mode="tiny_rgb_array")
        else:
            self.env.reset()

    def step(self, action: Any) -> bool:
        if self.tiny:
            out = self.core.step(action, observation_mode="tiny_rgb_array")
        else:
            out = self.env.step(action)
        return bool(out[2])  # old gym API: (obs, reward, done, info)

    def moves(self) -> list[Any]:
        moves = sokoban_moves(self.core.room_state, self.core.player_position)
        return [self.ACTIONS[d] for d in moves]

    def signature(self) -> Hashable:
        return self.core.room_state.tobytes()


class GemAdapter(GymApiAdapter):
    """GEM's ``gem.make("game:Sokoban-v0-easy")`` (6×6, 2 boxes), replies ``\\boxed{dir}``."""

    def __init__(self) -> None:
        import gem

        self.env = gem.make("game:Sokoban-v0-easy")

    def moves(self) -> list[Any]:
        moves = sokoban_moves(self.env.room_state, self.env.player_position)
        return [f"\\boxed{{{d}}}" for d in moves]

    def signature(self) -> Hashable:
        return self.env.room_state.tobytes()


class TextArenaAdapter:
    """TextArena's ``ta.make("Sokoban-v0")`` (6×6, 3 boxes, default wrappers), replies ``[dir]``.

    A TextArena turn is ``get_observation()`` then ``step(reply)``; both are timed, so a step
    here yields the next observation as ours does (reset: ``reset`` + ``get_observation``).
    Its ``LLMObservationWrapper`` keeps the history across ``reset``, so the observation
    would grow with every episode: each episode gets a fresh ``ta.make`` (untimed).
    """

    #: The TextArena env id and its player count (``bench_games.py`` plays Tic-Tac-Toe).
    env_id: ClassVar[str] = "Sokoban-v0"
    num_players: ClassVar[int] = 1

    def __init__(self) -> None:
        import textarena

        self.ta: Any = textarena
        self.env: Any = None
        self.core: Any = None

    def before_reset(self, seed: int) -> None:
        self.env = self.ta.make(self.env_id)
        core = self.env
        while isinstance(core, self.ta.Wrapper):
            core = core.env
        self.core = core

    def reset(self, seed: int) -> None:
        self.env.reset(num_players=self.num_players, seed=seed)
        self.env.get_observation()

    def step(self, action: Any) -> bool:
        done, _ = self.env.step(action)
        if not done:
            self.env.get_observation()
        return bool(done)

    def moves(self) -> list[Any]:
        moves = sokoban_moves(self.core.room_state, self.core.player_position)
        return [f"[{d}]" for d in moves]

    def signature(self) -> Hashable:
        return self.core.room_state.tobytes()


def peer_specs(
    peer: str, dim_room: tuple[int, int], num_boxes: int
) -> list[tuple[Row, Callable[[], Adapter]]]:
    """Rows of one peer (built in its worker process)."""
    room = f"{dim_room[0]}×{dim_room[1]}, {num_boxes} box{'es' if num_boxes != 1 else ''}"
    if peer == "gym-sokoban":
        return [
            (
                Row(
                    "gym-sokoban-rgb",
                    "peer",
                    f"gym-sokoban Sokoban-v1 ({room})",
                    "rgb_array",
                    "gym.make",
                    "reset generates a room (slow); step re-reads sprite PNGs",
                ),
                lambda: GymSokobanAdapter("rgb_array", dim_room, num_boxes),
            ),
            (
                Row(
                    "gym-sokoban-tiny",
                    "peer",
                    f"gym-sokoban Sokoban-v1 ({room})",
                    "tiny_rgb_array",
                    "env.unwrapped",
                    "1 px/cell; not reachable via gym.make",
                ),
                lambda: GymSokobanAdapter("tiny_rgb_array", dim_room, num_boxes),
            ),
        ]
    if peer == "gem":
        return [
            (
                Row(
                    "gem-sokoban-easy",
                    "peer",
                    "GEM game:Sokoban-v0-easy (6×6, 2 boxes)",
                    "text",
                    "gem.make",
                    "reply \\boxed{dir}",
                ),
                GemAdapter,
            )
        ]
    if peer == "textarena":
        return [
            (
                Row(
                    "textarena-sokoban",
                    "peer",
                    "TextArena Sokoban-v0 (6×6, 3 boxes)",
                    "text",
                    "ta.make",
                    "reply [dir]; step + get_observation; new env per episode",
                ),
                TextArenaAdapter,
            )
        ]
    raise SystemExit(f"Unknown peer {peer!r}; choose one of {', '.join(PEERS)}.")


def run_worker(args: argparse.Namespace) -> None:
    """``--worker PEER``: measure one peer and write its rows to ``--json-out``."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    dim_room = (args.dim_room[0], args.dim_room[1])
    rows = run_rows(
        peer_specs(args.worker, dim_room, args.num_boxes),
        resets=args.resets,
        steps=args.steps,
        warmup=args.warmup,
        seed=args.seed,
        reset_seed=args.reset_seed,
    )
    common.write_worker_payload(args.json_out, args.worker, rows, PEER_PACKAGES)


# --------------------------------------------------------------------------- orchestrator


def run_peer(
    peer: str,
    args: argparse.Namespace,
    room: tuple[tuple[int, int], int],
    *,
    resets: int,
    steps: int,
    seed: int,
    reset_seed: int,
) -> tuple[list[Row], dict[str, Any]]:
    """Run one round of one peer's worker in ``--bench-python``; its rows (raw results),
    or error rows on failure."""
    payload, failure = common.run_peer_worker(
        Path(__file__).resolve(),
        args.bench_python,
        peer,
        common.cli_flags(
            resets=resets,
            steps=steps,
            warmup=args.warmup,
            seed=seed,
            reset_seed=reset_seed,
            dim_room=room[0],
            num_boxes=room[1],
        ),
        timeout=args.peer_timeout,
        cwd=REPO,
        echo_prefix="  measuring",
    )
    if payload is None:
        placeholder = [row for row, _ in peer_specs(peer, *room)]
        for row in placeholder:
            row.error = failure
        return placeholder, {}
    return [Row(**r) for r in payload.pop("rows")], payload


def build_report(
    rows: list[Row],
    peer_meta: dict[str, Any],
    args: argparse.Namespace,
    room: tuple[tuple[int, int], int],
) -> dict[str, Any]:
    """Ratios, verdict and everything else the JSON records."""
    base = next((r for r in rows if r.key == "ours-sokoban-text-make"), None)
    base_us = base.step_median() if base else None
    base_mean = base.step_mean() if base else None
    for r in rows:
        us, mean = r.step_median(), r.step_mean()
        r.result["step_ratio_vs_ours_text"] = us / base_us if us and base_us else None
        r.result["step_mean_ratio_vs_ours_text"] = mean / base_mean if mean and base_mean else None
    peers: list[tuple[float, Row]] = []
    for r in rows:
        us = r.step_median()
        if r.group == "peer" and us is not None:
            peers.append((us, r))
    fastest = min(peers, key=lambda p: p[0]) if peers else None
    peer_venv: dict[str, Any] = next((meta for meta in peer_meta.values() if meta), {})
    speedup = fastest[0] / base_us if fastest and base_us else None
    gem = next((r for r in rows if r.key == "gem-sokoban-easy" and r.step_median()), None)
    base_reset = base.result.get("reset", {}).get("median_us") if base else None
    gem_reset = gem.result.get("reset", {}).get("median_us") if gem else None
    gem_step = gem.step_median() if gem else None
    means = [m for r in rows if r.group == "peer" and (m := r.step_mean()) is not None]
    speedup_mean = min(means) / base_mean if means and base_mean else None
    return {
        "benchmark": "bench_grid",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "resets": args.resets,
            "steps": args.steps,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "seed": args.seed,
            "difficulty": args.difficulty,
            "gym_sokoban_room": {"dim_room": list(room[0]), "num_boxes": room[1]},
        },
        "machine": common.machine_info(),
        "versions": common.versions_record(OUR_PACKAGES, peer_venv),
        "baseline": base.key if base else None,
        "verdict": {
            "metric": "peer step median / ours Sokoban text step median (gym.make)",
            "fastest_peer": fastest[1].key if fastest else None,
            "speedup": speedup,
            "target": TARGET_SPEEDUP,
            "met": speedup is not None and speedup >= TARGET_SPEEDUP,
            "speedup_by_mean": speedup_mean,
            "reset_median_us": base_reset,
            "reset_target_us": TARGET_RESET_US,
            "reset_met": base_reset is not None and base_reset <= TARGET_RESET_US,
            "gem_reset_median_us": gem_reset,
            "gem_step_median_us": gem_step,
            "step_speedup_vs_gem": gem_step / base_us if gem_step and base_us else None,
        },
        "rows": [asdict(r) for r in rows],
    }


def print_report(rows: list[Row], report: dict[str, Any]) -> None:
    """The rich table and the verdict line."""
    columns = [
        ("env", "left"),
        ("obs", "left"),
        ("API", "left"),
        ("reset µs\nmedian", "right"),
        ("step µs\nmedian", "right"),
        ("step µs\np90", "right"),
        ("step µs\nmean", "right"),
        ("step vs\nours text", "right"),
        ("valid\nmoves", "right"),
        ("notes", "left"),
    ]
    table_rows = []
    for r in rows:
        if r.error:
            error = r.error if len(r.error) <= 70 else r.error[:69] + "…"
            table_rows.append([r.env, r.obs, r.api, "n/a", "n/a", "n/a", "n/a", "n/a", "", error])
            continue
        res = r.result
        ratio = res.get("step_ratio_vs_ours_text")
        table_rows.append(
            [
                r.env,
                r.obs,
                r.api,
                common.fmt_us(res["reset"].get("median_us")),
                common.fmt_us(res["step"].get("median_us")),
                common.fmt_us(res["step"].get("p90_us")),
                common.fmt_us(res["step"].get("mean_us")),
                common.fmt_ratio(ratio) + (" (base)" if r.key == report["baseline"] else ""),
                f"{res['valid_fraction']:.0%}",
                r.notes.strip(),
            ]
        )
    n_ours = sum(r.group == "ours" for r in rows)
    s = report["settings"]
    common.print_table(
        f"Grid-world speed: {s['resets']} resets and {s['steps']} steps of random valid moves "
        f"per row, in {s['rounds']} round(s); ratio = row step median / ours Sokoban text "
        "step median through gym.make",
        columns,
        table_rows,
        sections=[n_ours] if 0 < n_ours < len(rows) else [],
    )
    v = report["verdict"]
    if v["speedup"] is None:
        print(
            f"text step speed-up vs fastest peer: n/a (target ≥ {TARGET_SPEEDUP:g}×) — a side "
            "has no numbers"
        )
    else:
        print(
            f"text step speed-up vs fastest peer: {v['speedup']:.1f}× "
            f"(target ≥ {TARGET_SPEEDUP:g}×; fastest peer: {v['fastest_peer']})"
        )
    if v["speedup_by_mean"] is not None:
        print(f"  (by mean step time, tail included: {v['speedup_by_mean']:.1f}×)")
    if v["reset_median_us"] is not None:
        gem = v["gem_reset_median_us"]
        print(
            f"Sokoban text reset median: {v['reset_median_us']:.0f} µs (target ≤ "
            f"{TARGET_RESET_US:g} µs)" + (f"; GEM {gem:.0f} µs" if gem else "")
        )


def run_orchestrator(args: argparse.Namespace) -> int:
    """Measure ours, run the peer workers, print the table, write the JSON."""
    room = our_sokoban_size(args.difficulty)
    load_before = os.getloadavg()
    rounds: list[list[Row]] = []
    peer_meta: dict[str, Any] = {}
    for rnd in range(args.rounds):
        seed = args.seed + ROUND_STRIDE * rnd
        # Split the totals exactly: the first rounds take the remainder.
        resets = args.resets // args.rounds + (rnd < args.resets % args.rounds)
        steps = args.steps // args.rounds + (rnd < args.steps % args.rounds)
        reset_seed = args.seed + rnd * MAX_ROWS_PER_ROUND * (args.resets // args.rounds + 1)
        print(
            f"round {rnd + 1}/{args.rounds}, ours ({sys.executable}):", file=sys.stderr, flush=True
        )
        round_rows = run_rows(
            our_specs(args.difficulty),
            resets=resets,
            steps=steps,
            warmup=args.warmup,
            seed=seed,
            reset_seed=reset_seed,
        )
        for peer in args.peers:
            peer_rows, meta = run_peer(
                peer, args, room, resets=resets, steps=steps, seed=seed, reset_seed=reset_seed
            )
            round_rows.extend(peer_rows)
            peer_meta[peer] = meta or peer_meta.get(peer, {})
        rounds.append(round_rows)
    rows = merge_rounds(rounds)
    report = build_report(rows, peer_meta, args, room)
    report["machine"]["loadavg_before"] = list(load_before)
    report["machine"]["loadavg_after"] = list(os.getloadavg())
    out = common.results_path("bench_grid", quick=args.quick, out=args.out)
    common.write_json(out, report)
    print_report(rows, report)
    print(f"results: {out}")
    if any(r.error for r in rows):
        return 1 if args.strict else 0
    if args.check and not report["verdict"]["met"]:
        return 1
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--worker`` ones are internal)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 5 resets and 100 steps per row (JSON: bench_grid_quick.json)",
    )
    p.add_argument("--resets", type=int, help="resets timed per row (default 200)")
    p.add_argument("--steps", type=int, help="steps timed per row (default 5000)")
    p.add_argument(
        "--rounds",
        type=int,
        help="rounds the resets and steps are split over, each running every row "
        "in turn, so slow spells of a shared machine hit all rows (default 3)",
    )
    p.add_argument(
        "--warmup", type=int, help="untimed warm-up episodes per row and round (default 3)"
    )
    p.add_argument("--seed", type=int, default=0, help="first reset seed and move-draw seed")
    p.add_argument("--difficulty", default="easy", help="difficulty of our envs (default easy)")
    common.add_peer_options(p, "bench_grid", PEERS, peer_timeout=1800.0)
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 when the speed-up is below {TARGET_SPEEDUP:g}×",
    )
    p.add_argument(
        "--dim-room", type=int, nargs=2, default=list(FALLBACK_ROOM[0]), help=argparse.SUPPRESS
    )
    p.add_argument("--num-boxes", type=int, default=FALLBACK_ROOM[1], help=argparse.SUPPRESS)
    p.add_argument("--reset-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    args.resets = args.resets if args.resets is not None else (5 if quick else 200)
    args.steps = args.steps if args.steps is not None else (100 if quick else 5000)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    args.rounds = args.rounds if args.rounds is not None else (1 if quick else 3)
    if min(args.resets, args.steps, args.rounds) < 1 or args.warmup < 0:
        p.error("--resets, --steps and --rounds must be at least 1, --warmup at least 0")
    common.check_peer_options(p, args, PEERS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the orchestrator, or a peer worker with ``--worker``."""
    return common.run_main(parse_args(argv), run_worker, run_orchestrator)


if __name__ == "__main__":
    sys.exit(main())
