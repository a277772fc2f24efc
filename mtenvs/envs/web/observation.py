"""What a web env shows the agent as text: the system prompt and each turn's observation.

Pure functions of what the env already holds (the task, the URL, the last action's result
and the page outline as a :class:`~mtenvs.envs.web.browser.PageView`); no browser calls.

The page outline (``outline.js``) shows text, headings and table rows, and every
interactive element as ``[id] kind "name"`` with its state: ``textbox "Search"
value="lamp"``, ``combobox "Sort by" selected="Price" options: …``, ``checkbox "Gift wrap"
checked``. A date or time input shows its value format (``textbox "Due date" (date,
YYYY-MM-DD) value="2024-03-01"``; also ``time`` HH:MM, ``datetime-local``
YYYY-MM-DDTHH:MM, ``month`` YYYY-MM, ``week`` YYYY-Www) and ``type()`` refuses text in
another format before the browser is touched (the error names the format and an
example); a radio button shows its group, the legend of its fieldset or else its name
(``radio "Yes" (group "Subscribe?") checked``). A well-formed action that fails (unknown
id, wrong kind, bad option or date format, timeout) is reported in the ``Last action``
line and ``info["last_action_error"]``; the episode goes on.

Under ``obs_mode="image"`` the text has no outline (``outline=False``): the page is only
in the screenshot, whose set-of-marks boxes carry the element ids. What the screenshot
cannot show stays in the text: the task, the URL, the title and tabs, the last action's
result, the browser's events, and the options of the page's lists (a ``<select>``'s list
is a native popup, closed before every screenshot, and ``select()`` names an option).
"""

from __future__ import annotations

from collections.abc import Sequence

from mtenvs.envs.web.browser import PageView

__all__ = [
    "MAX_PAGE_CHARS",
    "list_options_text",
    "page_shown_text",
    "render_observation",
    "system_prompt_text",
]

#: Longest page outline shown, in characters (the rest is cut with a note).
MAX_PAGE_CHARS = 16_000


def page_shown_text(*, outline: bool, marks: bool) -> str:
    """How an observation shows the page, for system prompts: the outline, or (``outline``
    false) the screenshot, with set-of-marks ids when ``marks``."""
    if outline:
        return "an outline of the page where interactive elements carry a [number] id"
    ids = (
        "interactive elements are boxed with their [number] id"
        if marks
        else "element ids are not drawn (set_of_marks is off)"
    )
    return (
        f"a screenshot of the page, where {ids}; the text holds no outline of the page, "
        "only the options of its lists"
    )


def system_prompt_text(
    description: str, display_origin: str, *, outline: bool = True, marks: bool = False
) -> str:
    """The rules and action grammar for browsing ``description`` (``"a shop site"``) at
    ``display_origin``; ``outline``/``marks``: see :func:`page_shown_text`."""
    formats = (
        "the format shown on their line, e.g. YYYY-MM-DD"
        if outline
        else "ISO formats, e.g. YYYY-MM-DD for a date, HH:MM for a time"
    )
    return (
        f"You operate a web browser on {description} "
        f"({display_origin}). "
        "Each observation shows the task, the URL, the open tabs, the result of your last "
        f"action and {page_shown_text(outline=outline, marks=marks)}.\n"
        "Reply with exactly one action per turn inside <action>…</action>:\n"
        "  click(id) | type(id, text) | select(id, option) | hover(id) | press(key) | "
        "scroll(up|down) | goto(url) | back() | tab(n) | answer(text)\n"
        f"type() replaces the text of a textbox (date and time inputs take {formats}); "
        "select() takes the option's text; "
        "goto() only opens pages of this site (e.g. goto(/)). End the task with "
        "answer(...): the answer to a question, or answer(done) once the requested "
        "change is made. Example: <action>click(12)</action>"
    )


def render_observation(
    view: PageView,
    *,
    intent: str,
    url: str,
    last_action: str,
    last_error: str | None,
    events: Sequence[str] = (),
    note: str | None = None,
    outline: bool = True,
) -> str:
    """One turn's observation: the task ``intent``, ``url``, the page's title and tabs, the
    last action and its error, the browser's ``events`` since then, an optional ``note``
    and the outline (cut at :data:`MAX_PAGE_CHARS`); without ``outline`` (the page is in the
    screenshot), the options of the page's lists in its place."""
    tabs = "  ".join(
        f"[{i}] {t[:60]}{' (active)' if i == view.active_tab else ''}"
        for i, t in enumerate(view.tabs)
    )
    status = f"error: {last_error}" if last_error else "ok"
    parts = [
        f"Task: {intent}",
        f"URL: {url}",
        f"Title: {view.title}",
        f"Tabs: {tabs}",
        f"Last action: {last_action} -> {status}",
    ]
    if events:
        parts.append("Events: " + " | ".join(events))
    if note:
        parts.append(note)
    if not outline:
        lists = list_options_text(view)
        if lists:
            parts.append(lists)
        return "\n".join(parts)
    page = "\n".join(view.lines)
    if len(page) > MAX_PAGE_CHARS:
        page = page[:MAX_PAGE_CHARS] + "\n… (page cut)"
    parts.append("Page:\n" + page)
    return "\n".join(parts)


def list_options_text(view: PageView) -> str:
    """The options of the page's lists (``<select>``), which no screenshot shows, as
    ``[id] "name": a | b | c`` lines under a heading; ``""`` when the page has none."""
    lists = [
        f'  [{e.id}] "{e.name[:60]}": {" | ".join(o[:60] for o in e.options)}'
        for e in view.elements.values()
        if e.options
    ]
    if not lists:
        return ""
    text = "\n".join(lists)
    if len(text) > MAX_PAGE_CHARS:
        text = text[:MAX_PAGE_CHARS] + "\n… (cut)"
    return "Options of the page's lists (for select()):\n" + text
