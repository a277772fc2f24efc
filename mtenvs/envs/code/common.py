"""What the code family's task envs (``PythonMath``, ``PythonCode``, ``CodeTasks``) share:
the checks of their ``eval_set`` arguments and the seeded walk through a fixed task list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from mtenvs.envs.code.base import CodeInterpreterEnv
from mtenvs.error import InvalidArgumentError

__all__ = ["TaskListEnv", "check_flag", "eval_set_split"]

T = TypeVar("T")


def check_flag(name: str, value: object) -> None:
    """Raise :class:`~mtenvs.error.InvalidArgumentError` naming ``name`` unless ``value`` is
    ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}.")


def eval_set_split(split: str | None, eval_set: bool, holder: str) -> str:
    """The split of an env whose eval set holds test tasks: ``split``, or by default
    ``"test"`` with ``eval_set`` and ``"train"`` without.

    An eval set with another split raises, naming the fix; ``holder`` begins the message
    (``"The math eval sets hold"``).
    """
    if split is None:
        return "test" if eval_set else "train"
    if eval_set and split != "test":
        raise InvalidArgumentError(
            f"{holder} test tasks; use split='test' (or leave split unset) with "
            f"eval_set=True, got split={split!r}."
        )
    return split


class TaskListEnv(CodeInterpreterEnv):
    """A code-interpreter env that can play a fixed task list (an eval set, a dataset
    file): ``reset(seed=s)`` plays task ``s % len(tasks)``, a reset without a seed the task
    after the last one played. Not registered itself; subclasses call :meth:`next_listed`
    from ``new_task`` and set ``_eval_cursor = 0`` in ``__init__``."""

    _eval_cursor: int
    #: The seed of the current reset, which picks the listed task.
    _reset_seed: int | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        # A listed task is picked by the seed itself, not by a draw from np_random.
        self._reset_seed = seed
        return super().reset(seed=seed, options=options)

    def next_listed(self, tasks: Sequence[T]) -> T:
        """The task of this reset from ``tasks``; moves the cursor past it."""
        index = self._eval_cursor if self._reset_seed is None else self._reset_seed
        self._eval_cursor = (index + 1) % len(tasks)
        return tasks[index % len(tasks)]
