"""MiniWoB++ task pages: the ids, the task specs and where the pages are on disk.

``mtenvs/MiniWob-<task>-v0`` for every task in :data:`MINIWOB_TASKS` (registered by
:mod:`mtenvs.envs.web`, one id per page); :data:`REPRESENTATIVE_TASKS` are the few that
project-wide tests open.

The task names are the page files ``miniwob/html/miniwob/<task>.html`` of the ``miniwob``
PyPI package (1.1.0), listed here so the ids register without importing that package (it
pulls in Selenium); a test checks the list against the installed package. No I/O at import.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from mtenvs.error import Error

__all__ = [
    "MINIWOB_IDS",
    "MINIWOB_TASKS",
    "REPRESENTATIVE_IDS",
    "REPRESENTATIVE_TASKS",
    "SEEDS_PER_SPLIT",
    "MiniWobTask",
    "MiniWobUnavailableError",
    "env_id",
    "html_dir",
    "make_task",
    "task_from_id",
]

#: Every task page shipped in ``miniwob==1.1.0`` (``html/miniwob/*.html``), sorted.
MINIWOB_TASKS: tuple[str, ...] = (
    "ascending-numbers",
    "bisect-angle",
    "book-flight",
    "book-flight-nodelay",
    "button-delay",
    "buy-ticket",
    "chase-circle",
    "choose-date",
    "choose-date-easy",
    "choose-date-medium",
    "choose-date-nodelay",
    "choose-list",
    "circle-center",
    "click-button",
    "click-button-sequence",
    "click-checkboxes",
    "click-checkboxes-large",
    "click-checkboxes-soft",
    "click-checkboxes-transfer",
    "click-collapsible",
    "click-collapsible-2",
    "click-collapsible-2-nodelay",
    "click-collapsible-nodelay",
    "click-color",
    "click-dialog",
    "click-dialog-2",
    "click-link",
    "click-menu",
    "click-menu-2",
    "click-option",
    "click-pie",
    "click-pie-nodelay",
    "click-scroll-list",
    "click-shades",
    "click-shape",
    "click-tab",
    "click-tab-2",
    "click-tab-2-easy",
    "click-tab-2-hard",
    "click-tab-2-medium",
    "click-test",
    "click-test-2",
    "click-test-transfer",
    "click-widget",
    "copy-paste",
    "copy-paste-2",
    "count-shape",
    "count-sides",
    "daily-calendar",
    "drag-box",
    "drag-circle",
    "drag-cube",
    "drag-items",
    "drag-items-grid",
    "drag-shapes",
    "drag-shapes-2",
    "drag-single-shape",
    "drag-sort-numbers",
    "draw-circle",
    "draw-line",
    "email-inbox",
    "email-inbox-delete",
    "email-inbox-forward",
    "email-inbox-forward-nl",
    "email-inbox-forward-nl-turk",
    "email-inbox-important",
    "email-inbox-nl-turk",
    "email-inbox-noscroll",
    "email-inbox-reply",
    "email-inbox-star-reply",
    "enter-date",
    "enter-password",
    "enter-text",
    "enter-text-2",
    "enter-text-dynamic",
    "enter-time",
    "find-greatest",
    "find-midpoint",
    "find-word",
    "focus-text",
    "focus-text-2",
    "form-sequence",
    "form-sequence-2",
    "form-sequence-3",
    "generate-number",
    "grid-coordinate",
    "guess-number",
    "highlight-text",
    "highlight-text-2",
    "hot-cold",
    "hover-shape",
    "identify-shape",
    "login-user",
    "login-user-popup",
    "moving-items",
    "multi-layouts",
    "multi-orderings",
    "navigate-tree",
    "number-checkboxes",
    "odd-or-even",
    "order-food",
    "phone-book",
    "read-table",
    "read-table-2",
    "resize-textarea",
    "right-angle",
    "scroll-text",
    "scroll-text-2",
    "search-engine",
    "sign-agreement",
    "simon-says",
    "simple-algebra",
    "simple-arithmetic",
    "social-media",
    "social-media-all",
    "social-media-some",
    "stock-market",
    "terminal",
    "text-editor",
    "text-transform",
    "tic-tac-toe",
    "unicode-test",
    "use-autocomplete",
    "use-autocomplete-nodelay",
    "use-colorwheel",
    "use-colorwheel-2",
    "use-slider",
    "use-slider-2",
    "use-spinner",
    "visual-addition",
)
#: A few tasks that stand for the family in project-wide tests (one click, one multi-click
#: with a submit, one typing task), so those do not open all 130 pages.
REPRESENTATIVE_TASKS: tuple[str, ...] = ("click-button", "click-checkboxes", "enter-text")
#: Pages that miniwob's own Gymnasium registry leaves out (they measure real time: a
#: moving target, a delay, a sequence to repeat); registered here, documented as such.
REAL_TIME_TASKS: tuple[str, ...] = (
    "button-delay",
    "chase-circle",
    "hover-shape",
    "moving-items",
    "simon-says",
)
#: Page seeds per split: ``train`` uses ``Math.seedrandom(k)`` for k in [0, N), ``test``
#: uses N + k, so the splits never share a problem.
SEEDS_PER_SPLIT = 10_000
_INSTALL_HINT = 'pip install "mtenvs[web]" (or pip install miniwob==1.1.0)'
_TASK_ID = re.compile(r"^(?P<task>[a-z0-9-]+)/(?P<split>train|test)-(?P<index>\d+)$")


class MiniWobUnavailableError(Error, RuntimeError):
    """The ``miniwob`` package (which ships the task pages) is not installed."""


def env_id(task: str) -> str:
    """The Gymnasium id of a task page: ``mtenvs/MiniWob-<task>-v0``."""
    return f"mtenvs/MiniWob-{task}-v0"


#: Every registered id, in :data:`MINIWOB_TASKS` order.
MINIWOB_IDS: tuple[str, ...] = tuple(env_id(task) for task in MINIWOB_TASKS)
#: The ids of :data:`REPRESENTATIVE_TASKS`.
REPRESENTATIVE_IDS: tuple[str, ...] = tuple(env_id(task) for task in REPRESENTATIVE_TASKS)


@dataclass(frozen=True)
class MiniWobTask:
    """One episode's problem: the page, the split and the index of its seed."""

    task: str
    split: str
    index: int

    @property
    def task_id(self) -> str:
        """E.g. ``click-button/train-17``."""
        return f"{self.task}/{self.split}-{self.index}"

    @property
    def seed(self) -> int:
        """The ``Math.seedrandom`` seed of the page (what miniwob's own env calls the seed)."""
        return self.index + (SEEDS_PER_SPLIT if self.split == "test" else 0)

    @property
    def path(self) -> str:
        """The page's path on the server."""
        return f"/miniwob/{self.task}.html"


def make_task(task: str, split: str, index: int) -> MiniWobTask:
    """Problem ``index`` (0 <= index < :data:`SEEDS_PER_SPLIT`) of ``task`` in ``split``."""
    return MiniWobTask(task, split, index % SEEDS_PER_SPLIT)


def task_from_id(task: str, task_id: str) -> MiniWobTask:
    """The problem named ``task_id`` (``<task>/<split>-<index>``); ``ValueError`` naming the
    expected form when it is not one of ``task``'s."""
    match = _TASK_ID.match(task_id.strip())
    if match is None or match["task"] != task or int(match["index"]) >= SEEDS_PER_SPLIT:
        raise ValueError(
            f"Unknown MiniWoB task id {task_id!r}; expected '{task}/train-<k>' or "
            f"'{task}/test-<k>' with 0 <= k < {SEEDS_PER_SPLIT}, e.g. '{task}/train-0'."
        )
    return MiniWobTask(task, match["split"], int(match["index"]))


def html_dir() -> Path:
    """The ``html`` folder of the installed ``miniwob`` package (found without importing it)."""
    spec = importlib.util.find_spec("miniwob")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "html"
        if (folder / "miniwob").is_dir() and (folder / "core" / "core.js").is_file():
            return folder
    raise MiniWobUnavailableError(
        f"The MiniWoB++ task pages were not found: the miniwob package is not installed; "
        f"{_INSTALL_HINT}."
    )
