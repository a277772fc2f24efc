"""One-site web envs: :class:`SiteEnv` answers :class:`~mtenvs.envs.web.env.WebEnv`'s task
hooks from the site's task module and holds the oracle and privileged plumbing that
``WebShopEnv``, ``WebWikiEnv`` and ``WebAdminEnv`` share; each of those keeps its own
contract (the class docstring) and its site's specifics."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Protocol

from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.env import WebEnv

__all__ = ["SiteEnv", "SiteTasks"]


class SiteTasks(Protocol):
    """What a site's task module (``shop_tasks``, ``wiki_tasks``, ``admin_tasks``) offers."""

    def make_task(self, split: str, index: int) -> Any:
        """Task ``index`` of ``split``."""

    def task_from_id(self, task_id: str) -> Any:
        """The task named ``task_id``; ``ValueError`` naming the expected form if none."""

    def eval_set(self) -> list[str]:
        """The fixed evaluation set (test task ids)."""

    def verify(self, task: Any, state: dict[str, Any], answer: str) -> bool:
        """Whether ``task`` is solved, from the server state and the final answer."""

    def reached_subgoals(self, task: Any, state: dict[str, Any], path: str) -> set[str]:
        """The task's verifiable sub-goals reached now."""

    def subgoal_count(self, task: Any) -> int:
        """How many sub-goals ``task`` has."""


class SiteEnv(WebEnv):
    """A :class:`WebEnv` on one site whose task hooks are its task module's functions.

    A subclass names the module (``tasks``) and gives :meth:`site_oracle_action` (the
    oracle's next browser action on the current page) and :meth:`privileged_target` (what
    the task is about); the oracle's first action, before any page is shown, is
    ``goto(/)``, and :meth:`privileged` adds the task's template, its gold answer and the
    server state.
    """

    #: The site's task module.
    tasks: ClassVar[SiteTasks]

    # ------------------------------------------------------------------ task hooks

    def make_task(self, split: str, index: int) -> Any:
        return self.tasks.make_task(split, index)

    def task_by_id(self, task_id: str) -> Any:
        return self.tasks.task_from_id(task_id)

    def eval_task_ids(self) -> list[str]:
        return self.tasks.eval_set()

    def check_success(self, state: dict[str, Any], answer: str) -> bool:
        return self.tasks.verify(self.task, state, answer)

    def subgoals(self, state: dict[str, Any], path: str) -> set[str]:
        return self.tasks.reached_subgoals(self.task, state, path)

    def subgoal_total(self) -> int:
        return self.tasks.subgoal_count(self.task)

    # ------------------------------------------------------------------ privileged

    @abstractmethod
    def site_oracle_action(self, view: PageView) -> str:
        """The oracle's next action (without ``<action>`` tags) for the current task on the
        page ``view``."""

    @abstractmethod
    def privileged_target(self) -> dict[str, Any]:
        """The privileged fields naming what the current task is about."""

    def oracle_action(self) -> str:
        self._require_started("oracle_action")
        if self._view is None:
            return "<action>goto(/)</action>"
        return f"<action>{self.site_oracle_action(self._view)}</action>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        task = self.task
        return {
            "template": task.template,
            "gold_answer": task.answer,
            **self.privileged_target(),
            "server_state": self.server_state(),
        }
