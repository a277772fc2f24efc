"""The SQL envs' tools: OpenAI function schemas, and replies parsed into tool calls.

A reply may be

* OpenAI tool calls (a tool-call dict, a list of them, or a message with ``tool_calls``),
* ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` blocks in text,
* ```` ```sql ```` blocks (each is a ``run_sql`` call),
* ``<answer>SQL</answer>`` (a ``submit`` call; a fenced block inside is unwrapped).

An answer wins over everything else in the same reply; otherwise calls run in order and
a ``submit`` among them ends the turn. Calls are checked here (known tool, arguments of
the right type); what they do is the env's business.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from mtenvs.core.env import InvalidAction, Reply
from mtenvs.core.parsing import (
    ToolCall,
    extract_answer,
    extract_code_blocks,
    parse_tool_calls,
    reply_text,
)
from mtenvs.envs.sql.schemas import Schema

__all__ = [
    "MAX_CALLS",
    "MAX_SAMPLE_ROWS",
    "MAX_SQL_CHARS",
    "TOOL_SCHEMAS",
    "parse_reply",
    "random_reply",
]

MAX_CALLS: Final = 5
MAX_SQL_CHARS: Final = 20_000
MAX_SAMPLE_ROWS: Final = 50
_SQL_LANGS: Final = ("sql", "sqlite", "postgresql", "postgres", "")


def _tool(name: str, description: str, **params: tuple[str, str]) -> dict[str, Any]:
    props = {k: {"type": t, "description": d} for k, (t, d) in params.items()}
    required = [k for k in params if k != "n"]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


#: OpenAI function schemas, by tool name.
TOOL_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "list_tables": _tool("list_tables", "List the database's tables with their row counts."),
    "describe": _tool(
        "describe",
        "Columns of a table: names, types, keys, foreign keys.",
        table=("string", "Table name."),
    ),
    "sample": _tool(
        "sample",
        "The first rows of a table.",
        table=("string", "Table name."),
        n=("integer", f"Rows to show (1-{MAX_SAMPLE_ROWS}, default 5)."),
    ),
    "run_sql": _tool(
        "run_sql",
        "Run one SQL statement and see its result (truncated, with the total row count).",
        query=("string", "The SQL statement."),
    ),
    "ask_user": _tool(
        "ask_user",
        "Ask the user a clarifying question about the request.",
        question=("string", "The question."),
    ),
    "submit": _tool(
        "submit",
        "Submit the final SQL statement (ends the episode).",
        sql=("string", "The SQL statement that answers the request."),
    ),
}
_STRING_ARG: Final = {
    "describe": "table",
    "sample": "table",
    "run_sql": "query",
    "ask_user": "question",
    "submit": "sql",
}


def _unfence(sql: str) -> str:
    if "```" not in sql:
        return sql.strip()
    blocks = extract_code_blocks(sql, _SQL_LANGS)
    return (blocks[0] if blocks else sql).strip()


def _check(call: ToolCall, tools: tuple[str, ...]) -> ToolCall:
    if call.name not in tools:
        raise InvalidAction(f"unknown tool {call.name[:40]!r}; the tools are {', '.join(tools)}.")
    arg = _STRING_ARG.get(call.name)
    args: dict[str, Any] = {}
    if arg is not None:
        value = call.arguments.get(arg)
        if not isinstance(value, str) or not value.strip():
            raise InvalidAction(f"the {call.name} tool needs a non-empty string {arg!r}.")
        if len(value) > MAX_SQL_CHARS:
            raise InvalidAction(f"{arg!r} is longer than {MAX_SQL_CHARS} characters.")
        args[arg] = _unfence(value) if call.name in ("run_sql", "submit") else value.strip()
    if call.name == "sample":
        n = call.arguments.get("n", 5)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLE_ROWS:
            raise InvalidAction(
                f"sample's 'n' must be an integer from 1 to {MAX_SAMPLE_ROWS}, got {str(n)[:20]!r}."
            )
        args["n"] = n
    return ToolCall(call.name, args, call.id)


def parse_reply(reply: Reply, tools: tuple[str, ...]) -> tuple[ToolCall, ...]:
    """The tool calls of ``reply`` (see the module doc); raises :class:`InvalidAction`."""
    text = reply_text(reply)
    # Cheap substring checks first: each shared extractor re-scans (and re-lowercases) the
    # whole reply, which costs more than running a point lookup.
    lower = text.lower() if text is not None else ""
    answer = extract_answer(text) if "<answer>" in lower else None
    if answer is not None:
        return (_check(ToolCall("submit", {"sql": answer}), tools),)
    calls: list[ToolCall] = []
    if text is None or "<tool_call>" in lower:
        calls = parse_tool_calls(reply)
        if not calls and text is not None and "<tool_call>" in lower:
            raise InvalidAction(
                'a <tool_call> block must hold JSON like {"name": "run_sql", '
                '"arguments": {"query": "SELECT 1"}}.'
            )
    if not calls and text and "```" in text:
        calls = [
            ToolCall("run_sql", {"query": q})
            for q in extract_code_blocks(text, _SQL_LANGS)
            if q.strip()
        ]
    if not calls:
        if text is None:
            raise InvalidAction("the reply is neither text nor a tool call.")
        raise InvalidAction("no tool call, ```sql block or <answer>SQL</answer> found.")
    if len(calls) > MAX_CALLS:
        raise InvalidAction(f"{len(calls)} tool calls; at most {MAX_CALLS} per turn.")
    return tuple(_check(c, tools) for c in calls)


def random_reply(rng: np.random.Generator, schema: Schema) -> str:
    """A well-formed random reply on ``schema``'s tables (the random agent's)."""
    tables = schema.table_names
    table = tables[int(rng.integers(len(tables)))]
    choice = int(rng.integers(8))
    if choice == 0:
        return '<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>'
    if choice == 1:
        return f'<tool_call>{{"name": "describe", "arguments": {{"table": "{table}"}}}}</tool_call>'
    if choice == 2:
        return (
            f'<tool_call>{{"name": "sample", "arguments": {{"table": "{table}", '
            f'"n": {int(rng.integers(1, 6))}}}}}</tool_call>'
        )
    if choice == 3:
        return f"```sql\nSELECT COUNT(*) FROM {table}\n```"
    if choice == 4:
        return f"```sql\nSELECT * FROM {table} LIMIT {int(rng.integers(1, 30))}\n```"
    if choice == 5:
        return f"<answer>SELECT * FROM {table} LIMIT {int(rng.integers(1, 10))}</answer>"
    if choice == 6:
        return f"```sql\nSELEC * FROM {table}\n```"
    return "I am not sure what to do."
