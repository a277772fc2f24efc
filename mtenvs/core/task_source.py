"""Where an env's tasks come from, and the one rule by which a reset picks one.

Every env declares its task source (:meth:`~mtenvs.core.env.MultiTurnEnv.task_source`);
``MultiTurnEnv.reset`` applies the rule below and hands the chosen task to the env's
:meth:`~mtenvs.core.env.MultiTurnEnv.new_episode`, so no env picks tasks itself:

* ``reset(options={"task_id": id})`` plays that task (:meth:`TaskSource.find`), whatever
  the seed; the walk through a list stays where it was.
* A **task list** (an eval set, a dataset file; :class:`TaskList`): ``reset(seed=s)`` plays
  task ``s`` modulo the list's length, not a draw from ``np_random``, so an eval set's task
  ``s`` is the same for every env and agent that lists it; a reset without a seed plays the
  task after the last one played (the first one at first).
* **Generated tasks** (:class:`GeneratedTasks`): ``reset(seed=s)`` plays the task generated
  from ``np_random`` seeded with ``s``; a reset without a seed generates a fresh one from
  the env's ``np_random``, which goes on from where it was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from mtenvs.error import InvalidArgumentError

__all__ = ["GeneratedTasks", "HasTaskId", "TaskList", "TaskSource", "seeded_tasks"]

TaskT = TypeVar("TaskT", covariant=True)


class HasTaskId(Protocol):
    """A task that knows its id (every listed task)."""

    @property
    def task_id(self) -> str: ...


ListedT = TypeVar("ListedT", bound=HasTaskId, covariant=True)
SeededT = TypeVar("SeededT", bound=HasTaskId)


class TaskSource(ABC, Generic[TaskT]):
    """The tasks an env plays; see the module doc for the rule a reset follows."""

    @abstractmethod
    def find(self, task_id: object) -> TaskT:
        """The task named ``task_id`` (``reset(options={"task_id": …})``); raises
        :class:`~mtenvs.error.InvalidArgumentError` that says which ids exist."""

    @abstractmethod
    def choose(self, seed: int | None, cursor: int, rng: np.random.Generator) -> tuple[TaskT, int]:
        """The task of a reset with ``seed`` (``None``: no seed) and the cursor after it;
        ``cursor`` is the list position a reset without a seed plays, ``rng`` the env's
        ``np_random``, already seeded with ``seed``."""


@dataclass(frozen=True)
class TaskList(TaskSource[ListedT]):
    """A fixed list of tasks: an eval set or a dataset file."""

    tasks: Sequence[ListedT]
    #: Names the list in errors: ``"the easy maze eval set"``, ``"dataset data/gsm8k.jsonl"``.
    name: str
    #: Finds (or refuses with the family's own message) an id that is not in the list;
    #: ``None``: a generic error naming the list's ids.
    lookup: Callable[[object], ListedT] | None = None
    #: Ends the error for an unknown id: ``"pass eval_set=False to play it."``.
    hint: str = ""

    def __post_init__(self) -> None:
        if not self.tasks:
            raise InvalidArgumentError(f"No task in {self.name}.")

    def __len__(self) -> int:
        return len(self.tasks)

    def find(self, task_id: object) -> ListedT:
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        if self.lookup is not None:
            return self.lookup(task_id)
        first, last = self.tasks[0].task_id, self.tasks[-1].task_id
        raise InvalidArgumentError(
            f"Task {task_id!r} is not in {self.name} (seeds 0-{len(self.tasks) - 1}); its ids "
            f"run from {first!r} to {last!r}." + (f" {self.hint}" if self.hint else "")
        )

    def choose(
        self, seed: int | None, cursor: int, rng: np.random.Generator
    ) -> tuple[ListedT, int]:
        index = cursor if seed is None else seed
        return self.tasks[index % len(self.tasks)], (index + 1) % len(self.tasks)


@dataclass(frozen=True)
class GeneratedTasks(TaskSource[TaskT]):
    """Tasks made on demand from a generator (procedural levels, seeded games)."""

    #: A fresh task from the env's ``np_random`` (draws nothing else from it).
    generate: Callable[[np.random.Generator], TaskT]
    #: The task named by an id (parsed and checked against the env's settings).
    lookup: Callable[[object], TaskT]

    def find(self, task_id: object) -> TaskT:
        return self.lookup(task_id)

    def choose(self, seed: int | None, cursor: int, rng: np.random.Generator) -> tuple[TaskT, int]:
        return self.generate(rng), cursor


def seeded_tasks(
    make: Callable[[str, str, int], SeededT],
    parse: Callable[[object], tuple[str, str, int]],
    *,
    difficulty: str,
    split: str,
    seeds: int,
    eval_tasks: Sequence[SeededT] | None,
    name: str,
) -> TaskSource[SeededT]:
    """The source of a family whose task ``(difficulty, split, seed)`` is
    ``make(difficulty, split, seed)`` with ids that ``parse`` reads back (``maze-easy-test-00012``):
    the eval set ``eval_tasks`` when given, else seeds drawn below ``seeds``. ``name``
    names the family in errors (``"maze"``); an id of another difficulty or split is refused
    with the arguments that play it."""

    def by_id(task_id: object) -> SeededT:
        got_difficulty, got_split, seed = parse(task_id)
        if (got_difficulty, got_split) != (difficulty, split):
            raise InvalidArgumentError(
                f"Task {task_id!r} is not a {difficulty} {split} task; make the env with "
                f"difficulty={got_difficulty!r}, split={got_split!r}."
            )
        if eval_tasks is None:
            return make(difficulty, split, seed)
        raise InvalidArgumentError(
            f"Task {task_id!r} is not in the {difficulty} {name} eval set (seeds 0-"
            f"{len(eval_tasks) - 1}); pass eval_set=False to play it."
        )

    if eval_tasks is not None:
        return TaskList(eval_tasks, f"the {difficulty} {name} eval set", lookup=by_id)
    return GeneratedTasks(lambda rng: make(difficulty, split, int(rng.integers(seeds))), by_id)
