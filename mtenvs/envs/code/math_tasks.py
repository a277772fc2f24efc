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
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

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
_SPLITS: Final = ("train", "test")
#: Root of every math seed stream (changing it changes every task: bump the env version).
_SEED_TAG: Final = 0x4D415448  # "MATH"
_TASK_ID = re.compile(r"math-(easy|medium|hard)-(train|test)-(\d{1,9})")
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


def _content_split(question: str) -> str:
    digest = hashlib.blake2b(question.encode("utf-8"), digest_size=1).digest()
    return _SPLITS[digest[0] & 1]


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
        if _content_split(problem.question) == split:
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
    match = _TASK_ID.fullmatch(task_id) if isinstance(task_id, str) else None
    if match is None or int(match.group(3)) >= SEEDS_PER_SPLIT:
        raise InvalidArgumentError(
            f"Unknown math task id {task_id!r}; expected 'math-<easy|medium|hard>-"
            f"<train|test>-<seed>' with seed < {SEEDS_PER_SPLIT}, e.g. 'math-easy-test-00012'."
        )
    return match.group(1), match.group(2), int(match.group(3))


def task_from_dict(data: dict[str, Any]) -> MathTask:
    """Inverse of ``dataclasses.asdict`` (the eval-set file format)."""
    return MathTask(**{name: data[name] for name in MathTask.__dataclass_fields__})


@cache
def eval_set(difficulty: str) -> tuple[MathTask, ...]:
    """The fixed evaluation tasks of ``difficulty``, read from the package assets."""
    check_choice("difficulty", difficulty, DIFFICULTIES)
    path = resources.files("mtenvs").joinpath(f"{_ASSET_DIR}/math_{difficulty}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:  # pragma: no cover - a broken install
        raise FileNotFoundError(
            f"Math eval set {path} is missing; run "
            "`python -m mtenvs.envs.code.math_tasks --write-eval-sets`."
        ) from e
    return tuple(task_from_dict(t) for t in data["tasks"])


def write_eval_sets(directory: Path, size: int = EVAL_SET_SIZE) -> list[Path]:
    """Write ``math_<difficulty>.json`` (the first ``size`` test tasks) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for difficulty in DIFFICULTIES:
        payload = {
            "env": "mtenvs/PythonMath-v0",
            "difficulty": difficulty,
            "split": "test",
            "format_version": 1,
            "tasks": [asdict(make_task(difficulty, "test", seed)) for seed in range(size)],
        }
        path = directory / f"math_{difficulty}.json"
        path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m mtenvs.envs.code.math_tasks --write-eval-sets``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write-eval-sets", action="store_true",
                        help="regenerate mtenvs/assets/code/math_<difficulty>.json")
    parser.add_argument("--size", type=int, default=EVAL_SET_SIZE)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[2] / _ASSET_DIR)
    args = parser.parse_args(argv)
    if not args.write_eval_sets:
        parser.error("nothing to do; pass --write-eval-sets")
    for path in write_eval_sets(args.out, args.size):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
