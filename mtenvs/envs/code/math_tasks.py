"""PythonMath tasks: difficulties, deterministic train/test generation and fixed eval sets.

A task is fully determined by ``(difficulty, split, seed)`` and named
``math-<difficulty>-<split>-<seed:05d>``; its family is ``FAMILY_NAMES[seed % 12]``, so
any 12 consecutive seeds cover every family. Train and test are disjoint *by content*: a
problem whose question hashes to the other split is redrawn.

The fixed evaluation sets (``mtenvs/assets/code/math_<difficulty>.json``, the first
:data:`EVAL_SET_SIZE` test tasks, 5 per family) are frozen copies, so reference scores stay
comparable even if the generator (or sympy) changes. Regenerate them with::

    python -m mtenvs.envs.code.math_tasks --write-eval-sets
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from mtenvs.core.tasks import SPLITS as _SPLITS
from mtenvs.core.tasks import content_split, read_eval_set, write_eval_set
from mtenvs.core.tasks import parse_task_id as parse_ids
from mtenvs.envs.code.math_families import FAMILIES
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "DIFFICULTIES",
    "EVAL_SET_SIZE",
    "FAMILY_NAMES",
    "SEEDS_PER_SPLIT",
    "MathTask",
    "eval_set",
    "make_task",
    "parse_task_id",
    "write_eval_sets",
]

DIFFICULTIES: Final = ("easy", "medium", "hard")
FAMILY_NAMES: Final = tuple(FAMILIES)
SEEDS_PER_SPLIT: Final = 100_000
EVAL_SET_SIZE: Final = 60
#: Root of every math seed stream (changing it changes every task: bump the env version).
_SEED_TAG: Final = 0x4D415448  # "MATH"
_ASSET_DIR: Final = "assets/code"


@dataclass(frozen=True)
class MathTask:
    """One problem: the question, the exact expected answer (math_parse syntax) and its
    kind, and the reference sympy computation that prints it."""

    task_id: str
    difficulty: str
    split: str
    seed: int
    family: str
    question: str
    answer: str
    kind: str
    solution: str


@lru_cache(maxsize=4096)
def make_task(difficulty: str, split: str, seed: int) -> MathTask:
    """The task ``(difficulty, split, seed)``; the same arguments always give the same one."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    check_choice("split", split, _SPLITS)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS_PER_SPLIT:
        raise InvalidArgumentError(
            f"Math task seed must be an int in [0, {SEEDS_PER_SPLIT}), got {seed!r}."
        )
    level = DIFFICULTIES.index(difficulty)
    family = FAMILY_NAMES[seed % len(FAMILY_NAMES)]
    for attempt in range(1000):
        rng = np.random.default_rng([_SEED_TAG, level, _SPLITS.index(split), seed, attempt])
        problem = FAMILIES[family](rng, level)
        if content_split(problem.question) == split:
            break
    else:  # pragma: no cover - each attempt lands in the right split with p = 1/2
        raise RuntimeError(f"no {split} problem found for seed {seed}")
    return MathTask(
        task_id=f"math-{difficulty}-{split}-{seed:05d}",
        difficulty=difficulty,
        split=split,
        seed=seed,
        family=family,
        question=problem.question,
        answer=problem.answer,
        kind=problem.kind,
        solution=problem.solution,
    )


def parse_task_id(task_id: object) -> tuple[str, str, int]:
    """``(difficulty, split, seed)`` of a task id such as ``math-medium-test-00012``."""
    return parse_ids("math", task_id, DIFFICULTIES, SEEDS_PER_SPLIT)


def task_from_dict(data: dict[str, Any]) -> MathTask:
    """Inverse of ``dataclasses.asdict`` (the eval-set file format)."""
    return MathTask(**{name: data[name] for name in MathTask.__dataclass_fields__})


@cache
def eval_set(difficulty: str) -> tuple[MathTask, ...]:
    """The fixed evaluation tasks of ``difficulty``, read from the package assets."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    tasks = read_eval_set(f"{_ASSET_DIR}/math_{difficulty}.json", "Math", __name__)
    return tuple(task_from_dict(t) for t in tasks)


def write_eval_sets(directory: Path, size: int = EVAL_SET_SIZE) -> list[Path]:
    """Write ``math_<difficulty>.json`` (the first ``size`` test tasks) into ``directory``."""
    return [
        write_eval_set(
            directory / f"math_{difficulty}.json",
            "mtenvs/PythonMath-v0",
            difficulty,
            [asdict(make_task(difficulty, "test", seed)) for seed in range(size)],
        )
        for difficulty in DIFFICULTIES
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m mtenvs.envs.code.math_tasks --write-eval-sets``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--write-eval-sets",
        action="store_true",
        help="regenerate mtenvs/assets/code/math_<difficulty>.json",
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
