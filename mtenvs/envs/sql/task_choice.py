"""How ``mtenvs/Sql-v0`` chooses an episode's task outside its eval set: by task id, from a
Spider/BIRD dataset, or drawn from the split with the env's generator (the eval set is
walked by :class:`~mtenvs.core.listed.ListedTasks`)."""

from __future__ import annotations

import numpy as np

from mtenvs.envs.sql.dataset import SqlDataset
from mtenvs.envs.sql.tasks import TASKS_PER_SPLIT, SqlTask, make_task, parse_task_id
from mtenvs.error import InvalidArgumentError

__all__ = ["pick_sql_task"]


def pick_sql_task(
    task_id: object,
    *,
    split: str,
    schema: str | None,
    scale: int,
    dataset: SqlDataset | None,
    rng: np.random.Generator,
) -> SqlTask:
    """The task of a ``mtenvs/Sql-v0`` episode outside the eval set (which
    :class:`~mtenvs.core.listed.ListedTasks` walks): by id, or drawn with ``rng``."""
    if dataset is not None:
        if task_id is not None:
            return dataset.task(task_id)
        return dataset.tasks[int(rng.integers(len(dataset.tasks)))]
    if task_id is not None:
        task_split, index, task_schema = parse_task_id(task_id)
        if (task_split, task_schema) != (split, schema):
            raise InvalidArgumentError(
                f"Task {task_id!r} is not a {split} task of this env; make it with "
                f"split={task_split!r}, schema={task_schema!r}."
            )
        return make_task(task_split, index, scale, schema)
    index = int(rng.integers(TASKS_PER_SPLIT))
    return make_task(split, index, scale, schema)
