"""The SQL envs' texts for the agent: the system prompt, the expected reply format and the
first observation (the database, its tables and the request)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.schemas import Schema
from mtenvs.envs.sql.tasks import SqlTask

__all__ = ["ACTION_FORMAT", "ENGINE_NAMES", "first_observation", "system_prompt"]

#: The engine's name in prompts, by dialect.
ENGINE_NAMES: Final = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
#: The reply format shown after a malformed reply.
ACTION_FORMAT: Final = (
    'a tool call such as <tool_call>{"name": "run_sql", "arguments": {"query": '
    '"SELECT 1"}}</tool_call>, a ```sql block, or <answer>SQL</answer> to submit.'
)


def system_prompt(dialect: str, query_timeout_s: float) -> str:
    """Rules, tools and reply formats of ``mtenvs/Sql-v0`` on a ``dialect`` database."""
    return (
        f"You work with a {ENGINE_NAMES[dialect]} database through tools. Explore it, "
        "then submit ONE SQL statement that answers the request (a SELECT for questions; "
        "an INSERT, UPDATE or DELETE when asked to change data).\n"
        "Tools: list_tables(), describe(table), sample(table, n), run_sql(query), "
        "submit(sql).\n"
        'Reply formats: OpenAI tool calls, or in text <tool_call>{"name": "run_sql", '
        '"arguments": {"query": "SELECT ..."}}</tool_call>; a ```sql block runs the '
        "query; <answer>SQL</answer> submits it.\n"
        "Submitting ends the episode. Questions are checked by comparing result rows "
        "(order matters only when the request asks for an order; numbers to 2 decimals); "
        "changes are applied to a fresh copy of the original database and every table is "
        "compared. Queries that write are refused in question tasks; ATTACH, PRAGMA and "
        f"DDL are always refused; each query may run {query_timeout_s:g} s."
    )


def first_observation(schema: Schema, task: SqlTask, max_turns: int) -> str:
    """The database ``schema``, its tables and ``task``'s request."""
    what = "Request" if task.kind == "read" else "Change to make"
    return (
        f"Database `{schema.name}`: {schema.description}\n"
        f"Tables: {', '.join(schema.table_names)}\n\n{what}: {task.question}\n\n"
        f"You have {max_turns} turns. Explore with the tools, then submit one "
        "SQL statement."
    )
