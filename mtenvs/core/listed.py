"""Envs that can play a fixed task list (an eval set, a dataset file).

:class:`ListedTasks` maps ``reset(seed=s)`` straight to task ``s % len(tasks)`` (not
through a draw from ``np_random``, so an eval set's task ``s`` is the same for every env
that lists it), and a reset without a seed to the task after the last one played.
:func:`listed_task` finds a task of such a list by its id, with an error that says how
to play it otherwise; :func:`eval_set_split` checks an env's ``eval_set`` and ``split``
arguments together (an eval set holds test tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast, get_args

from mtenvs.core.env import ActionT, MultiTurnEnv, ObsT, Split
from mtenvs.error import InvalidArgumentError, check_choice, check_flag

__all__ = ["ListedTasks", "eval_set_split", "listed_task"]


class _HasTaskId(Protocol):
    @property
    def task_id(self) -> str: ...


T = TypeVar("T")
TaskT = TypeVar("TaskT", bound=_HasTaskId)


class ListedTasks(MultiTurnEnv[ObsT, ActionT]):
    """Base of envs that walk a task list; subclasses call :meth:`next_listed` when they
    pick the task of a reset (``new_episode``) and snapshot ``_eval_cursor``."""

    #: Index of the task a reset without a seed plays next.
    _eval_cursor: int = 0
    #: The seed of the current reset, which picks the listed task.
    _reset_seed: int | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, dict[str, Any]]:
        self._reset_seed = seed
        return super().reset(seed=seed, options=options)

    def next_listed(self, tasks: Sequence[T]) -> T:
        """The task of this reset from ``tasks``; moves the cursor past it."""
        index = self._eval_cursor if self._reset_seed is None else self._reset_seed
        self._eval_cursor = (index + 1) % len(tasks)
        return tasks[index % len(tasks)]


def listed_task(tasks: Sequence[TaskT], task_id: object, what: str) -> TaskT:
    """The task of ``tasks`` whose id is ``task_id``; ``what`` names the list in the error
    (``"easy maze eval set"``)."""
    for task in tasks:
        if task.task_id == task_id:
            return task
    raise InvalidArgumentError(
        f"Task {task_id!r} is not in the {what} (seeds 0-{len(tasks) - 1}); pass "
        "eval_set=False to play it."
    )


def eval_set_split(split: str | None, eval_set: object, holder: str) -> Split:
    """The split of an env whose eval set holds test tasks: ``split``, or by default
    ``"test"`` with ``eval_set`` and ``"train"`` without.

    Raises :class:`~mtenvs.error.InvalidArgumentError` when ``eval_set`` is not a bool,
    ``split`` is not ``"train"`` or ``"test"``, or for an eval set with another split,
    naming the fix; ``holder`` begins that message (``"The math eval sets hold"``).
    """
    check_flag("eval_set", eval_set)
    if split is None:
        return "test" if eval_set else "train"
    check_choice("split", split, get_args(Split))
    if eval_set and split != "test":
        raise InvalidArgumentError(
            f"{holder} test tasks; use split='test' (or leave split unset) with "
            f"eval_set=True, got split={split!r}."
        )
    return cast(Split, split)
