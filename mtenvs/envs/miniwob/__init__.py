"""MiniWoB++ task pages (the ``miniwob`` package's HTML) as web envs: one id per page.

``mtenvs/MiniWob-<task>-v0`` for every task in :data:`MINIWOB_TASKS`;
:data:`REPRESENTATIVE_TASKS` are the few that project-wide tests open.
"""

from __future__ import annotations

from mtenvs.core.registry import register_env
from mtenvs.envs.miniwob.tasks import MINIWOB_TASKS, REPRESENTATIVE_TASKS, env_id

__all__ = ["MINIWOB_IDS", "MINIWOB_TASKS", "REPRESENTATIVE_IDS", "REPRESENTATIVE_TASKS"]

#: Every registered id, in :data:`MINIWOB_TASKS` order.
MINIWOB_IDS: tuple[str, ...] = tuple(env_id(task) for task in MINIWOB_TASKS)
#: The ids of :data:`REPRESENTATIVE_TASKS`.
REPRESENTATIVE_IDS: tuple[str, ...] = tuple(env_id(task) for task in REPRESENTATIVE_TASKS)

for _task in MINIWOB_TASKS:
    register_env(
        env_id(_task),
        "mtenvs.envs.miniwob.env:MiniWobEnv",
        kwargs={"task": _task},
        suite=_task in REPRESENTATIVE_TASKS,
    )
