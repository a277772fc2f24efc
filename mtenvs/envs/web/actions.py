"""The web action grammar: parsing replies into :class:`WebAction` and running them.

Grammar (one action per reply, in ``<action>…</action>``, as a tool call, or bare)::

    click(id)  type(id, text)  select(id, option)  hover(id)  press(key)
    scroll(up|down)  goto(url)  back()  tab(n)  answer(text)

Parsing never touches the browser, so malformed replies cost microseconds. Date and time
inputs take their HTML value format (:data:`INPUT_FORMATS`): :func:`input_value_problem`
checks a ``type`` text against it before the browser is touched.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from mtenvs.core.env import InvalidAction, Reply
from mtenvs.core.parsing import extract_action, extract_answer, parse_tool_calls, reply_text

__all__ = [
    "ACTION_FORMS",
    "INPUT_FORMATS",
    "KEYS",
    "SITE_ORIGIN",
    "WEB_TOOLS",
    "InputFormat",
    "WebAction",
    "input_value_problem",
    "parse_reply",
    "site_path",
]

#: The shop's origin as shown to the agent instead of the loopback port (so observations do
#: not depend on which port the server got); ``goto`` accepts it, or a bare path.
SITE_ORIGIN = "http://shop.local"
ACTION_FORMS = (
    "click(id)",
    "type(id, text)",
    "select(id, option)",
    "hover(id)",
    "press(key)",
    "scroll(up|down)",
    "goto(url)",
    "back()",
    "tab(n)",
    "answer(text)",
)
KEYS = frozenset(
    {
        "Enter",
        "Tab",
        "Escape",
        "Backspace",
        "Delete",
        "Space",
        "ArrowUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowRight",
        "PageUp",
        "PageDown",
        "Home",
        "End",
    }
)
_ARITY: dict[str, tuple[str, ...]] = {
    "click": ("id",),
    "hover": ("id",),
    "type": ("id", "text"),
    "select": ("id", "option"),
    "press": ("key",),
    "scroll": ("direction",),
    "goto": ("url",),
    "back": (),
    "tab": ("n",),
    "answer": ("text",),
}
_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)
_MAX_ACTION_CHARS = 4000


@dataclass(frozen=True)
class WebAction:
    """One parsed action: ``name`` (``click``, ``type``…) and its arguments."""

    name: str
    args: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(repr(a) if isinstance(a, str) else str(a) for a in self.args)})"


@dataclass(frozen=True)
class InputFormat:
    """The value format of an ``<input type=…>`` that only takes one (``date``…)."""

    #: The format as shown in the outline and in errors, e.g. ``YYYY-MM-DD``.
    shown: str
    example: str
    #: The exact shape of the text.
    pattern: re.Pattern[str]
    #: Raises ``ValueError`` for a well-shaped text that is no real value (2024-02-30).
    check: Callable[[str], object]


def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def _week(text: str) -> date:
    year, week = text.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?"
#: Input types whose value has one format (the HTML value formats), by ``type`` attribute.
#: The outline shows it on the textbox line, e.g. ``[12] textbox "Due date" (date,
#: YYYY-MM-DD) value="2024-03-01"``, and ``type()`` refuses text in another format.
INPUT_FORMATS: dict[str, InputFormat] = {
    "date": InputFormat(
        "YYYY-MM-DD", "2024-03-01", re.compile(r"\d{4}-\d{2}-\d{2}"), date.fromisoformat
    ),
    "time": InputFormat("HH:MM", "14:30", re.compile(_TIME), time.fromisoformat),
    "datetime-local": InputFormat(
        "YYYY-MM-DDTHH:MM",
        "2024-03-01T14:30",
        re.compile(r"\d{4}-\d{2}-\d{2}T" + _TIME),
        datetime.fromisoformat,
    ),
    "month": InputFormat("YYYY-MM", "2024-03", re.compile(r"\d{4}-\d{2}"), _month),
    "week": InputFormat("YYYY-Www", "2024-W09", re.compile(r"\d{4}-W\d{2}"), _week),
}


def input_value_problem(input_type: str, text: str) -> str | None:
    """Why ``text`` cannot be typed into an ``<input type=input_type>`` (its format, an
    example), or ``None`` when it can: any text for types without a fixed format, and
    ``""`` (clearing) for every type."""
    spec = INPUT_FORMATS.get(input_type)
    text = text.strip()
    if spec is None or not text:
        return None
    if spec.pattern.fullmatch(text):
        try:
            spec.check(text)
        except ValueError:
            return (
                f"no such {input_type}; {input_type} inputs take {spec.shown}, e.g. {spec.example}"
            )
        return None
    return f"{input_type} inputs take {spec.shown}, e.g. {spec.example}"


def _tool(name: str, description: str, **props: str) -> dict[str, Any]:
    types = {"id": "integer", "n": "integer"}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    k: {"type": types.get(k, "string"), "description": v} for k, v in props.items()
                },
                "required": list(props),
            },
        },
    }


#: OpenAI function schemas of the actions (a reply may call them instead of ``<action>``).
WEB_TOOLS: list[dict[str, Any]] = [
    _tool("click", "Click an element.", id="element id from the page outline"),
    _tool(
        "type",
        "Replace the text of a textbox.",
        id="element id",
        text="text to type (date and time inputs: in the format their outline line shows)",
    ),
    _tool("select", "Choose an option of a combobox.", id="element id", option="option text"),
    _tool("hover", "Move the mouse over an element.", id="element id"),
    _tool("press", "Press a key.", key="Enter, Tab, Escape, ArrowDown, …"),
    _tool("scroll", "Scroll the page.", direction="up or down"),
    _tool("goto", "Open a URL of the site.", url="a path such as /cart, or a site URL"),
    _tool("back", "Go back in the tab's history."),
    _tool("tab", "Switch to an open tab.", n="tab number"),
    _tool(
        "answer",
        "Finish the task, with the answer if one is asked for.",
        text="the answer, or 'done'",
    ),
]


def site_path(url: str, origin: str = SITE_ORIGIN) -> str | None:
    """The path of a URL of the site at ``origin`` (``/cart``, ``http://shop.local/cart``),
    else ``None``."""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" == origin:
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return None


def _split_args(raw: str, arity: int) -> list[object]:
    if arity == 0:
        return []
    try:
        value = ast.literal_eval(f"({raw},)") if raw.strip() else ()
        if isinstance(value, tuple) and len(value) == arity:
            return list(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if arity == 1:
        return [raw.strip().strip("'\"")] if raw.strip() else []
    head, comma, tail = raw.partition(",")
    return [head.strip(), tail.strip().strip("'\"")] if comma else [raw]


def _typed(name: str, values: list[object], origin: str) -> WebAction:
    params = _ARITY[name]
    if len(values) != len(params):
        raise InvalidAction(
            f"{name} takes {len(params)} argument(s) ({', '.join(params)}), got {len(values)}."
        )
    out: list[str | int] = []
    for param, value in zip(params, values, strict=True):
        if param in ("id", "n"):
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
            ):
                raise InvalidAction(f"{name}: {param} must be a number, got {value!r:.40}.")
            number = int(value)
            if number > 10**6:
                raise InvalidAction(f"{name}: {param} {number} is out of range.")
            out.append(number)
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidAction(f"{name}: {param} must be text, got {value!r:.40}.")
        else:
            out.append(str(value))
    action = WebAction(name, tuple(out))
    if name == "scroll" and action.args[0] not in ("up", "down"):
        raise InvalidAction(f"scroll takes 'up' or 'down', got {action.args[0]!r:.40}.")
    if (
        name == "press"
        and action.args[0] not in KEYS
        and not (isinstance(action.args[0], str) and len(action.args[0]) == 1)
    ):
        raise InvalidAction(
            f"Unknown key {action.args[0]!r:.40}; use one character or one of "
            f"{', '.join(sorted(KEYS))}."
        )
    if name == "goto" and site_path(str(action.args[0]), origin) is None:
        raise InvalidAction(
            f"goto only opens pages of the site ({origin}/… or a path "
            f"such as /cart), got {action.args[0]!r:.80}."
        )
    return action


def _from_text(text: str, origin: str) -> WebAction:
    if len(text) > _MAX_ACTION_CHARS:
        raise InvalidAction(
            f"the action is {len(text)} characters long (at most {_MAX_ACTION_CHARS})."
        )
    match = _CALL.match(text)
    if match is None:
        raise InvalidAction(f"{text[:60]!r} is not an action call such as click(12).")
    name = match.group(1).lower()
    if name not in _ARITY:
        raise InvalidAction(f"unknown action {name!r:.40}.")
    return _typed(name, _split_args(match.group(2), len(_ARITY[name])), origin)


def parse_reply(reply: Reply, origin: str = SITE_ORIGIN) -> WebAction:
    """The action in ``reply`` (text or tool call), or :class:`InvalidAction` saying why;
    ``goto`` accepts paths and URLs of the site shown as ``origin``."""
    calls = parse_tool_calls(reply)
    if calls:
        call = calls[0]
        if call.name not in _ARITY:
            raise InvalidAction(f"unknown tool {call.name!r:.40}; tools: {', '.join(_ARITY)}.")
        params = _ARITY[call.name]
        missing = [p for p in params if p not in call.arguments]
        if missing:
            raise InvalidAction(f"tool {call.name} needs argument(s) {', '.join(missing)}.")
        return _typed(call.name, [call.arguments[p] for p in params], origin)
    text = reply_text(reply)
    if text is None:
        kind = type(reply).__name__ if not isinstance(reply, Mapping) else "a dict"
        raise InvalidAction(f"the reply is {kind}, not text or a tool call.")
    inner = extract_action(text)
    if inner is not None:
        return _from_text(inner, origin)
    answer = extract_answer(text)
    if answer is not None:
        return WebAction("answer", (answer,))
    if len(text) <= 300 and _CALL.match(text):
        return _from_text(text, origin)
    raise InvalidAction("no <action>…</action> block found.")
