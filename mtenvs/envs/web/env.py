"""``WebEnv``: the shared base of the web envs (site server + Chromium + action grammar).

A site env subclass names its site and implements task choice, verification, sub-goals and
the oracle; this class owns the browser session, the observation and the actions.

Life cycle: the site server and the browser start lazily on the first ``reset`` (so an env
can be built cheaply, in any process); every ``reset`` restores the server's seeded state
and opens a fresh browser context; ``close`` stops both. Parse errors never touch the
browser.

The observation text and the page outline it shows are described in
:mod:`mtenvs.envs.web.observation`; random replies come from
:mod:`mtenvs.envs.web.random_replies`.

Screenshots show the page only: a native popup that a ``click`` or ``press`` opened (the
list of a ``<select>``, a date or colour picker) is closed after the action, the field
keeping the focus. Chromium draws these outside the page, above or below the field
depending on the window's place on its virtual screen, so the same page gave different
pixels; they are not in the outline either, which lists a combobox's options for
``select()``.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import EnvSnapshot, MultiTurnEnv, Reply, Transition
from mtenvs.core.rewards import FORMAT, OUTCOME, PROCESS
from mtenvs.core.spaces import text_image_space, text_space
from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.web.actions import (
    ACTION_FORMS,
    SITE_ORIGIN,
    WEB_TOOLS,
    WebAction,
    parse_reply,
    site_path,
)
from mtenvs.envs.web.browser import BrowserSession, PageView, format_problem
from mtenvs.envs.web.observation import MAX_PAGE_CHARS as MAX_PAGE_CHARS
from mtenvs.envs.web.observation import render_observation, system_prompt_text
from mtenvs.envs.web.random_replies import random_reply
from mtenvs.envs.web.site import SITE_BACKENDS, SiteServer, start_site
from mtenvs.error import InvalidArgumentError, check_choice, check_flag

__all__ = ["VIEWPORT", "SiteSpec", "WebArgs", "WebEnv"]

#: Viewport (width, height) of the browser and of the screenshots.
VIEWPORT = (800, 600)


class WebArgs(EvalSetArgs, total=False):
    """Arguments of every web env beyond the common ones: the browser's."""

    set_of_marks: bool | None
    page_load_timeout: float


@dataclass(frozen=True)
class SiteSpec:
    """One site: its ``sandboxes/web`` module, seeded data, shown origin, start page."""

    site: str
    data: Path
    display_origin: str
    start_path: str
    description: str


@dataclass
class _SiteSlot:
    spec: SiteSpec
    process: SiteServer | None = None
    session: BrowserSession | None = None
    dirty: bool = True
    start_view: PageView | None = None
    start_image: np.ndarray | None = None


class WebEnv(MultiTurnEnv[Any, WebAction, Any]):
    """Base of the web envs; see the module doc (subclasses document the contract)."""

    #: Module of ``sandboxes/web`` serving the site, and its seeded data.
    site: ClassVar[str] = ""
    site_data: ClassVar[Path] = Path()
    start_path: ClassVar[str] = "/"
    #: The origin the agent sees instead of ``http://127.0.0.1:<port>``.
    display_origin: ClassVar[str] = SITE_ORIGIN
    #: Paths ``random_action`` may ``goto``.
    random_paths: ClassVar[tuple[str, ...]] = ("/",)
    #: The last observation's note on an ``answer`` action (``{answer}``: its repr).
    answer_note: ClassVar[str] = "Final answer given: {answer}."
    default_max_turns: ClassVar[int] = 30
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}  # noqa: RUF012
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_history",
        "_subgoals",
        "_answer",
        "_task_cursor",
    )

    #: What the system prompt calls the site ("a shop site").
    site_description: ClassVar[str] = "a web site"
    #: Task indices per split (``reset(seed)`` draws one).
    seeds_per_split: ClassVar[int] = 10_000
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = tuple(WEB_TOOLS)

    def __init__(
        self,
        *,
        set_of_marks: bool | None = None,
        page_load_timeout: float = 5.0,
        site_backend: str = "auto",
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_choice("site_backend", site_backend, SITE_BACKENDS)
        if set_of_marks is not None:
            check_flag("set_of_marks", set_of_marks)
        if (
            isinstance(page_load_timeout, bool)
            or not isinstance(page_load_timeout, (int, float))
            or not 0.1 <= page_load_timeout <= 120
        ):
            raise InvalidArgumentError(
                f"page_load_timeout must be a number of seconds in [0.1, 120], got "
                f"{page_load_timeout!r}."
            )
        super().__init__(**kwargs)
        self._eval_tasks: tuple[Any, ...] = ()
        self.viewport = VIEWPORT
        # Under obs_mode="image" the text has no outline: the marks are where the agent
        # reads the ids its actions name, so they are on unless turned off; "text+image"
        # shows the same screenshot as "image".
        self.set_of_marks = self.obs_mode != "text" if set_of_marks is None else set_of_marks
        self.page_load_timeout = float(page_load_timeout)
        self.observation_space = (
            text_space() if self.obs_mode == "text" else text_image_space(VIEWPORT[1], VIEWPORT[0])
        )
        #: Per site: its server process, browser session, whether actions may have changed
        #: it since its last reset, and its start page as every episode first sees it.
        self._slots: dict[str, _SiteSlot] = {}
        self._view: PageView | None = None
        self._history: list[WebAction] = []
        self._subgoals: frozenset[str] = frozenset()
        self._answer = ""
        self._image: np.ndarray | None = None
        self._last_action = "(none yet)"
        self._last_error: str | None = None
        self._page_open = False
        self._owner: int | None = None
        #: Where site servers run: ``"auto"`` (Docker when usable, else a local process),
        #: ``"docker"`` or ``"local"``; see :meth:`use_site_backend`.
        self.site_backend = site_backend

    def use_site_backend(self, site_backend: str) -> None:
        """Set where this env's site servers run (before they start); raises naming the
        allowed values for anything else."""
        check_choice("site_backend", site_backend, SITE_BACKENDS)
        self.site_backend = site_backend

    # ------------------------------------------------------------------ task hooks

    @abstractmethod
    def make_task(self, split: str, index: int) -> Any:
        """Task ``index`` of ``split`` (a frozen dataclass with ``task_id`` and ``intent``)."""

    @abstractmethod
    def task_by_id(self, task_id: str) -> Any:
        """The task named ``task_id``; ``ValueError`` naming the expected form if none."""

    @abstractmethod
    def eval_task_ids(self) -> list[str]:
        """The fixed evaluation set (test task ids)."""

    def task_source(self) -> TaskSource[Any]:
        """The eval set, or tasks of the split drawn with the env's generator; an id names
        any task of the site."""
        if not self.eval_set:
            return GeneratedTasks(
                lambda rng: self.make_task(self.split, int(rng.integers(self.seeds_per_split))),
                self._task_named,
            )
        if not self._eval_tasks:
            self._eval_tasks = tuple(self.task_by_id(i) for i in self.eval_task_ids())
        name = f"the {type(self).__name__} eval set"
        return TaskList(self._eval_tasks, name, lookup=self._task_named)

    def _task_named(self, task_id: object) -> Any:
        try:
            return self.task_by_id(str(task_id))
        except ValueError as e:
            raise InvalidArgumentError(str(e)) from e

    def task_intent(self) -> str:
        """The task as told to the agent."""
        return str(self.task.intent)

    def system_prompt(self) -> str:
        spec = self.site_spec()
        return system_prompt_text(
            spec.description,
            spec.display_origin,
            outline=self.obs_mode != "image",
            marks=self.set_of_marks,
        )

    # ------------------------------------------------------------------ site hooks

    @abstractmethod
    def check_success(self, state: dict[str, Any], answer: str) -> bool:
        """Whether the task is solved, from the server state and the final answer."""

    @abstractmethod
    def subgoals(self, state: dict[str, Any], path: str) -> set[str]:
        """Verifiable sub-goals reached now."""

    @abstractmethod
    def subgoal_total(self) -> int:
        """How many sub-goals the current task has."""

    # ------------------------------------------------------------------ infrastructure

    def site_spec(self) -> SiteSpec:
        """The site of the current task (one per env, except ``Web-v0``)."""
        return SiteSpec(
            self.site, self.site_data, self.display_origin, self.start_path, self.site_description
        )

    @property
    def _slot(self) -> _SiteSlot:
        spec = self.site_spec()
        slot = self._slots.get(spec.site)
        if slot is None:
            slot = self._slots[spec.site] = _SiteSlot(spec)
        return slot

    def _ensure_started(self) -> tuple[SiteServer, BrowserSession]:
        owner = os.getpid()
        if self._owner is not None and owner != self._owner:
            # a forked child: the parent's server and browser are not ours to use or close
            self._slots, self._page_open = {}, False
        self._owner = owner
        slot = self._slot
        if slot.process is None or not slot.process.alive:
            slot.process = start_site(slot.spec.site, slot.spec.data, self.site_backend)
            slot.session, slot.dirty = None, True
        if slot.session is None:
            slot.session = BrowserSession(
                slot.process.origin,
                slot.spec.display_origin,
                viewport=self.viewport,
                load_timeout_s=self.page_load_timeout,
            )
        return slot.process, slot.session

    @property
    def site_server(self) -> SiteServer:
        """The current site's server (started on first use); ``.backend`` says where."""
        return self._ensure_started()[0]

    def _fresh_page(self) -> None:
        """Reset the site (if an action may have changed it) and open a fresh context."""
        site, session = self._ensure_started()
        slot = self._slot
        for other in self._slots.values():  # one open context at a time
            if other is not slot and other.session is not None:
                other.session.close()
        if slot.dirty:
            site.reset()
            slot.dirty = False
        session.open(slot.spec.start_path)
        self._page_open = True
        self._image = None

    def _ensure_page(self) -> BrowserSession:
        """The session with the episode's page open (opened lazily: see ``new_episode``)."""
        if not self._page_open:
            self._fresh_page()
            self._view = self.session.view()
        return self.session

    def close(self) -> None:
        for slot in self._slots.values():
            if slot.session is not None:
                slot.session.close()
            if slot.process is not None:
                slot.process.close()
        self._slots = {}
        self._owner = None
        self._page_open = False
        super().close()

    def server_state(self) -> dict[str, Any]:
        """The site server's current state (privileged: never shown to the agent)."""
        site, _ = self._ensure_started()
        slot = self._slot
        if not self._page_open and slot.dirty:
            # the episode's site reset is lazy (see ``new_episode``): do it now, or this
            # episode would be verified against the last one's changes
            site.reset()
            slot.dirty = False
        return site.state()

    @property
    def session(self) -> BrowserSession:
        """The episode's browser session (started on first use)."""
        return self._ensure_started()[1]

    def display_url(self, url: str) -> str:
        origin = self.session.origin
        shown = self.site_spec().display_origin
        return shown + url[len(origin) :] if url.startswith(origin) else url

    # ------------------------------------------------------------------ MultiTurnEnv hooks

    def new_episode(self, task: Any) -> str:
        self._history = []
        self._subgoals = frozenset()
        self._answer = ""
        self._last_action = "(none yet)"
        self._last_error = None
        # Every episode starts on the same page of the same seeded site, so the fresh
        # context is opened at the first browser action and the start page's outline is
        # reused: resets (and episodes of malformed replies) cost no browser round trip.
        self._page_open = False
        slot = self._slot
        self._image = slot.start_image
        if slot.start_view is None:
            self._fresh_page()
            text = self._render_observation()
            slot.start_view = self._view
            return text
        return self._render_observation(slot.start_view)

    def parse_action(self, reply: Reply) -> WebAction:
        return parse_reply(reply, self.site_spec().display_origin)

    def apply_action(self, action: WebAction) -> Transition:
        if action.name == "answer":
            return self._answered(action)
        components = self._browser_step(action)
        text = self._render_observation()
        path = site_path(self._url(), self.site_spec().display_origin) or ""
        reached = frozenset(self.subgoals(self.server_state(), path.split("?")[0]))
        new = reached - self._subgoals
        self._subgoals |= reached
        if new:
            components[PROCESS] = len(new) / max(1, self.subgoal_total())
        return Transition(observation=text, components=components)

    def _answered(self, action: WebAction) -> Transition:
        """End the episode on an ``answer`` action, judged by :meth:`check_success`."""
        self._answer = str(action.args[0])
        self._history.append(action)
        self._last_action, self._last_error = str(action), None
        success = self.check_success(self.server_state(), self._answer)
        note = self.answer_note.format(answer=f"{self._answer!r:.200}")
        return Transition(
            observation=self._render_observation(self._view, note=note),
            components={OUTCOME: float(success)},
            terminated=True,
            success=success,
            final_answer=True,
        )

    def _browser_step(self, action: WebAction) -> dict[str, float]:
        """Run a browser action and record it; returns the ``format`` penalty when the
        action was refused for its form (a ``type()`` text that does not fit a date/time
        input: the browser is not touched), else no components."""
        self._ensure_page()
        problem = format_problem(action, self._view)
        self._last_error = problem or self._execute(action)
        self._history.append(action)
        self._last_action = str(action)
        self._image = None
        return {} if problem is None else {FORMAT: -self.format_penalty}

    def action_format(self) -> str:
        return (
            "one action in <action>…</action>, e.g. <action>click(12)</action>; actions: "
            + ", ".join(ACTION_FORMS)
            + " (id = the [number] of an element on the page)."
        )

    def episode_info(self) -> dict[str, Any]:
        return {"url": self._url(), "last_action_error": self._last_error}

    def _url(self) -> str:
        if not self._page_open or self._slot.session is None:
            return self.site_spec().display_origin + self.site_spec().start_path
        return self.display_url(self.session.page.url)

    def random_action(self, rng: np.random.Generator) -> str:
        return random_reply(self._view, self.random_paths, rng)

    @classmethod
    def supported_obs_modes(cls) -> tuple[str, ...]:
        return ("text", "image", "text+image")

    def render_image(self) -> np.ndarray:
        if self._image is None:
            self._image = self._ensure_page().screenshot(self.set_of_marks)
            if not self._history:
                self._slot.start_image = self._image
        return self._image.copy()

    def render_text(self) -> str:
        return self._last_observation

    # ------------------------------------------------------------------ snapshot / restore

    def restore(self, snapshot: EnvSnapshot) -> None:
        """Return to a snapshot: reset the site, open a fresh context and replay the
        snapshot's action history (the site and the page are deterministic)."""
        super().restore(snapshot)
        history, self._history = list(self._history), []
        self._slot.dirty = True
        self._fresh_page()
        self._image = self._slot.start_image if not history else None
        for action in history:
            if action.name != "answer":
                self._view = self.session.view()
                self._execute(action)
            self._history.append(action)
        self._view = self.session.view()
        self.session.pop_events()

    # ------------------------------------------------------------------ actions

    def _execute(self, action: WebAction) -> str | None:
        """Run one browser action; the error message for the agent, or ``None``."""
        self._slot.dirty = True
        return self.session.run(action, self._view)

    # ------------------------------------------------------------------ observation

    def _render_observation(self, view: PageView | None = None, note: str | None = None) -> str:
        events: list[str] = []
        if view is None:
            session = self._ensure_page()
            view = session.view()
            events = session.pop_events()
        self._view = view
        return render_observation(
            view,
            intent=self.task_intent(),
            url=self._url(),
            last_action=self._last_action,
            last_error=self._last_error,
            events=events,
            note=note,
            outline=self.obs_mode != "image",
        )
