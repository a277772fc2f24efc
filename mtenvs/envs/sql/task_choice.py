"""Where ``mtenvs/Sql-v0`` and ``mtenvs/SqlInteract-v0`` take their tasks from: a Spider or
BIRD dataset, the fixed eval set, or tasks generated for the split (the seed rule is
:mod:`mtenvs.core.task_source`'s)."""

from __future__ import annotations

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.sql.dataset import SqlDataset
from mtenvs.envs.sql.interact_tasks import (
    InteractTask,
    interact_eval_set,
    make_interact_task,
    parse_interact_task_id,
)
from mtenvs.envs.sql.tasks import TASKS_PER_SPLIT, SqlTask, eval_set, make_task, parse_task_id
from mtenvs.error import InvalidArgumentError

__all__ = ["interact_task_source", "sql_task_source"]

_EVAL_SET_HINT = "pass eval_set=False to play it."


def sql_task_source(
    *,
    split: str,
    schema: str | None,
    scale: int,
    dataset: SqlDataset | None,
    use_eval_set: bool,
) -> TaskSource[SqlTask]:
    """The tasks of a ``Sql-v0`` env: the dataset's questions, the eval set (restricted to
    ``schema``), or tasks of ``split`` generated at ``scale``."""
    if dataset is not None:
        return TaskList(dataset.tasks, f"dataset {dataset.question_file}", lookup=dataset.task)
    if use_eval_set:
        tasks = [t for t in eval_set() if schema in (None, t.schema)]
        return TaskList(tasks, "the SQL eval set", hint=_EVAL_SET_HINT)

    def by_id(task_id: object) -> SqlTask:
        task_split, index, task_schema = parse_task_id(task_id)
        if (task_split, task_schema) != (split, schema):
            raise InvalidArgumentError(
                f"Task {task_id!r} is not a {split} task of this env; make it with "
                f"split={task_split!r}, schema={task_schema!r}."
            )
        return make_task(task_split, index, scale, schema)

    return GeneratedTasks(
        lambda rng: make_task(split, int(rng.integers(TASKS_PER_SPLIT)), scale, schema), by_id
    )


def interact_task_source(*, split: str, scale: int, use_eval_set: bool) -> TaskSource[InteractTask]:
    """The tasks of a ``SqlInteract-v0`` env: the eval set, or tasks of ``split``."""
    if use_eval_set:
        return TaskList(interact_eval_set(), "the SqlInteract eval set", hint=_EVAL_SET_HINT)

    def by_id(task_id: object) -> InteractTask:
        task_split, index = parse_interact_task_id(task_id)
        if task_split != split:
            raise InvalidArgumentError(
                f"Task {task_id!r} is not a {split} task; make the env with split={task_split!r}."
            )
        return make_interact_task(task_split, index, scale)

    return GeneratedTasks(
        lambda rng: make_interact_task(split, int(rng.integers(TASKS_PER_SPLIT)), scale), by_id
    )
