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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ToolCall",
    "extract_action",
    "extract_answer",
    "extract_code_blocks",
    "extract_tag",
    "parse_tool_calls",
    "reply_text",
    "strip_think",
]

#: Longest reply the regex parsers look at; the tail beyond it is ignored. Keeps parsing of
#: adversarial multi-megabyte replies bounded in time.
MAX_PARSE_CHARS = 200_000

# ASCII-only lowercasing keeps indices aligned with the original text (``"İ".lower()`` is two
# characters long), so positions found in the lowered copy can slice the original.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Every scan below is linear in the reply length: regexes such as ``<a>(.*?)</a>`` go
# quadratic on adversarial replies (100 k unclosed tags took 24 s), and a reply is untrusted.


@dataclass(frozen=True)
class ToolCall:
    """One parsed tool call: a function ``name`` and its keyword ``arguments``."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


def _blocks(text: str, open_tag: str, close_tag: str) -> list[str]:
    """Contents of ``open_tag … close_tag`` blocks, left to right, case-insensitively.

    Each block runs from an opening tag to the first closing tag after it; an unclosed
    opening tag ends the scan.
    """
    lower = text.translate(_ASCII_LOWER)
    open_tag, close_tag = open_tag.translate(_ASCII_LOWER), close_tag.translate(_ASCII_LOWER)
    out: list[str] = []
    pos = 0
    while True:
        start = lower.find(open_tag, pos)
        if start < 0:
            return out
        end = lower.find(close_tag, start + len(open_tag))
        if end < 0:
            return out
        out.append(text[start + len(open_tag) : end])
        pos = end + len(close_tag)


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
    text = text[:MAX_PARSE_CHARS]
    if "<think>" not in text.lower():  # fast (a false positive only costs the full path)
        return text
    lower = text.translate(_ASCII_LOWER)  # ASCII only, so indices match ``text``
    if "<think>" not in lower:
        return text
    kept: list[str] = []
    pos = 0
    while True:
        start = lower.find("<think>", pos)
        end = lower.find("</think>", start + 7) if start >= 0 else -1
        if start < 0 or end < 0:
            kept.append(text[pos:])
            return "".join(kept)
        kept.append(text[pos:start])
        pos = end + len("</think>")


def extract_tag(text: object, tag: str) -> str | None:
    """Content of the last complete ``<tag>…</tag>`` block, stripped; ``None`` if absent."""
    if not isinstance(text, str) or not isinstance(tag, str) or not tag:
        return None
    matches = _blocks(strip_think(text), f"<{tag}>", f"</{tag}>")
    if not matches:
        return None
    return matches[-1].strip()


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
    out: list[str] = []
    # Fences pair up in order: ```lang header\n body ```; the info string is the first word.
    parts = strip_think(text).split("```")
    for fenced in parts[1:-1:2] if len(parts) >= 3 else []:
        header, newline, body = fenced.partition("\n")
        if not newline:
            continue
        words = header.split()
        lang = words[0].lower() if words else ""
        if lang in wanted:
            out.append(body)
    return out


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
    spec: Mapping[str, Any] = obj["function"] if isinstance(obj.get("function"), Mapping) else obj
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        return None
    raw_args = spec.get("arguments", spec.get("parameters", {}))
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
        for raw in _blocks(strip_think(reply), "<tool_call>", "</tool_call>"):
            call = _one_call(_loads(raw.strip()))
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
