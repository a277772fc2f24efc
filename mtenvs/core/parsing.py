"""Parsers for model replies, shared by every env.

Every function here accepts arbitrary input (any text, any object) and never raises: a
reply that does not parse gives ``None`` or an empty list. Envs turn that into an
observation explaining the expected format.

Supported reply shapes:

* XML-like tags: ``<answer>…</answer>``, ``<action>…</action>`` (the last complete block
  wins, so a model may think out loud with earlier drafts).
* Fenced code blocks: ```` ```python … ``` ````.
* Tool calls, either as OpenAI-style dicts (``{"type": "function", "function": {"name": …,
  "arguments": "<json>"}}``, ``{"name": …, "arguments": {…}}``, a message dict with
  ``tool_calls``) or embedded in text as ``<tool_call>{"name": …, "arguments": {…}}</tool_call>``
  (the Hermes / Qwen convention).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ToolCall",
    "extract_tag",
    "extract_answer",
    "extract_action",
    "extract_code_blocks",
    "parse_tool_calls",
    "reply_text",
    "strip_think",
]

#: Longest reply the regex parsers look at; the tail beyond it is ignored. Keeps parsing of
#: adversarial multi-megabyte replies bounded in time.
MAX_PARSE_CHARS = 200_000

_TAG_CACHE: dict[str, re.Pattern[str]] = {}
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-.]*)[^\n`]*\n(.*?)```", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ToolCall:
    """One parsed tool call: a function ``name`` and its keyword ``arguments``."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


def _tag_pattern(tag: str) -> re.Pattern[str]:
    pattern = _TAG_CACHE.get(tag)
    if pattern is None:
        pattern = re.compile(
            rf"<{re.escape(tag)}\s*>(.*?)</{re.escape(tag)}\s*>", re.DOTALL | re.IGNORECASE
        )
        _TAG_CACHE[tag] = pattern
    return pattern


def reply_text(reply: object) -> str | None:
    """The text of a reply: the string itself, a chat message's ``content``, else ``None``."""
    if isinstance(reply, str):
        return reply
    if isinstance(reply, Mapping):
        content = reply.get("content")
        if isinstance(content, str):
            return content
    return None


def strip_think(text: str) -> str:
    """Remove ``<think>…</think>`` blocks (reasoning that should not be parsed as an action)."""
    if not isinstance(text, str):
        return ""
    return _THINK.sub("", text[:MAX_PARSE_CHARS])


def extract_tag(text: object, tag: str) -> str | None:
    """Content of the last complete ``<tag>…</tag>`` block, stripped; ``None`` if absent."""
    if not isinstance(text, str) or not isinstance(tag, str) or not tag:
        return None
    matches = _tag_pattern(tag).findall(strip_think(text))
    if not matches:
        return None
    return str(matches[-1]).strip()


def extract_answer(text: object) -> str | None:
    """Content of the last ``<answer>…</answer>`` block."""
    return extract_tag(text, "answer")


def extract_action(text: object) -> str | None:
    """Content of the last ``<action>…</action>`` block."""
    return extract_tag(text, "action")


def extract_code_blocks(
    text: object, languages: Sequence[str] = ("python", "py", "python3", "")
) -> list[str]:
    """Bodies of fenced code blocks whose language tag is in ``languages`` (in order)."""
    if not isinstance(text, str):
        return []
    wanted = {lang.lower() for lang in languages}
    return [
        body for lang, body in _FENCE.findall(strip_think(text)) if lang.lower() in wanted
    ]


def _loads(raw: object) -> object:
    if isinstance(raw, (Mapping, list)):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _one_call(obj: object) -> ToolCall | None:
    if not isinstance(obj, Mapping):
        return None
    call_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    if isinstance(obj.get("function"), Mapping):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    raw_args = obj.get("arguments", obj.get("parameters", {}))
    args = _loads(raw_args) if raw_args not in (None, "") else {}
    if not isinstance(args, Mapping):
        return None
    return ToolCall(name=name, arguments=dict(args), id=call_id)


def parse_tool_calls(reply: object) -> list[ToolCall]:
    """All tool calls in ``reply`` (a string, a tool-call dict, a message dict or a list).

    Calls that are malformed (no name, arguments that are not a JSON object) are skipped.
    """
    try:
        return _parse_tool_calls(reply)
    except RecursionError:
        return []


def _parse_tool_calls(reply: object) -> list[ToolCall]:
    if isinstance(reply, str):
        calls = []
        for raw in _TOOL_CALL.findall(strip_think(reply)):
            call = _one_call(_loads(raw))
            if call is not None:
                calls.append(call)
        return calls
    if isinstance(reply, Mapping):
        if isinstance(reply.get("tool_calls"), list):
            return [c for c in map(_one_call, reply["tool_calls"]) if c is not None]
        call = _one_call(reply)
        if call is not None:
            return [call]
        content = reply.get("content")
        return _parse_tool_calls(content) if isinstance(content, str) else []
    if isinstance(reply, ToolCall):
        return [reply]
    if isinstance(reply, (list, tuple)):
        return [c for item in reply for c in _parse_tool_calls(item) if not isinstance(item, str)]
    return []
