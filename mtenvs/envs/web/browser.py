"""Chromium through Playwright: one browser per worker, a fresh context per episode.

* :func:`shared_browser` starts Debian's Chromium once per process, owned by one dedicated
  thread (Playwright's sync API is bound to the thread that started it): every browser call
  is handed to that thread, so envs may be used from any thread; a forked worker starts its
  own.
* :class:`BrowserSession` is one episode's context: every request outside the site's
  origin is aborted by a route before it leaves the machine (and the host resolver maps
  every other name to nothing, as a second wall); dialogs are accepted and reported, new
  tabs are followed, downloads are refused and reported, and a page that never finishes
  loading is shown as far as it got.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import io
import json
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mtenvs.envs.web.actions import (
    ACTION_FORMS,
    INPUT_FORMATS,
    WebAction,
    input_value_problem,
    site_path,
)
from mtenvs.error import Error

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright

T = TypeVar("T")

__all__ = [
    "BrowserSession",
    "BrowserUnavailableError",
    "Element",
    "PageView",
    "chromium_path",
    "format_problem",
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
_MARKS_JS = (Path(__file__).parent / "marks.js").read_text(encoding="utf-8")
#: Hides the text caret on every page of a context (as Playwright's ``caret="hide"`` does
#: for one screenshot): a blinking caret would make equal pages give unequal pixels.
_NO_CARET_JS = (
    "document.addEventListener('DOMContentLoaded', () => {"
    " const s = document.createElement('style');"
    " s.textContent = '*, *::before, *::after { caret-color: transparent !important; }';"
    " (document.head || document.documentElement).appendChild(s); });"
)
MAX_OUTLINE_LINES = 400
#: The outline script, with the value formats it shows after a date or time input's name
#: (``(date, YYYY-MM-DD)``) bound in once: an argument would be serialized on every call.
_OUTLINE_JS = "(maxLines) => ({})(maxLines, {})".format(
    (Path(__file__).parent / "outline.js").read_text(encoding="utf-8").strip(),
    json.dumps({kind: spec.shown for kind, spec in INPUT_FORMATS.items()}),
)
#: Closes a native popup the last action opened: the list of a ``<select>`` or the picker of
#: a date/time/color input. Chromium draws these outside the page (above or below the field,
#: depending on where the window sits on the virtual screen), so a screenshot of the same page
#: differed with what other contexts were open; they are not in the outline either (the
#: outline lists a combobox's options, and ``select``/``type`` set values). Blurring and
#: refocusing the field closes it and keeps the focus where the action put it.
_PICKER_TYPES = json.dumps([*INPUT_FORMATS, "color"])
_CLOSE_PICKERS_JS = (
    "() => { const e = document.activeElement; if (e && (e.tagName === 'SELECT'"
    f" || (e.tagName === 'INPUT' && {_PICKER_TYPES}.includes(e.type))))"
    " { e.blur(); e.focus({preventScroll: true}); } }"
)
#: How long ``press(Enter)`` waits for a navigation it may have started (a form submit).
_PRESS_NAVIGATION_MS = 400
_INSTALL_HINT = (
    'pip install "mtenvs[web]" and install Chromium (Debian/Ubuntu: '
    "apt-get install -y chromium), or set MTENVS_CHROMIUM to its path"
)


class BrowserUnavailableError(Error, RuntimeError):
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


def _browser_method(method: Callable[..., T]) -> Callable[..., T]:
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


@dataclass(frozen=True)
class Element:
    """One interactive element of the outline (``id`` is its number in the text)."""

    id: int
    kind: str
    name: str
    value: str | None = None
    options: tuple[str, ...] = ()
    #: A link that opens a new tab (``target="_blank"``).
    new_tab: bool = False
    #: The ``type`` of a textbox that takes one value format (``date``, ``time``… the keys
    #: of :data:`~mtenvs.envs.web.actions.INPUT_FORMATS`), else ``""``.
    input_type: str = ""
    #: A radio button's group: its ``<fieldset>``'s legend, else its ARIA radiogroup's
    #: label, else its ``name``; ``""`` for other kinds.
    group: str = ""


@dataclass
class PageView:
    """What the agent sees of the active tab."""

    url: str
    title: str
    tabs: list[str]
    active_tab: int
    lines: list[str]
    elements: dict[int, Element] = field(default_factory=dict)


def format_problem(action: WebAction, view: PageView | None) -> str | None:
    """Why ``action`` is a ``type`` whose text does not fit its input's format (a date
    input given ``03/01/2024``), else ``None``; needs no browser, only the outline."""
    if action.name != "type" or view is None:
        return None
    element = view.elements.get(int(action.args[0]))
    if element is None or element.kind != "textbox":
        return None
    problem = input_value_problem(element.input_type, str(action.args[1]))
    return None if problem is None else f"{action}: {problem}; [{element.id}] is unchanged."


class BrowserSession:
    """One episode's browser context on ``origin`` (``http://127.0.0.1:<port>``), whose URLs
    are shown to the agent as ``display_origin``."""

    def __init__(
        self, origin: str, display_origin: str, *, viewport: tuple[int, int], load_timeout_s: float
    ) -> None:
        self.origin = origin
        self.display_origin = display_origin
        self.viewport = viewport
        self.load_timeout_ms = load_timeout_s * 1000
        self.events: list[str] = []
        self.blocked: list[str] = []
        self._context: BrowserContext | None = None
        self._pages: list[Page] = []
        self._cdp: dict[Page, CDPSession] = {}
        self.active = 0

    # ------------------------------------------------------------------ lifecycle

    @_browser_method
    def open(self, path: str) -> None:
        """A fresh context (no cookies, storage or history) showing ``path``."""
        self.close()
        context = shared_browser().new_context(
            viewport={"width": self.viewport[0], "height": self.viewport[1]},
            accept_downloads=False,
            service_workers="block",
            java_script_enabled=True,
        )
        context.set_default_timeout(self.load_timeout_ms)
        context.add_init_script(script=_NO_CARET_JS)
        context.route("**/*", self._route)
        context.on("page", self._on_page)
        context.on("dialog", self._on_dialog)
        self._context = context
        self._pages = []
        self.events = []
        self.blocked = []
        page = context.new_page()
        self._settle_goto(page, path)

    @_browser_method
    def close(self) -> None:
        if self._context is not None:
            with contextlib.suppress(Exception):  # the browser may be gone already
                self._context.close()
        self._context = None
        self._pages = []
        self._cdp = {}
        self.active = 0

    # ------------------------------------------------------------------ event handlers

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/") or url == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            self.events.append(f"Blocked a request outside the site: {url[:120]}")
            route.abort("blockedbyclient")

    def _on_page(self, page: Page) -> None:
        page.on("download", self._on_download)
        page.on("close", self._on_close)
        self._pages.append(page)
        if len(self._pages) > 1:
            self.active = len(self._pages) - 1
            self.events.append(f"A new tab opened (tab {self.active}); it is now active.")

    def _on_close(self, page: Page) -> None:
        self._cdp.pop(page, None)
        if page in self._pages:
            self._pages.remove(page)
            self.active = min(self.active, max(0, len(self._pages) - 1))
            self.events.append("A tab was closed.")

    def _on_dialog(self, dialog: Any) -> None:
        self.events.append(
            f"A {dialog.type} dialog said {dialog.message[:200]!r}; it was accepted."
        )
        dialog.accept()

    def _on_download(self, download: Any) -> None:
        self.events.append(
            f"A download of {download.suggested_filename!r} was blocked (downloads are not kept)."
        )

    # ------------------------------------------------------------------ helpers

    @property
    def page(self) -> Page:
        if not self._pages:
            raise BrowserUnavailableError("The episode's browser context has no open page.")
        return self._pages[self.active]

    @property
    def context(self) -> BrowserContext:
        if self._context is None:
            raise BrowserUnavailableError("The episode's browser context is not open.")
        return self._context

    @property
    def pages(self) -> list[Page]:
        return list(self._pages)

    @_browser_method
    def settle(self, page: Page | None = None) -> None:
        """Wait for the DOM of the (active) page, reporting a load that does not finish."""
        from playwright.sync_api import Error as PlaywrightError

        page = page or self.page
        try:
            page.wait_for_load_state("domcontentloaded", timeout=self.load_timeout_ms)
        except PlaywrightError:
            self.events.append(
                f"The page did not finish loading within "
                f"{self.load_timeout_ms / 1000:g} s; showing what has loaded."
            )

    def close_pickers(self) -> None:
        """Close a native popup (a ``<select>`` list, a date picker) the focused field has
        open (see :data:`_CLOSE_PICKERS_JS`); a page that is navigating has none."""
        from playwright.sync_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):
            self.page.evaluate(_CLOSE_PICKERS_JS)

    def _settle_goto(self, page: Page, path: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            page.goto(
                self.origin + path, wait_until="domcontentloaded", timeout=self.load_timeout_ms
            )
        except PlaywrightError as e:
            if "Timeout" not in str(e):
                raise
            self.events.append(
                f"The page did not finish loading within "
                f"{self.load_timeout_ms / 1000:g} s; showing what has loaded."
            )

    @_browser_method
    def goto(self, path: str) -> None:
        self._settle_goto(self.page, path)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which may use :attr:`page`) on the browser thread."""
        return on_browser_thread(fn)

    def pop_events(self) -> list[str]:
        out, self.events = self.events, []
        return out

    @_browser_method
    def view(self) -> PageView:
        """The outline of the active tab (tags its interactive elements with ids)."""
        from playwright.sync_api import Error as PlaywrightError

        page = self.page
        result: dict[str, Any] = {"lines": [], "elements": []}
        for _ in range(3):
            try:
                result = page.evaluate(_OUTLINE_JS, MAX_OUTLINE_LINES)
                break
            except PlaywrightError as e:  # a navigation destroyed the context: wait, retry
                if "destroyed" not in str(e) and "navigat" not in str(e):
                    raise
                self.settle(page)
        elements = {
            int(e["id"]): Element(
                int(e["id"]),
                e["kind"],
                e["name"],
                None if e["value"] is None else str(e["value"]),
                tuple(e["options"] or ()),
                bool(e.get("newTab")),
                str(e.get("inputType") or ""),
                str(e.get("group") or ""),
            )
            for e in result["elements"]
        }
        title = str(result.get("title") or "")
        tabs = []
        for p in self._pages:
            try:
                tabs.append(
                    title
                    if p is page
                    else p.title() or p.url.replace(self.origin, self.display_origin)
                )
            except PlaywrightError:
                tabs.append(p.url.replace(self.origin, self.display_origin))
        return PageView(page.url, title, tabs, self.active, list(result["lines"]), elements)

    def locator(self, element_id: int) -> Any:
        return self.page.locator(f'[data-mt-id="{element_id}"]')

    def _cdp_session(self, page: Page) -> CDPSession:
        """The page's DevTools session (one per page, opened on first use)."""
        session = self._cdp.get(page)
        if session is None:
            session = self._cdp[page] = self.context.new_cdp_session(page)
        return session

    @_browser_method
    def screenshot(self, marks: bool) -> np.ndarray:
        """The viewport as an RGB ``uint8`` array (set-of-marks boxes drawn when ``marks``).

        One DevTools ``Page.captureScreenshot`` call, PNG encoded for speed, rather than
        Playwright's ``page.screenshot`` (which adds round trips to hide the caret, hidden
        here once per context by an init script, and to stop animations, which the sites do
        not have). The capture draws a fresh frame of the current DOM, so equal pages give
        equal pixels without waiting for animation frames.
        """
        from PIL import Image
        from playwright.sync_api import Error as PlaywrightError

        page = self.page
        if marks:
            page.evaluate(_MARKS_JS, True)
        try:
            try:
                shot = self._cdp_session(page).send(
                    "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}
                )
                png = base64.b64decode(shot["data"])
            except PlaywrightError:
                # no frame to capture (a navigation is committing): Playwright's own call
                # waits for one
                png = page.screenshot(
                    type="png", animations="disabled", caret="hide", timeout=self.load_timeout_ms
                )
        finally:
            if marks:
                page.evaluate(_MARKS_JS, False)
        with Image.open(io.BytesIO(png)) as img:
            # PNG decoding already yields RGB; convert() would copy the pixels once more
            array = np.asarray(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.uint8)
        height, width = self.viewport[1], self.viewport[0]
        if array.shape[:2] != (height, width):
            fixed = np.full((height, width, 3), 255, dtype=np.uint8)
            h, w = min(height, array.shape[0]), min(width, array.shape[1])
            fixed[:h, :w] = array[:h, :w]
            array = fixed
        return array

    # ------------------------------------------------------------------ actions

    @_browser_method
    def run(self, action: WebAction, view: PageView | None) -> str | None:
        """Run ``action`` on the active tab, resolving ids against ``view`` (the outline the
        agent saw); the error message for the agent, or ``None``."""
        from playwright.sync_api import Error as PlaywrightError

        session = self
        timeout = self.load_timeout_ms
        name, args = action.name, action.args
        try:
            if name in ("click", "type", "select", "hover"):
                element = view.elements.get(int(args[0])) if view else None
                if element is None:
                    valid = ", ".join(map(str, sorted(view.elements)[:40])) if view else ""
                    return (
                        f"There is no element [{args[0]}] on this page. Valid ids: "
                        f"{valid or 'none'}. Valid actions: {', '.join(ACTION_FORMS)}."
                    )
                target = session.locator(element.id)
                if name == "click" and element.new_tab:
                    # wait for the tab here, so the observation shows it
                    with session.context.expect_page(timeout=timeout):
                        target.click(timeout=timeout)
                elif name == "click":
                    target.click(timeout=timeout)
                elif name == "hover":
                    target.hover(timeout=timeout)
                elif name == "type":
                    if element.kind != "textbox":
                        return (
                            f"[{element.id}] is a {element.kind}, not a textbox; type() needs one."
                        )
                    # Chromium drops a date in another format (or Playwright refuses it)
                    problem = format_problem(action, view)
                    if problem is not None:
                        return problem
                    target.fill(str(args[1]), timeout=timeout)
                else:
                    if element.kind != "combobox":
                        return (
                            f"[{element.id}] is a {element.kind}, not a combobox; select() "
                            "needs one."
                        )
                    if str(args[1]) not in element.options:
                        return (
                            f"{args[1]!r:.60} is not an option of [{element.id}]; options: "
                            f"{' | '.join(element.options)}."
                        )
                    target.select_option(label=str(args[1]), timeout=timeout)
            elif name == "press":
                key = " " if args[0] == "Space" else str(args[0])
                if key in ("Enter", " "):
                    # may submit a form: wait for that navigation so the outline shows it
                    try:
                        with session.page.expect_navigation(
                            wait_until="commit", timeout=_PRESS_NAVIGATION_MS
                        ):
                            session.page.keyboard.press(key)
                    except PlaywrightError as e:
                        if "Timeout" not in str(e):
                            raise
                else:
                    session.page.keyboard.press(key)
            elif name == "scroll":
                # scrollBy is synchronous (a wheel event scrolls later, racing screenshots)
                dy = int(self.viewport[1] * 0.8) * (1 if args[0] == "down" else -1)
                session.page.evaluate(f"window.scrollBy({{top: {dy}, behavior: 'instant'}})")
            elif name == "goto":
                session.goto(site_path(str(args[0]), self.display_origin) or "/")
            elif name == "back":
                session.page.go_back(wait_until="domcontentloaded", timeout=timeout)
            elif name == "tab":
                n = int(args[0])
                if not 0 <= n < len(session.pages):
                    return f"There is no tab {n}; open tabs are 0..{len(session.pages) - 1}."
                session.active = n
                session.page.bring_to_front()
            session.settle()
            if name in ("click", "press"):
                session.close_pickers()
        except PlaywrightError as e:
            message = str(e).splitlines()[0][:200]
            session.settle()
            return f"{action} failed: {message}"
        return None
