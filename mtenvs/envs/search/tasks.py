"""Where a Search env's questions come from: the generated world's splits, its fixed eval
set, or a dataset file; and the world itself, generated once per process.

Generated questions are :func:`~mtenvs.envs.search.questions.generate_task` of the env's
split at an index drawn from the env's ``np_random``; a task id names the world, the split
and the index (``search-w-s0-n3000-v1-test-7``), so any env of the same world plays it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.search import questions
from mtenvs.envs.search.types import SearchTask
from mtenvs.envs.search.world import World, WorldSpec
from mtenvs.error import InvalidArgumentError

__all__ = ["EVAL_SET_SIZE", "dataset_source", "world", "world_source"]

#: Eval-set size of a generated world (its first test questions).
EVAL_SET_SIZE: Final = questions.EVAL_SET_SIZE


@lru_cache(maxsize=4)
def world(spec: WorldSpec) -> World:
    """The world of ``spec`` (generated on first use, then shared by the process's envs)."""
    return World.generate(spec)


@lru_cache(maxsize=4)
def _eval_tasks(spec: WorldSpec) -> tuple[SearchTask, ...]:
    return tuple(questions.eval_set(world(spec), n=EVAL_SET_SIZE))


def world_source(spec: WorldSpec, name: str, split: str, eval_set: bool) -> TaskSource[SearchTask]:
    """The questions of the world ``spec`` (called ``name`` in errors): its eval set, or
    questions of ``split`` generated from the env's ``np_random``."""

    def by_id(task_id: object) -> SearchTask:
        got_spec, got_split, index = questions.parse_task_id(task_id)
        if got_spec != spec:
            raise InvalidArgumentError(
                f"Task {task_id!r} belongs to the world {got_spec.key!r}, not to this env's "
                f"world {spec.key!r}; make the env with the world that made it."
            )
        if eval_set:
            raise InvalidArgumentError(
                f"Task {task_id!r} is not in the {name} Search eval set; pass eval_set=False "
                "to play it."
            )
        if got_split != split:
            raise InvalidArgumentError(
                f"Task {task_id!r} is a {got_split} task; make the env with split={got_split!r}."
            )
        return questions.generate_task(world(spec), got_split, index)

    if eval_set:
        return TaskList(
            _eval_tasks(spec),
            f"the {name} Search eval set",
            lookup=by_id,
            hint="pass eval_set=False to play it.",
        )

    def generate(rng: np.random.Generator) -> SearchTask:
        index = int(rng.integers(questions.MAX_INDEX + 1))
        return questions.generate_task(world(spec), split, index)

    return GeneratedTasks(generate, by_id)


def dataset_source(tasks: tuple[SearchTask, ...], path: str) -> TaskSource[SearchTask]:
    """The records of a dataset file, in file order."""
    return TaskList(tasks, f"dataset {path}")
