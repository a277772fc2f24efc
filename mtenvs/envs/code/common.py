"""What the code family's task envs (``PythonMath``, ``PythonCode``, ``CodeTasks``) share:
the checks of their ``eval_set`` arguments and the seeded walk through a fixed task list."""

from __future__ import annotations

from mtenvs.core.listed import ListedTasks, eval_set_split
from mtenvs.envs.code.base import CodeAction, CodeInterpreterEnv
from mtenvs.error import check_flag

__all__ = ["TaskListEnv", "check_flag", "eval_set_split"]


class TaskListEnv(ListedTasks[str, CodeAction], CodeInterpreterEnv):
    """A code-interpreter env that can play a fixed task list (an eval set, a dataset
    file), see :class:`~mtenvs.core.listed.ListedTasks`. Not registered itself."""
