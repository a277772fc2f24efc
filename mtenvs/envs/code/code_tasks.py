"""PythonCode tasks: authored problems, procedurally varied instances, splits and eval set.

* **Authored problems** (``mtenvs/assets/code/problems.jsonl``, built by
  ``scripts/build_code_problems.py``): 100 problems over strings, arrays, hashing, sorting,
  dp, graphs, parsing and simulation, each with a reference solution and at least 5 hidden
  input/expected tests including edge cases. The file fixes each problem's split (every
  fourth problem of a category, by id, is a test problem). Task id ``code-<problem id>``.
* **Variants** (:mod:`mtenvs.envs.code.code_variants`): templates whose constants come
  from a seed; task id ``code-var-<template>-<split>-<seed:05d>``. Train and test are
  disjoint by content (an instance whose parameters hash to the other split is redrawn).
* **Eval set** (``mtenvs/assets/code/code_eval.json``): every authored test problem plus the
  first :data:`EVAL_VARIANTS_PER_TEMPLATE` test instances of each template, frozen so
  reference scores stay comparable. Regenerate with
  ``python -m mtenvs.envs.code.code_tasks --write-eval-set``.

The task record (:class:`~mtenvs.envs.code.code_task.CodeTask`) and its JSON form live in
:mod:`mtenvs.envs.code.code_task`, which the variants build on too; they are re-exported
here.
"""

from __future__ import annotations

import argparse
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from mtenvs.envs.code.code_task import CodeTask, task_from_dict, task_to_dict, tests_from_pairs
from mtenvs.envs.code.code_variants import TEMPLATES, make_variant
from mtenvs.error import InvalidArgumentError

__all__ = [
    "CATEGORIES",
    "EVAL_VARIANTS_PER_TEMPLATE",
    "CodeTask",
    "authored_problems",
    "eval_set",
    "task_from_dict",
    "task_to_dict",
    "tests_from_pairs",
]

CATEGORIES: Final = (
    "strings",
    "arrays",
    "hashing",
    "sorting",
    "dp",
    "graphs",
    "parsing",
    "simulation",
)
EVAL_VARIANTS_PER_TEMPLATE: Final = 3
_ASSET_DIR: Final = "assets/code"
_VARIANT_ID = re.compile(r"code-var-([a-z_]+)-(train|test)-(\d{1,9})")


def _asset(name: str) -> str:
    return resources.files("mtenvs").joinpath(f"{_ASSET_DIR}/{name}").read_text(encoding="utf-8")


@cache
def authored_problems() -> tuple[CodeTask, ...]:
    """Every authored problem, sorted by id."""
    tasks = []
    for line in _asset("problems.jsonl").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        tasks.append(
            CodeTask(
                task_id=f"code-{rec['id']}",
                source="authored",
                category=rec["category"],
                difficulty=rec["difficulty"],
                split=rec["split"],
                prompt=rec["prompt"],
                entry_point=rec["entry_point"],
                solution=rec["solution"],
                tests=tests_from_pairs(rec["entry_point"], rec["tests"]),
            )
        )
    return tuple(sorted(tasks, key=lambda t: t.task_id))


@cache
def _authored_by_id() -> dict[str, CodeTask]:
    return {t.task_id: t for t in authored_problems()}


def find_task(task_id: object) -> CodeTask:
    """The task named ``task_id`` (an authored problem or a variant)."""
    if isinstance(task_id, str):
        if task_id in _authored_by_id():
            return _authored_by_id()[task_id]
        match = _VARIANT_ID.fullmatch(task_id)
        if match and match.group(1) in TEMPLATES:
            return make_variant(match.group(1), match.group(2), int(match.group(3)))
    raise InvalidArgumentError(
        f"Unknown PythonCode task id {task_id!r}; expected 'code-<problem>' (e.g. "
        "'code-two_sum') or 'code-var-<template>-<train|test>-<seed>' (templates: "
        f"{', '.join(sorted(TEMPLATES))})."
    )


@cache
def eval_set() -> tuple[CodeTask, ...]:
    """The fixed evaluation tasks, read from the package assets."""
    data = json.loads(_asset("code_eval.json"))
    return tuple(task_from_dict(t) for t in data["tasks"])


def build_eval_set() -> list[CodeTask]:
    tasks = [t for t in authored_problems() if t.split == "test"]
    for name in sorted(TEMPLATES):
        tasks += [make_variant(name, "test", seed) for seed in range(EVAL_VARIANTS_PER_TEMPLATE)]
    return tasks


def write_eval_set(path: Path) -> Path:
    payload = {
        "env": "mtenvs/PythonCode-v0",
        "split": "test",
        "format_version": 1,
        "tasks": [task_to_dict(t) for t in build_eval_set()],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m mtenvs.envs.code.code_tasks --write-eval-set``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--write-eval-set", action="store_true", help="regenerate mtenvs/assets/code/code_eval.json"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[2] / _ASSET_DIR / "code_eval.json",
    )
    args = parser.parse_args(argv)
    if not args.write_eval_set:
        parser.error("nothing to do; pass --write-eval-set")
    print(f"wrote {write_eval_set(args.out)}")


if __name__ == "__main__":
    main()
