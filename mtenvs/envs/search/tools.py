"""The Search envs' tools: OpenAI function schemas, and replies parsed into tool calls.

A reply may be

* OpenAI tool calls (a tool-call dict, a list of them, or a message with ``tool_calls``),
* ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` blocks in text (Hermes / Qwen),
* the Search-R1 tags: ``<search>query</search>``, ``<open>doc id</open>`` (``<open>doc id
  page 2</open>`` for a later page) and ``<answer>text</answer>``.

An answer wins over everything else in the same reply; otherwise up to :data:`MAX_CALLS`
calls run in order. Calls are checked here (known tool, arguments of the right type and
range); whether a document exists and has that page is the env's check.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from mtenvs.core.env import InvalidAction, Reply
from mtenvs.core.parsing import ToolCall, extract_tag, parse_tool_calls, reply_text
from mtenvs.envs.search.answers import MAX_ANSWER_CHARS

__all__ = [
    "MAX_CALLS",
    "MAX_K",
    "MAX_QUERY_CHARS",
    "TOOL_NAMES",
    "TOOL_SCHEMAS",
    "AnswerCall",
    "Call",
    "OpenCall",
    "SearchCall",
    "parse_reply",
]

#: Calls one reply may make (an answer among them ends the turn and the episode).
MAX_CALLS: Final = 3
#: Most results one search may ask for.
MAX_K: Final = 20
#: Longest query (after control characters are dropped); longer ones are refused, so a
#: 1 MB query costs a message, not an index scan.
MAX_QUERY_CHARS: Final = 1_000
#: Longest document id a call may name.
MAX_DOC_ID_CHARS: Final = 300
TOOL_NAMES: Final = ("search", "open", "answer")


@dataclass(frozen=True)
class SearchCall:
    """``search``: the top ``k`` documents for ``query`` (``None``: the env's ``top_k``)."""

    query: str
    k: int | None = None


@dataclass(frozen=True)
class OpenCall:
    """``open``: page ``page`` (from 1) of document ``doc_id``."""

    doc_id: str
    page: int = 1


@dataclass(frozen=True)
class AnswerCall:
    """``answer``: the final answer (ends the episode)."""

    answer: str


Call = SearchCall | OpenCall | AnswerCall


def _tool(name: str, description: str, required: list[str], **params: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": params, "required": required},
        },
    }


#: OpenAI function schemas, in the order of :data:`TOOL_NAMES`.
TOOL_SCHEMAS: Final[tuple[dict[str, Any], ...]] = (
    _tool(
        "search",
        "Search the document collection; returns ranked results: document id, title, snippet.",
        ["query"],
        query={"type": "string", "description": f"Search terms (1-{MAX_QUERY_CHARS} chars)."},
        k={"type": "integer", "description": f"Number of results (1-{MAX_K}; default 5)."},
    ),
    _tool(
        "open",
        "Read a document by its id; long documents come in pages ('page i of n').",
        ["doc_id"],
        doc_id={"type": "string", "description": "A document id from the search results."},
        page={"type": "integer", "description": "Page number, from 1 (default 1)."},
    ),
    _tool(
        "answer",
        "Give the final answer (a short phrase: a name, a place, a number); ends the episode.",
        ["answer"],
        answer={"type": "string", "description": "The answer."},
    ),
)

_OPEN_PAGE: Final = re.compile(r"^(.*?)\s+page\s+(\d{1,6})$", re.IGNORECASE | re.DOTALL)


def clean_text(text: str) -> str:
    """``text`` without control characters, unpaired surrogates or format characters
    (binary input), with runs of whitespace as single spaces."""
    if text.isprintable():
        return " ".join(text.split())
    kept = (c for c in text if unicodedata.category(c)[0] != "C" or c in "\t\n")
    return " ".join("".join(kept).split())


def _int_arg(name: str, value: object, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
            value = int(value.strip())
        else:
            raise InvalidAction(f"{name!r} must be an integer, got {str(value)[:40]!r}.")
    if value < low or (high is not None and value > high):
        upper = f" to {high}" if high is not None else " or more"
        raise InvalidAction(f"{name!r} must be from {low}{upper}, got {value}.")
    return value


def _search(args: dict[str, Any]) -> SearchCall:
    query = args.get("query")
    if not isinstance(query, str):
        raise InvalidAction(
            f"search needs a string 'query', got {type(query).__name__}: "
            'e.g. {"name": "search", "arguments": {"query": "who founded X"}}.'
        )
    if len(query) > 4 * MAX_QUERY_CHARS:  # refuse before cleaning a megabyte
        raise InvalidAction(
            f"the query has {len(query)} characters; at most {MAX_QUERY_CHARS} are allowed."
        )
    cleaned = clean_text(query)
    if not cleaned:
        raise InvalidAction("the query is empty; search for a few words.")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise InvalidAction(
            f"the query has {len(cleaned)} characters; at most {MAX_QUERY_CHARS} are allowed."
        )
    k = args.get("k")
    return SearchCall(cleaned, None if k is None else _int_arg("k", k, 1, MAX_K))


def _open(args: dict[str, Any]) -> OpenCall:
    doc_id = args.get("doc_id", args.get("id"))
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidAction(
            "open needs a string 'doc_id' from the search results, e.g. "
            '{"name": "open", "arguments": {"doc_id": "<id>", "page": 1}}.'
        )
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise InvalidAction(f"'doc_id' is longer than {MAX_DOC_ID_CHARS} characters.")
    page = args.get("page")
    return OpenCall(doc_id.strip(), 1 if page is None else _int_arg("page", page, 1, None))


def _answer(args: dict[str, Any]) -> AnswerCall:
    answer = args.get("answer")
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(answer, str) or not clean_text(answer):
        raise InvalidAction('answer needs a non-empty string \'answer\', e.g. {"answer": "Paris"}.')
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidAction(f"the answer is longer than {MAX_ANSWER_CHARS} characters.")
    return AnswerCall(clean_text(answer))


def check_call(call: ToolCall) -> Call:
    """The typed call of ``call``; raises :class:`InvalidAction` naming what is wrong."""
    args = dict(call.arguments)
    if call.name == "search":
        return _search(args)
    if call.name == "open":
        return _open(args)
    if call.name == "answer":
        return _answer(args)
    raise InvalidAction(f"unknown tool {call.name[:40]!r}; the tools are {', '.join(TOOL_NAMES)}.")


def parse_reply(reply: Reply) -> tuple[Call, ...]:
    """The calls of ``reply`` (see the module doc); raises :class:`InvalidAction`."""
    text = reply_text(reply)
    lower = text.lower() if text is not None else ""
    if "<answer>" in lower:
        answer = extract_tag(text, "answer")
        if answer is not None:
            return (_answer({"answer": answer}),)
    calls: list[ToolCall] = []
    if text is None or "<tool_call>" in lower:
        calls = parse_tool_calls(reply)
        if not calls and text is not None:
            raise InvalidAction(
                'a <tool_call> block must hold JSON like {"name": "search", '
                '"arguments": {"query": "..."}}.'
            )
    if not calls and text is not None:
        if "<search>" in lower and (query := extract_tag(text, "search")) is not None:
            calls.append(ToolCall("search", {"query": query}))
        elif "<open>" in lower and (target := extract_tag(text, "open")) is not None:
            paged = _OPEN_PAGE.match(target)
            doc_id, page = (paged.group(1), int(paged.group(2))) if paged else (target, 1)
            calls.append(ToolCall("open", {"doc_id": doc_id, "page": page}))
    if not calls:
        if text is None:
            raise InvalidAction("the reply is neither text nor a tool call.")
        raise InvalidAction("no tool call, <search>, <open> or <answer> block found.")
    if len(calls) > MAX_CALLS:
        raise InvalidAction(f"{len(calls)} tool calls; at most {MAX_CALLS} per reply.")
    checked = tuple(check_call(c) for c in calls)
    answers = [c for c in checked if isinstance(c, AnswerCall)]
    return (answers[0],) if answers else checked


def tool_call_text(name: str, arguments: dict[str, Any]) -> str:
    """``<tool_call>{…}</tool_call>`` text of one call (the reference agents' replies)."""
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def random_reply(rng: np.random.Generator, words: list[str], doc_ids: list[str]) -> str:
    """A random reply: mostly well-formed calls over ``words`` (query and answer vocabulary)
    and ``doc_ids`` (documents to open), sometimes a malformed one (the random agent's)."""
    vocabulary = words or ["search"]
    choice = int(rng.integers(10))
    picked = [vocabulary[int(i)] for i in rng.integers(len(vocabulary), size=3)]
    if choice < 4:
        args: dict[str, Any] = {"query": " ".join(picked[: 1 + int(rng.integers(3))])}
        if rng.random() < 0.3:
            args["k"] = int(rng.integers(1, 11))
        return tool_call_text("search", args)
    if choice < 7:
        doc_id = doc_ids[int(rng.integers(len(doc_ids)))] if doc_ids else "doc-0"
        page = 2 if rng.random() < 0.2 else 1
        return tool_call_text("open", {"doc_id": doc_id, "page": page})
    if choice == 7:
        return f"<search>{picked[0]}</search>"
    if choice == 8:
        return f"<answer>{picked[0]}</answer>"
    return tool_call_text("open", {"doc_id": "no-such-document"})
