"""``mtenvs/MiniWob-<task>-v0``: the MiniWoB++ task pages through the web envs' interface."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.env import EnvSnapshot, Transition
from mtenvs.core.rewards import OUTCOME
from mtenvs.core.spaces import text_image_space
from mtenvs.envs.web.actions import WebAction
from mtenvs.envs.web.browser import BrowserSession
from mtenvs.envs.web.env import SiteSpec, WebArgs, WebEnv
from mtenvs.envs.web.miniwob_page import PageState, read_state, shared_server, start_episode
from mtenvs.envs.web.miniwob_tasks import (
    MINIWOB_TASKS,
    SEEDS_PER_SPLIT,
    MiniWobTask,
    env_id,
    make_task,
    task_from_id,
)
from mtenvs.envs.web.observation import page_shown_text
from mtenvs.error import Error, check_choice

__all__ = ["DISPLAY_ORIGIN", "EVAL_SET_SIZE", "MiniWobEnv", "NoOracleError"]

#: The origin the agent sees instead of ``http://127.0.0.1:<port>``.
DISPLAY_ORIGIN = "http://miniwob.local"
#: MiniWoB's own browser window (``miniwob.constants.WINDOW_WIDTH/HEIGHT``); the task
#: area is its top-left 160 x 210 pixels.
MINIWOB_VIEWPORT = (500, 320)
#: Problems in the fixed evaluation set of every task (``<task>/test-0`` … ``-49``).
EVAL_SET_SIZE = 50
_NOT_ON_PAGE = "MiniWoB tasks live on one page: goto() is not available here (the episode goes on)."
_TASK_IDS = ", ".join(f"`{env_id(task)}`" for task in MINIWOB_TASKS)


class NoOracleError(Error, NotImplementedError):
    """The env has no scripted oracle (``has_oracle`` is False)."""


class MiniWobEnv(WebEnv):
    """A MiniWoB++ task page in Chromium, rewarded by the page itself, acted on with the web
    action grammar.

    ## Description
    The task pages of the ``miniwob`` PyPI package (1.1.0, MiniWoB++ by Farama: clicking,
    typing, forms, date pickers, e-mail and social-media mock-ups…; 130 pages) are served
    read-only from a loopback port (one stdlib HTTP server thread per process) and shown to
    the agent as ``http://miniwob.local/miniwob/<task>.html``. ``reset`` opens the page in a
    fresh browser context and starts the episode as miniwob's own env does
    (``Math.seedrandom(seed)``, ``core.setDataMode(split)``, ``core.startEpisodeReal()``);
    the task's instruction is the page's ``core.getUtterance()``. For an agent that thinks
    between actions the 10 s episode timer is disabled, the page clock is frozen and
    animations take no time, so a seed always gives the same page. Requests outside the
    page's origin are aborted before they leave the machine.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict; schemas in
    ``mtenvs.envs.web.actions.WEB_TOOLS``): one action in ``<action>…</action>`` (or a bare
    call): ``click(id)``, ``type(id, text)`` (replaces the text), ``select(id, option)``,
    ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``back()``, ``tab(n)``;
    ``goto(url)`` is parsed but answered with an error (the task is one page);
    ``answer(text)`` (also ``<answer>…</answer>``) gives up: it ends the episode with the
    page's result so far. ``id`` is the ``[number]`` of an element in the page outline (or on
    its set-of-marks box in the screenshot). A malformed reply is a parse error (the browser is not touched); a well-formed action that
    fails (unknown id, wrong element kind, timeout) is reported in the ``Last action`` line.

    ## Observation Space
    ``obs_mode="text"``: a ``str``: ``Task:`` the page's utterance, the URL, title, tabs, the
    last action and its error, events and the page outline (text, and interactive elements
    as ``[id] kind "name"`` with values and options). ``"image"`` / ``"text+image"``:
    ``Dict({"text": str, "image": uint8 (320, 500, 3)})``, a screenshot of MiniWoB's
    500 x 320 window (the task is in its top-left corner), with set-of-marks boxes when
    ``set_of_marks`` is on (by default with a screenshot); a native popup an action
    opened (a ``<select>``'s list, a date picker) is closed after the action.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | `Task:` the page's utterance, the URL, title, tabs, the last action and its result, events, and the page outline (text, interactive elements with values and options) |
    | `image` | `Task:` the page's utterance, the URL, title, tabs, the last action and its result, events, and the options of the page's lists (no screenshot shows a `<select>`'s list). No page outline: the page is only in the screenshot, whose set-of-marks boxes (on by default) carry the ids the actions name |
    | `text+image` | the same text as `text`, with the same screenshot as `image` |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when the page ends the episode with a raw reward > 0 (MiniWoB's `WOB_RAW_REWARD_GLOBAL`), else 0.0 |
    | `format` | −`format_penalty` for a malformed reply, or a `type()` text not in a date/time input's format |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the page says the episode is done (``WOB_DONE_GLOBAL``, after a
    submit or a decisive click, right or wrong) or on ``answer(...)``; ``truncated`` after
    ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | `<task>/<split>-<k>`, e.g. `click-button/train-17` (page seed k, test: 10000 + k) (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the page gave a raw reward > 0 |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step was `answer(...)` (step only) |
    | `state_key` | hash of the task and the action history |
    | `url` | the tab's URL (as shown, `http://miniwob.local/…`) |
    | `last_action_error` | why the last browser action failed, else `None` |
    | `raw_reward` | the page's raw reward (−1 … 1; 0 until the page is done) |

    The page seed, the time-scaled reward and the page's reward reason are privileged
    (:meth:`privileged`). There is no scripted oracle (``has_oracle`` is False).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `task` | (per id) | the MiniWoB++ task page, e.g. `click-button` |
    | `set_of_marks` | `None` | draw the element ids on the screenshot; `None`: on with a screenshot (`obs_mode` `"image"`, whose text has no outline to read the ids from, or `"text+image"`), off otherwise |
    | `page_load_timeout` | `5.0` | seconds a page load or an action may take |
    | `eval_set` | `False` | reset picks from the fixed eval set, `<task>/test-0` … `-49` (`seed % 50`, or the next one when no seed) |
    | `split` | `"train"` (`"test"` with `eval_set`) | disjoint page seeds (and the page's data mode) |

    ## Registered ids
    One per task page, ``mtenvs/MiniWob-<task>-v0``: {task_ids}.

    ## Version History
    * v0: initial release (miniwob 1.1.0 pages).
      With `eval_set`, a reset without a seed plays the task after the last one played
      (replayed the last seeded task); seeded resets and scores are unchanged.
    """

    site = "miniwob"
    display_origin = DISPLAY_ORIGIN
    site_description = "a MiniWoB++ task page"
    answer_note = "Gave up with answer {answer}."
    default_max_turns: ClassVar[int] = 20
    seeds_per_split: ClassVar[int] = SEEDS_PER_SPLIT
    #: The pages are judged by their own script: no privileged solver to imitate.
    has_oracle: ClassVar[bool] = False
    oracle_always_succeeds: ClassVar[bool] = False
    io_bound: ClassVar[bool] = True
    _snapshot_fields: ClassVar[tuple[str, ...]] = (*WebEnv._snapshot_fields, "_utterance")

    def __init__(
        self,
        task: str = "click-button",
        **kwargs: Unpack[WebArgs],
    ) -> None:
        check_choice("task", task, MINIWOB_TASKS)
        #: The MiniWoB++ task page (the ``task`` argument), e.g. ``click-button``; the
        #: episode's problem on it is :attr:`task`.
        self.task_name = task
        super().__init__(**kwargs)
        self.viewport = MINIWOB_VIEWPORT
        if self.obs_mode != "text":
            self.observation_space = text_image_space(MINIWOB_VIEWPORT[1], MINIWOB_VIEWPORT[0])
        self._utterance = ""
        self._state = PageState()

    # ------------------------------------------------------------------ task hooks

    def make_task(self, split: str, index: int) -> MiniWobTask:
        return make_task(self.task_name, split, index)

    def task_by_id(self, task_id: str) -> MiniWobTask:
        return task_from_id(self.task_name, task_id)

    def eval_task_ids(self) -> list[str]:
        return [f"{self.task_name}/test-{k}" for k in range(EVAL_SET_SIZE)]

    def task_intent(self) -> str:
        return self._utterance

    def site_spec(self) -> SiteSpec:
        return SiteSpec(
            self.site,
            self.site_data,
            self.display_origin,
            f"/miniwob/{self.task_name}.html",
            self.site_description,
        )

    def system_prompt(self) -> str:
        shown = page_shown_text(outline=self.obs_mode != "image", marks=self.set_of_marks)
        return (
            f"You operate a web browser on a MiniWoB++ task page ({DISPLAY_ORIGIN}). "
            f"Each observation shows the task, the URL, the result of your last action and "
            f"{shown}.\n"
            "Reply with exactly one action per turn inside <action>…</action>:\n"
            "  click(id) | type(id, text) | select(id, option) | hover(id) | press(key) | "
            "scroll(up|down) | back() | tab(n) | answer(text)\n"
            "type() replaces the text of a textbox; select() takes the option's text. The "
            "page judges the task itself and the episode ends as soon as it has (for example "
            "when you press its Submit button); answer(...) gives up. "
            "Example: <action>click(2)</action>"
        )

    # ------------------------------------------------------------------ site hooks (unused:
    # the page, not a server, holds the result)

    def check_success(self, state: dict[str, Any], answer: str) -> bool:
        return self._state.done and self._state.raw_reward > 0

    def subgoals(self, state: dict[str, Any], path: str) -> set[str]:
        return set()

    def subgoal_total(self) -> int:
        return 0

    def server_state(self) -> dict[str, Any]:
        """The page's result globals (privileged)."""
        return {
            "done": self._state.done,
            "raw_reward": self._state.raw_reward,
            "reward": self._state.reward,
            "reason": self._state.reason,
        }

    # ------------------------------------------------------------------ infrastructure

    def _ensure_started(self) -> tuple[Any, BrowserSession]:
        owner = os.getpid()
        if self._owner is not None and owner != self._owner:
            # a forked child: the parent's browser is not ours to use or close
            self._slots, self._page_open = {}, False
        self._owner = owner
        server = shared_server()
        slot = self._slot
        if slot.session is None or slot.session.origin != server.origin:
            slot.session = BrowserSession(
                server.origin,
                DISPLAY_ORIGIN,
                viewport=self.viewport,
                load_timeout_s=self.page_load_timeout,
            )
        return server, slot.session

    def _fresh_page(self) -> None:
        """A fresh context on the task page, its episode started with the task's seed."""
        _, session = self._ensure_started()
        task: MiniWobTask = self.task
        session.open(task.path)
        timeout_ms = self.page_load_timeout * 1000
        self._utterance = session.call(
            lambda: start_episode(session.page, task.task, task.seed, task.split, timeout_ms)
        )
        self._state = PageState()
        self._page_open = True
        self._image = None

    # ------------------------------------------------------------------ MultiTurnEnv hooks

    def new_episode(self, task: Any) -> str:
        self._history = []
        self._subgoals = frozenset()
        self._answer = ""
        self._last_action = "(none yet)"
        self._last_error = None
        self._fresh_page()
        return self._render_observation()

    def apply_action(self, action: WebAction) -> Transition:
        if action.name == "answer":
            self._state = self._read_state()  # the page may have ended the task already
            return self._answered(action)
        components = self._browser_step(action)
        self._state = self._read_state()
        text = self._render_observation()
        if not self._state.done:
            return Transition(observation=text, components=components)
        success = self.check_success({}, "")
        components[OUTCOME] = float(success)
        return Transition(observation=text, components=components, terminated=True, success=success)

    def _execute(self, action: WebAction) -> str | None:
        # refused here, not in the parser: goto is in the shared grammar, and a snapshot's
        # replay (WebEnv.restore) goes through here too
        return _NOT_ON_PAGE if action.name == "goto" else super()._execute(action)

    def _read_state(self) -> PageState:
        session = self._ensure_page()
        return session.call(lambda: read_state(session.page))

    def episode_info(self) -> dict[str, Any]:
        return {**super().episode_info(), "raw_reward": self._state.raw_reward}

    def oracle_action(self) -> str:
        raise NoOracleError(
            f"{env_id(self.task_name)} has no scripted oracle (MiniWoB++ pages judge the task in "
            "their own script); check has_oracle, use random_action() or an agent."
        )

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        task: MiniWobTask = self.task
        return {
            "page_seed": task.seed,
            "data_mode": task.split,
            "time_scaled_reward": self._state.reward,
            "reward_reason": self._state.reason,
        }

    def random_action(self, rng: np.random.Generator) -> str:
        reply = super().random_action(rng)
        # the web envs' random goto leaves the task; here it would only be refused
        return "<action>press(Tab)</action>" if "goto(" in reply else reply

    def restore(self, snapshot: EnvSnapshot) -> None:
        super().restore(snapshot)
        self._image = None  # the start screenshot WebEnv caches is of another seed's page
        self._state = self._read_state()


MiniWobEnv.__doc__ = (MiniWobEnv.__doc__ or "").replace("{task_ids}", _TASK_IDS)
