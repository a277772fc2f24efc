"""This process's Chromium, driven through Playwright from one dedicated thread.

:func:`shared_browser` starts Debian's Chromium once per process, owned by one dedicated
thread (Playwright's sync API is bound to the thread that started it): every browser call
is handed to that thread by :func:`on_browser_thread`, so envs may be used from any thread;
a forked worker starts its own. The browser is closed at exit. Episodes open their own
contexts on it (:class:`~mtenvs.envs.web.browser.BrowserSession`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from mtenvs.error import UnavailableError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

T = TypeVar("T")

__all__ = [
    "CHROMIUM_ARGS",
    "BrowserUnavailableError",
    "browser_method",
    "chromium_path",
    "on_browser_thread",
    "shared_browser",
]

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # re-raster whole tiles: a tile partly repainted (say, a button's hover state) can
    # differ by one level in its anti-aliased edges from one painted in full, so the same
    # page gave unequal screenshots depending on what other contexts were doing
    "--disable-partial-raster",
)
_INSTALL_HINT = (
    'pip install "mtenvs[web]" and install Chromium (Debian/Ubuntu: '
    "apt-get install -y chromium), or set MTENVS_CHROMIUM to its path"
)


class BrowserUnavailableError(UnavailableError):
    """Playwright or Chromium is missing or would not start."""


def chromium_path() -> str | None:
    """The Chromium executable: ``$MTENVS_CHROMIUM``, else ``chromium`` on ``PATH``."""
    return (
        os.environ.get("MTENVS_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


class _BrowserThread:
    """The thread that owns this process's Playwright (its sync API is bound to one thread):
    every browser call of every env runs here, so envs may be reset and stepped from any
    thread (the rollout engine resets in a background thread)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._queue: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="mtenvs-chromium", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                future.set_result(fn())
            except BaseException as e:  # handed to the caller
                future.set_exception(e)

    def call(self, fn: Callable[[], T]) -> T:
        if threading.current_thread() is self._thread:
            return fn()
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future.result()


_THREAD: _BrowserThread | None = None
_THREAD_LOCK = threading.Lock()


def on_browser_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` on this process's browser thread (started on first use) and return its
    result; every Playwright call goes through here."""
    global _THREAD
    with _THREAD_LOCK:
        if _THREAD is None or _THREAD.pid != os.getpid():
            _THREAD = _BrowserThread()
        thread = _THREAD
    return thread.call(fn)


def browser_method(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a method so every call runs on the browser thread (see
    :func:`on_browser_thread`)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return on_browser_thread(lambda: method(*args, **kwargs))

    return wrapper


_BROWSERS: dict[int, tuple[Playwright, Browser]] = {}


def shared_browser() -> Browser:
    """This process's Chromium, started on first use and closed at exit."""
    return on_browser_thread(_shared_browser)


def _shared_browser() -> Browser:
    key = os.getpid()
    entry = _BROWSERS.get(key)
    if entry is not None and entry[1].is_connected():
        return entry[1]
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise BrowserUnavailableError(f"Playwright is not installed; {_INSTALL_HINT}.") from e
    path = chromium_path()
    if path is None:
        raise BrowserUnavailableError(f"Chromium was not found; {_INSTALL_HINT}.")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
    except PlaywrightError as e:
        pw.stop()
        raise BrowserUnavailableError(f"Chromium at {path} did not start: {e}") from e
    _BROWSERS[key] = (pw, browser)
    return browser


@atexit.register
def _close_browsers() -> None:
    entry = _BROWSERS.pop(os.getpid(), None)
    if entry is None:
        return

    def close() -> None:
        with contextlib.suppress(Exception):  # shutting down anyway
            entry[1].close()
            entry[0].stop()

    with contextlib.suppress(Exception):
        on_browser_thread(close)
