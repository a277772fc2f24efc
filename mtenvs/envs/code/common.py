"""What the code family's task envs (``PythonMath``, ``PythonCode``, ``CodeTasks``) share:
the checks of their ``eval_set`` arguments and the seeded walk through a fixed task list."""

from __future__ import annotations

from mtenvs.core.listed import ListedTasks
from mtenvs.envs.code.base import CodeAction, CodeInterpreterEnv
from mtenvs.error import InvalidArgumentError

__all__ = ["TaskListEnv", "check_flag", "eval_set_split"]


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


class TaskListEnv(ListedTasks[str, CodeAction], CodeInterpreterEnv):
    """A code-interpreter env that can play a fixed task list (an eval set, a dataset
    file), see :class:`~mtenvs.core.listed.ListedTasks`. Not registered itself."""
