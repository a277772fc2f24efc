"""Maze tasks: difficulty presets, deterministic train/test generation and fixed eval sets.

A task is fully determined by ``(difficulty, split, seed)`` and named
``maze-<difficulty>-<split>-<seed:05d>``. Train and test draw from different seed streams,
and are also disjoint *by content*: a maze whose content hash falls in the other split is
redrawn, which matters for ``easy`` where only a few thousand distinct mazes exist.

The fixed evaluation sets (``mtenvs/assets/grid/maze_<difficulty>.json``, the first
:data:`EVAL_SET_SIZE` test tasks) are frozen copies, so reference scores stay comparable
even if the generator changes. Regenerate them with::

    python -m mtenvs.envs.grid.maze_tasks --write-eval-sets
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from mtenvs.core.tasks import SPLITS as _SPLITS
from mtenvs.core.tasks import content_split, read_eval_set, write_eval_set
from mtenvs.core.tasks import parse_task_id as parse_ids
from mtenvs.envs.grid.maze_rules import generate_maze, grid_distances
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "DIFFICULTIES",
    "EVAL_SET_SIZE",
    "SEEDS_PER_SPLIT",
    "DifficultySpec",
    "MazeTask",
    "eval_set",
    "make_task",
    "parse_task_id",
    "task_from_dict",
    "task_to_dict",
    "write_eval_sets",
]

Difficulty = Literal["easy", "medium", "hard"]


@dataclass(frozen=True)
class DifficultySpec:
    """Size and default budget of one difficulty."""

    #: Cells per side; the grid (walls included) is ``2 * cells + 1`` characters square.
    cells: int
    #: Extra walls removed after the perfect maze is carved (alternative routes).
    loops: int
    #: Default move budget; ``max_turns`` defaults to it divided by ``actions_per_turn``.
    #: About 4x the median optimal length and over 2x the longest seen in 500 test mazes.
    move_budget: int

    @property
    def size(self) -> int:
        """Grid side in characters (walls included)."""
        return 2 * self.cells + 1


DIFFICULTIES: Final[dict[str, DifficultySpec]] = {
    "easy": DifficultySpec(cells=3, loops=0, move_budget=48),
    "medium": DifficultySpec(cells=5, loops=2, move_budget=100),
    "hard": DifficultySpec(cells=7, loops=4, move_budget=160),
}
#: Tasks per split and difficulty (seeds ``0 .. SEEDS_PER_SPLIT - 1``).
SEEDS_PER_SPLIT: Final = 100_000
EVAL_SET_SIZE: Final = 50
#: Root of every maze seed stream (changing it changes every task: bump the env version).
_SEED_TAG: Final = 0x4D415A45  # "MAZE"
_ASSET_DIR: Final = "assets/grid"


@dataclass(frozen=True)
class MazeTask:
    """One maze: ``grid`` rows of ``#``/``.``, ``start``/``goal`` as (row, col) cells, and
    the length of the shortest path in grid steps."""

    task_id: str
    difficulty: str
    split: str
    seed: int
    grid: tuple[str, ...]
    start: tuple[int, int]
    goal: tuple[int, int]
    optimal_length: int


@lru_cache(maxsize=4096)
def make_task(difficulty: str, split: str, seed: int) -> MazeTask:
    """The task ``(difficulty, split, seed)``; the same arguments always give the same maze."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    check_choice("split", split, _SPLITS)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS_PER_SPLIT:
        raise InvalidArgumentError(
            f"Maze task seed must be an int in [0, {SEEDS_PER_SPLIT}), got {seed!r}."
        )
    spec = DIFFICULTIES[difficulty]
    stream = (_SEED_TAG, list(DIFFICULTIES).index(difficulty), _SPLITS.index(split), seed)
    for attempt in range(1000):
        rng = np.random.default_rng([*stream, attempt])
        maze = generate_maze(spec.cells, spec.cells, rng, loops=spec.loops)
        if content_split(repr((maze.grid, maze.start, maze.goal))) == split:
            break
    else:  # pragma: no cover - each attempt lands in the right split with p = 1/2
        raise RuntimeError(f"no {split} maze found for seed {seed}")
    stride = spec.size + 1
    length = grid_distances(maze.grid, maze.start)[maze.goal[0] * stride + maze.goal[1]]
    return MazeTask(
        task_id=f"maze-{difficulty}-{split}-{seed:05d}",
        difficulty=difficulty,
        split=split,
        seed=seed,
        grid=maze.grid,
        start=maze.start,
        goal=maze.goal,
        optimal_length=length,
    )


def parse_task_id(task_id: object) -> tuple[str, str, int]:
    """``(difficulty, split, seed)`` of a task id such as ``maze-medium-test-00012``."""
    return parse_ids("maze", task_id, list(DIFFICULTIES), SEEDS_PER_SPLIT)


def task_to_dict(task: MazeTask) -> dict[str, Any]:
    """A JSON-ready dict of ``task`` (the eval-set file format)."""
    return {
        "task_id": task.task_id,
        "difficulty": task.difficulty,
        "split": task.split,
        "seed": task.seed,
        "grid": list(task.grid),
        "start": list(task.start),
        "goal": list(task.goal),
        "optimal_length": task.optimal_length,
    }


def task_from_dict(data: dict[str, Any]) -> MazeTask:
    """Inverse of :func:`task_to_dict`."""
    return MazeTask(
        task_id=str(data["task_id"]),
        difficulty=str(data["difficulty"]),
        split=str(data["split"]),
        seed=int(data["seed"]),
        grid=tuple(str(row) for row in data["grid"]),
        start=(int(data["start"][0]), int(data["start"][1])),
        goal=(int(data["goal"][0]), int(data["goal"][1])),
        optimal_length=int(data["optimal_length"]),
    )


@cache
def eval_set(difficulty: str) -> tuple[MazeTask, ...]:
    """The fixed evaluation tasks of ``difficulty``, read from the package assets."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    tasks = read_eval_set(f"{_ASSET_DIR}/maze_{difficulty}.json", "Maze", __name__)
    return tuple(task_from_dict(t) for t in tasks)


def write_eval_sets(directory: Path, size: int = EVAL_SET_SIZE) -> list[Path]:
    """Write ``maze_<difficulty>.json`` (the first ``size`` test tasks) into ``directory``."""
    return [
        write_eval_set(
            directory / f"maze_{difficulty}.json",
            "mtenvs/Maze-v0",
            difficulty,
            [task_to_dict(make_task(difficulty, "test", seed)) for seed in range(size)],
        )
        for difficulty in DIFFICULTIES
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m mtenvs.envs.grid.maze_tasks --write-eval-sets``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write-eval-sets",
        action="store_true",
        help="regenerate mtenvs/assets/grid/maze_<difficulty>.json",
    )
    parser.add_argument("--size", type=int, default=EVAL_SET_SIZE)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[2] / _ASSET_DIR
    )
    args = parser.parse_args(argv)
    if not args.write_eval_sets:
        parser.error("nothing to do; pass --write-eval-sets")
    for path in write_eval_sets(args.out, args.size):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
