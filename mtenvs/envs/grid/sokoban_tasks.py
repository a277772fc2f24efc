"""Sokoban tasks: procedural levels that are solvable by construction, and the fixed eval sets.

Generation (as gym-sokoban does it): carve a room with a random walk, put the boxes on their
targets, then play backwards, the player walking and sometimes *pulling* a box. Reversed,
every pull is a push, so the level is solvable; the exact optimal length is then computed
by :class:`~mtenvs.envs.grid.sokoban_solver.SokobanSolver` and levels that are too short
(trivial) or too slow to solve are rejected.

Seeds and splits: level ``index`` of a split is generated from its own NumPy seed sequence
``(SEED_ROOT, split, difficulty, index)``, so it is reproducible from its task id alone.
Train and test are disjoint *by construction*: each layout, up to rotation and reflection,
hashes to one split and the generator skips layouts of the other split.

Fixed eval sets (``mtenvs/assets/grid/sokoban_<difficulty>.json``, test split, indices
``0..EVAL_SET_SIZE-1`` with their optimal solutions) are written by::

    python -m mtenvs.envs.grid.sokoban_tasks --write-eval-sets
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.grid.sokoban_bank import BANK_SPLIT, banked_level
from mtenvs.envs.grid.sokoban_rules import Level, MoveResult, State, box_cells
from mtenvs.envs.grid.sokoban_solver import SokobanSolver, share_solver
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "DIFFICULTIES",
    "EVAL_SET_SIZE",
    "DifficultySpec",
    "SokobanTask",
    "generate_task",
    "layout_split",
    "load_eval_set",
    "parse_task_id",
    "run_generator",
    "task_source",
]

Difficulty = Literal["easy", "medium", "hard"]
SEED_ROOT: Final = 0x50C0BA
EVAL_SET_SIZE: Final = 50
EVAL_SET_VERSION: Final = 1
_SPLIT_IDS: Final = {"train": 1, "test": 2}
_DIFFICULTY_IDS: Final = {"easy": 1, "medium": 2, "hard": 3}
#: LURD notation: lowercase walks, uppercase pushes, in DIRECTIONS order.
_LURD: Final = "udlr"
_MAX_ATTEMPTS: Final = 10_000
#: ``bytes.translate`` table: a LURD letter (either case) to its move index, else 255.
_NOT_LURD: Final = 255
_LURD_CODES: Final = bytes(
    _LURD.find(chr(b).lower()) if chr(b).lower() in _LURD else _NOT_LURD for b in range(256)
)


@dataclass(frozen=True)
class DifficultySpec:
    """Generation parameters of one difficulty."""

    name: str
    #: Interior (rows, cols) sizes drawn from, walls excluded.
    interiors: tuple[tuple[int, int], ...]
    boxes: int
    #: Shortest accepted optimal solution (shorter levels are trivial).
    min_length: int
    max_length: int
    #: Most A* expansions spent verifying a candidate (keeps every level fast to solve).
    node_limit: int
    #: Turn budget when ``max_turns`` is not given (about 3x a long optimal solution).
    default_max_turns: int

    @property
    def room(self) -> tuple[int, int]:
        """The largest (rows, cols) of a level, walls included: images are padded to it."""
        return (max(r for r, _ in self.interiors) + 2, max(c for _, c in self.interiors) + 2)


DIFFICULTIES: Final[dict[str, DifficultySpec]] = {
    "easy": DifficultySpec("easy", ((6, 6),), 1, 6, 30, 5_000, 60),
    "medium": DifficultySpec("medium", ((7, 7), (7, 8), (8, 7), (8, 8)), 2, 12, 50, 20_000, 120),
    "hard": DifficultySpec(
        "hard",
        ((8, 8), (8, 9), (9, 8), (9, 9), (9, 10), (10, 9), (10, 10)),
        3,
        18,
        70,
        20_000,
        180,
    ),
}


@dataclass(frozen=True)
class SokobanTask:
    """One level: its picture (XSB rows), identity and optimal solution."""

    task_id: str
    difficulty: str
    split: str
    #: The generation index (the level's seed within its split and difficulty).
    seed: int
    rows: tuple[str, ...]
    optimal_length: int
    #: An optimal solution in LURD notation (lowercase walk, uppercase push).
    solution: str

    def __deepcopy__(self, memo: dict[int, Any]) -> SokobanTask:
        return self  # immutable: env snapshots share it

    @cached_property
    def parsed(self) -> tuple[Level, State]:
        """The static level and the start state."""
        return Level.from_rows(self.rows)

    @property
    def walls(self) -> frozenset[tuple[int, int]]:
        level = self.parsed[0]
        return frozenset(level.rc(c) for c in level.walls)

    @property
    def targets(self) -> frozenset[tuple[int, int]]:
        level = self.parsed[0]
        return frozenset(level.rc(c) for c in level.targets)

    @property
    def boxes(self) -> frozenset[tuple[int, int]]:
        level, state = self.parsed
        return frozenset(
            level.rc(c) for c in range(level.height * level.width) if state.boxes >> c & 1
        )

    @property
    def player(self) -> tuple[int, int]:
        level, state = self.parsed
        return level.rc(state.player)

    @property
    def solution_moves(self) -> tuple[int, ...]:
        """The solution as move indices into ``DIRECTIONS``."""
        codes = self.solution.encode("ascii", "replace").translate(_LURD_CODES)
        if _NOT_LURD in codes:
            raise ValueError(f"solution {self.solution!r} holds a letter other than LURD")
        return tuple(codes)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "seed": self.seed,
            "rows": list(self.rows),
            "optimal_length": self.optimal_length,
            "solution": self.solution,
        }


def task_id_for(difficulty: str, split: str, index: int) -> str:
    return f"sokoban-{difficulty}-{split}-{index}"


def parse_task_id(task_id: str) -> tuple[str, str, int]:
    """``(difficulty, split, index)`` of an id such as ``sokoban-easy-train-42``."""
    parts = task_id.split("-") if isinstance(task_id, str) else []
    if (
        len(parts) != 4
        or parts[0] != "sokoban"
        or parts[1] not in DIFFICULTIES
        or parts[2] not in _SPLIT_IDS
        or not parts[3].isdigit()
    ):
        raise InvalidArgumentError(
            f"Unknown Sokoban task id {task_id!r}; expected 'sokoban-<difficulty>-<split>-"
            f"<index>' with difficulty one of {', '.join(map(repr, DIFFICULTIES))} and split "
            "'train' or 'test', e.g. 'sokoban-easy-train-42'."
        )
    return parts[1], parts[2], int(parts[3])


def layout_split(rows: tuple[str, ...]) -> str:
    """The split a layout belongs to: a hash of its canonical form under the 8 symmetries
    of the square, so a test level rotated or mirrored is still a test level."""
    variants = []
    grid = list(rows)
    for _ in range(4):
        grid = ["".join(col) for col in zip(*grid[::-1])]  # rotate 90 degrees
        variants.append("\n".join(grid))
        variants.append("\n".join(r[::-1] for r in grid))
    digest = hashlib.blake2b(min(variants).encode(), digest_size=8).digest()
    return "test" if digest[0] & 1 else "train"


# ---------------------------------------------------------------------- generation

# Carving stamps (3x3, centred on the walker), as in gym-sokoban's room topology.
_STAMPS: Final = (
    ((0, -1), (0, 0), (0, 1)),
    ((-1, 0), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, -1), (1, 0)),
    ((0, 0), (0, 1), (1, 0)),
)
_STEPS4: Final = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _carve_room(rng: np.random.Generator, rows: int, cols: int) -> list[list[bool]]:
    """A connected floor region in a ``rows x cols`` interior, by a turning random walk."""
    floor = [[False] * cols for _ in range(rows)]
    goal = int(rows * cols * rng.uniform(0.5, 0.7))
    r, c = int(rng.integers(rows)), int(rng.integers(cols))
    dr, dc = _STEPS4[int(rng.integers(4))]
    count = 0
    # Python lists: indexing NumPy arrays one scalar at a time costs more than the walk.
    draws = rng.random(4096).tolist()
    picks = rng.integers(0, 20, size=4096).tolist()
    stamps = len(_STAMPS)
    for draw, pick in zip(draws, picks):
        if count >= goal:
            break
        if draw < 0.35:
            dr, dc = _STEPS4[pick % 4]
        r, c = min(max(r + dr, 0), rows - 1), min(max(c + dc, 0), cols - 1)
        for sr, sc in _STAMPS[pick % stamps]:
            rr, cc = r + sr, c + sc
            if 0 <= rr < rows and 0 <= cc < cols and not floor[rr][cc]:
                floor[rr][cc] = True
                count += 1
    return floor


def _reach_mask(level: Level, player: int, boxes: int) -> int:
    """Bitmask of the cells the player can walk to without pushing: a bit-parallel flood
    fill (the border is all walls, so shifting by one never wraps into the next row)."""
    free = level.floor_mask & ~boxes
    width = level.width
    reach = 1 << player
    while True:
        grown = (reach | reach << 1 | reach >> 1 | reach << width | reach >> width) & free
        grown |= 1 << player
        if grown == reach:
            return reach
        reach = grown


def _reachable(level: Level, player: int, boxes: int) -> list[int]:
    """Cells the player can walk to without pushing, in increasing order."""
    return list(box_cells(_reach_mask(level, player, boxes)))


def _reverse_play(rng: np.random.Generator, level: Level, player: int, pulls: int) -> State:
    """Play backwards from the solved state: ``pulls`` times, walk to a box and pull it one
    to three cells. Reversed, every pull is a push and every walk a walk, so the result is
    solvable."""
    wall, deltas = level.wall, level.deltas
    boxes = level.targets_mask
    draws = rng.random((pulls + 1, 3)).tolist()
    for u, v, w in draws[:-1]:
        reach = _reach_mask(level, player, boxes)
        options = [
            (b, d)
            for b in box_cells(boxes)
            for d in deltas
            if reach >> (b + d) & 1 and not wall[b + 2 * d] and not boxes >> (b + 2 * d) & 1
        ]
        if not options:
            break
        b, d = options[int(u * len(options))]
        for _ in range(1 + int(v * 3)):  # the player stands on b + d and steps back
            if wall[b + 2 * d] or boxes >> (b + 2 * d) & 1:
                break
            boxes ^= (1 << b) | (1 << (b + d))
            b += d
        player = b + d
        del w
    # End anywhere the player can walk to (the forward game starts with that walk).
    cells = _reachable(level, player, boxes)
    player = cells[int(draws[-1][2] * len(cells))]
    return State(player, boxes)


def _candidate(rng: np.random.Generator, spec: DifficultySpec) -> tuple[Level, State] | None:
    rows, cols = spec.interiors[int(rng.integers(len(spec.interiors)))]
    floor = _carve_room(rng, rows, cols)
    cells = [r * cols + c for r in range(rows) for c in range(cols) if floor[r][c]]
    if len(cells) < spec.boxes + 4:
        return None
    width = cols + 2
    grid_cells = [(c // cols + 1) * width + c % cols + 1 for c in cells]
    picks = rng.permutation(len(grid_cells))[: spec.boxes + 1]
    targets = frozenset(grid_cells[i] for i in picks[1:])
    all_cells = frozenset(range((rows + 2) * width))
    level = Level(rows + 2, width, all_cells - frozenset(grid_cells), targets)
    solver = SokobanSolver(level)
    best: tuple[int, State] | None = None
    for _ in range(6):  # a few reverse plays; keep the one whose boxes lie furthest out
        state = _reverse_play(
            rng, level, grid_cells[picks[0]], int(rng.integers(3, 8)) * spec.boxes
        )
        score = solver._box_heuristic(state.boxes)
        if best is None or score > best[0]:
            best = (score, state)
    assert best is not None
    return (level, best[1]) if best[0] > 0 else None


def _crop(rows: tuple[str, ...]) -> tuple[str, ...]:
    """Drop all-wall rows and columns beyond the one-cell wall border (shorter text)."""
    inner = [i for i, row in enumerate(rows) if row.strip("#")]
    cols = [j for j in range(len(rows[0])) if any(row[j] != "#" for row in rows)]
    r0, r1, c0, c1 = inner[0] - 1, inner[-1] + 1, cols[0] - 1, cols[-1] + 1
    return tuple(row[c0 : c1 + 1] for row in rows[r0 : r1 + 1])


def _lurd(level: Level, state: State, moves: tuple[int, ...]) -> str:
    out = []
    player, boxes = state
    for move in moves:
        player, boxes, result = level.move_raw(player, boxes, move)
        ch = _LURD[move]
        out.append(ch.upper() if result == MoveResult.PUSHED else ch)
    return "".join(out)


@lru_cache(maxsize=256)
def generate_task(difficulty: str, split: str, index: int) -> SokobanTask:
    """Level ``index`` of ``split`` at ``difficulty`` (deterministic, cached): from the
    shipped bank when it holds the level (see :mod:`.sokoban_bank`), else generated."""
    _check_index(difficulty, split, index)
    if split == BANK_SPLIT:
        banked = banked_level(difficulty, index)
        if banked is not None:
            rows, solution = banked
            return SokobanTask(
                task_id=task_id_for(difficulty, split, index),
                difficulty=difficulty,
                split=split,
                seed=index,
                rows=rows,
                optimal_length=len(solution),
                solution=solution,
            )
    return run_generator(difficulty, split, index)


def _check_index(difficulty: str, split: str, index: int) -> None:
    check_choice("difficulty", difficulty, DIFFICULTIES)
    check_choice("split", split, _SPLIT_IDS)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidArgumentError(f"index must be a non-negative int, got {index!r}.")


def run_generator(difficulty: str, split: str, index: int) -> SokobanTask:
    """Level ``index`` of ``split`` at ``difficulty``, always generated (never from the
    bank, not cached): what the bank is built from and checked against."""
    _check_index(difficulty, split, index)
    spec = DIFFICULTIES[difficulty]
    rng = np.random.default_rng([SEED_ROOT, _SPLIT_IDS[split], _DIFFICULTY_IDS[difficulty], index])
    for _ in range(_MAX_ATTEMPTS):
        found = _candidate(rng, spec)
        if found is None:
            continue
        level, state = found
        rows = _crop(level.to_rows(state))
        level, state = Level.from_rows(rows)
        if layout_split(rows) != split:
            continue
        solver = SokobanSolver(level)
        solution = solver.solve(state.player, state.boxes, node_limit=spec.node_limit)
        if solution is None or not spec.min_length <= solution.distance <= spec.max_length:
            continue
        share_solver(solver)  # an env resetting to this level reuses its tables
        return SokobanTask(
            task_id=task_id_for(difficulty, split, index),
            difficulty=difficulty,
            split=split,
            seed=index,
            rows=rows,
            optimal_length=solution.distance,
            solution=_lurd(level, state, solution.moves),
        )
    raise RuntimeError(f"no {difficulty} level found for index {index}")  # pragma: no cover


# ---------------------------------------------------------------------- eval sets


def _eval_set_resource(difficulty: str) -> Any:
    return resources.files("mtenvs").joinpath(f"assets/grid/sokoban_{difficulty}.json")


@cache
def load_eval_set(difficulty: str) -> tuple[SokobanTask, ...]:
    """The fixed eval set of ``difficulty`` (test split), shipped with the package."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    data = json.loads(_eval_set_resource(difficulty).read_text(encoding="utf-8"))
    return tuple(
        SokobanTask(
            task_id=item["task_id"],
            difficulty=difficulty,
            split=data["split"],
            seed=int(item["seed"]),
            rows=tuple(item["rows"]),
            optimal_length=int(item["optimal_length"]),
            solution=item["solution"],
        )
        for item in data["levels"]
    )


@cache  # immutable, and an env asks for it on every reset
def task_source(difficulty: str, split: str, *, use_eval_set: bool) -> TaskSource[SokobanTask]:
    """The levels an env of ``difficulty`` and ``split`` plays: the fixed eval set (whose
    levels ``options={"task_id": …}`` also names by index), else generated levels (a seed
    draws the level index from the env's generator)."""
    if use_eval_set:
        tasks = load_eval_set(difficulty)

        def by_index(task_id: object) -> SokobanTask:
            if (
                isinstance(task_id, int)
                and not isinstance(task_id, bool)
                and 0 <= task_id < len(tasks)
            ):
                return tasks[task_id]
            raise InvalidArgumentError(
                f"task_id {task_id!r} is not in the {difficulty} eval set; pass an index "
                f"0..{len(tasks) - 1} or an id such as {tasks[0].task_id!r}."
            )

        return TaskList(tasks, f"the {difficulty} eval set", lookup=by_index)

    def by_id(task_id: object) -> SokobanTask:
        got_difficulty, got_split, index = parse_task_id(task_id)  # type: ignore[arg-type]
        if (got_difficulty, got_split) != (difficulty, split):
            raise InvalidArgumentError(
                f"task_id {task_id!r} is a {got_difficulty}/{got_split} level but this env "
                f"plays {difficulty}/{split} levels; make the env with "
                f"difficulty={got_difficulty!r}, split={got_split!r}."
            )
        return generate_task(difficulty, split, index)

    return GeneratedTasks(
        lambda rng: generate_task(difficulty, split, int(rng.integers(2**31))), by_id
    )


def build_eval_set(difficulty: str, size: int = EVAL_SET_SIZE) -> dict[str, Any]:
    tasks = [generate_task(difficulty, "test", i) for i in range(size)]
    return {
        "env": "mtenvs/Sokoban-v0",
        "version": EVAL_SET_VERSION,
        "difficulty": difficulty,
        "split": "test",
        "size": size,
        "levels": [t.to_json() for t in tasks],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--write-eval-sets",
        action="store_true",
        help="regenerate mtenvs/assets/grid/sokoban_<difficulty>.json",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[2] / "assets" / "grid"
    )
    args = parser.parse_args(argv)
    if not args.write_eval_sets:
        parser.print_help()
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for difficulty in DIFFICULTIES:
        data = build_eval_set(difficulty)
        path = args.out / f"sokoban_{difficulty}.json"
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        lengths = [lv["optimal_length"] for lv in data["levels"]]
        print(f"{path}: {len(lengths)} levels, optimal lengths {min(lengths)}..{max(lengths)}")


if __name__ == "__main__":
    main()
