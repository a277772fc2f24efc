"""Chromium through Playwright: one browser per worker, a fresh context per episode.

* :func:`~mtenvs.envs.web.chromium.shared_browser` (in :mod:`mtenvs.envs.web.chromium`,
  re-exported here) starts Debian's Chromium once per process, owned by one dedicated
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

import base64
import contextlib
import io
import json
from collections.abc import Callable
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
from mtenvs.envs.web.chromium import CHROMIUM_ARGS as CHROMIUM_ARGS
from mtenvs.envs.web.chromium import (
    BrowserUnavailableError,
    browser_method,
    chromium_path,
    on_browser_thread,
    shared_browser,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, CDPSession, Page

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
#: Whether Enter or Space on the focused element can start a navigation: it is in a form,
#: a link or a button, or an inline key handler is on it or the document. Otherwise the
#: press starts none (the sites navigate only by links and forms; MiniWoB tasks never leave
#: their page), and waiting :data:`_PRESS_NAVIGATION_MS` for one would only cost time.
_MAY_NAVIGATE_JS = (
    "() => { const e = document.activeElement;"
    " if (!e || e === document.body) return !!(document.onkeydown || document.onkeypress"
    " || document.body?.hasAttribute('onkeydown') || document.body?.hasAttribute('onkeypress'));"
    " return !!(e.form || e.closest('a[href], button, [role=button], [onkeydown], [onkeypress],"
    " [onkeyup], summary')); }"
)


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

    @browser_method
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

    @browser_method
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

    @browser_method
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

    @browser_method
    def goto(self, path: str) -> None:
        self._settle_goto(self.page, path)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which may use :attr:`page`) on the browser thread."""
        return on_browser_thread(fn)

    def pop_events(self) -> list[str]:
        out, self.events = self.events, []
        return out

    @browser_method
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

    @browser_method
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

    @browser_method
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
                if key in ("Enter", " ") and session.page.evaluate(_MAY_NAVIGATE_JS):
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
