"""Serving the MiniWoB++ pages and driving a task page's episode through Playwright.

* :func:`shared_server` serves the ``miniwob`` package's ``html`` folder (read only, no
  directory listings) on a loopback port from a daemon thread; one per process, started on
  first use, like the browser (a forked worker starts its own).
* :func:`start_episode` does on an opened page what miniwob's own env does through
  Selenium (``SeleniumInstance.begin_task``): ``Math.seedrandom(seed)``,
  ``core.setDataMode(mode)``, ``core.startEpisodeReal()``, wait for ``WOB_TASK_READY``,
  read ``core.getUtterance()``; and, for a multi-turn agent that thinks between actions,
  what BrowserGym does too: the episode timer is pushed out of reach (the page would end
  the episode with -1 after 10 s), the countdown and the human display (reward HUD, click
  canvas, the START cover, the query, which the observation carries as text) are hidden.
  Beyond both, the page clock is frozen and animations take no time, so a seed gives the
  same page, pixels included.
* :func:`read_state` reads the page's own result: ``WOB_DONE_GLOBAL``,
  ``WOB_RAW_REWARD_GLOBAL``, ``WOB_REWARD_GLOBAL`` and ``WOB_REWARD_REASON``.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from mtenvs.envs.web.miniwob_tasks import html_dir
from mtenvs.error import Error

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = [
    "FROZEN_TIME",
    "MiniWobPageError",
    "PageServer",
    "PageState",
    "read_state",
    "shared_server",
    "start_episode",
]

#: The instant the page clock shows (``Date.now()``), the same in every episode.
FROZEN_TIME = "2024-01-01T12:00:00Z"
#: ``core.EPISODE_MAX_TIME`` in ms: the largest delay ``setTimeout`` takes (~24.8 days);
#: more overflows and fires at once.
_NO_TIMEOUT_MS = 2**31 - 1
_HIDE_CSS = (
    "#reward-display, #click-canvas, #sync-task-cover, #query { display: none !important; }\n"
    "*, *::before, *::after { animation-duration: 0s !important; animation-delay: 0s "
    "!important; transition-duration: 0s !important; transition-delay: 0s !important;"
    " caret-color: transparent !important; }"
)
_LOADED_JS = "() => typeof core !== 'undefined' && core.cover_div != null"
_START_JS = """([seed, mode, maxTime, css]) => {
  if (typeof core === 'undefined' || typeof genProblem === 'undefined') return null;
  const style = document.createElement('style');
  style.textContent = css;
  document.head.appendChild(style);
  if (window.jQuery) window.jQuery.fx.off = true;
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = maxTime;
  core.setDataMode(mode);
  core.startEpisodeReal();
  core.clearTimer();
  return WOB_TASK_READY;
}"""
_UTTERANCE_JS = """() => {
  const u = core.getUtterance();
  return typeof u === 'string' ? u : String(u && u.utterance);
}"""
# After a macrotask, so a reward set by a handler's zero-delay timeout is seen.
_STATE_JS = """() => new Promise((resolve) => setTimeout(() => resolve(
  typeof WOB_DONE_GLOBAL === 'undefined' ? null : [
    !!WOB_DONE_GLOBAL, Number(WOB_RAW_REWARD_GLOBAL) || 0, Number(WOB_REWARD_GLOBAL) || 0,
    WOB_REWARD_REASON == null ? null : String(WOB_REWARD_REASON),
  ]), 0))"""


class MiniWobPageError(Error, RuntimeError):
    """A MiniWoB++ task page did not load or start its episode."""


class _Handler(SimpleHTTPRequestHandler):
    """Static files only: no directory listings, no request log on stderr."""

    def list_directory(self, path: Any) -> None:
        self.send_error(404, "No listing")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a context closed mid-transfer (an episode ended while a file was still being
        # sent) is routine, not worth a traceback on stderr
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class PageServer:
    """The ``html`` folder of the ``miniwob`` package on ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        handler = functools.partial(_Handler, directory=str(html_dir()))
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self.port = int(self._httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pid = os.getpid()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="mtenvs-miniwob-http", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self.pid == os.getpid() and self._thread.is_alive()

    def close(self) -> None:
        if self.alive:
            self._httpd.shutdown()
        self._httpd.server_close()


_SERVER: PageServer | None = None
_SERVER_LOCK = threading.Lock()


def shared_server() -> PageServer:
    """This process's page server, started on first use (the pages are static, so every
    env of the process shares it; a daemon thread, gone with the process)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or not _SERVER.alive:
            _SERVER = PageServer()
        return _SERVER


@dataclass(frozen=True)
class PageState:
    """The page's own result (MiniWoB's ``WOB_*`` globals); ``on_task_page`` is False when
    the tab shows another page (then the rest is the empty default)."""

    done: bool = False
    raw_reward: float = 0.0
    reward: float = 0.0
    reason: str | None = None
    on_task_page: bool = True


def start_episode(page: Page, task: str, seed: int, mode: str, timeout_ms: float) -> str:
    """Seed and start the episode of the task page open in ``page`` and return its
    utterance (run on the browser thread)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        # the page builds its display (and the canvas startEpisodeReal clears) on
        # window.onload, which can come after the DOMContentLoaded that goto waited for
        page.wait_for_function(_LOADED_JS, timeout=timeout_ms)
        page.context.clock.set_fixed_time(FROZEN_TIME)
        ready = page.evaluate(_START_JS, [seed, mode, _NO_TIMEOUT_MS, _HIDE_CSS])
        if ready is None:
            raise MiniWobPageError(
                f"The MiniWoB++ page of {task!r} did not load its core script (is the "
                f"miniwob package complete? page: {page.url})."
            )
        if not ready:
            page.wait_for_function("() => WOB_TASK_READY", timeout=timeout_ms)
        return str(page.evaluate(_UTTERANCE_JS)).strip()
    except PlaywrightError as e:
        raise MiniWobPageError(
            f"The MiniWoB++ page of {task!r} did not start its episode: "
            f"{str(e).splitlines()[0][:200]}"
        ) from e


def read_state(page: Page) -> PageState:
    """The page's ``WOB_*`` result globals (run on the browser thread)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        values = page.evaluate(_STATE_JS)
    except PlaywrightError:  # the page is navigating away
        return PageState(on_task_page=False)
    if values is None:
        return PageState(on_task_page=False)
    done, raw, reward, reason = values
    return PageState(bool(done), float(raw), float(reward), reason)
