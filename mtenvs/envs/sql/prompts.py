"""The SQL envs' texts for the agent: the system prompt, the expected reply format and the
first observation (the database, its tables and the request)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.schemas import Schema
from mtenvs.envs.sql.tasks import SqlTask

__all__ = ["ACTION_FORMAT", "CHECKS", "ENGINE_NAMES", "first_observation", "system_prompt"]

#: The engine's name in prompts, by dialect.
ENGINE_NAMES: Final = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
#: The reply format shown after a malformed reply.
ACTION_FORMAT: Final = (
    'a tool call such as <tool_call>{"name": "run_sql", "arguments": {"query": '
    '"SELECT 1"}}</tool_call>, a ```sql block, or <answer>SQL</answer> to submit.'
)


#: How a question's submission is checked: the env's own rule, or a dataset's official one.
CHECKS: Final = {
    None: "comparing result rows (order matters only when the request asks for an order; "
    "numbers to 2 decimals)",
    "spider": "comparing result rows as Spider's official evaluation does (rows in any "
    "order unless the reference query orders them, columns in any order, DISTINCT ignored, "
    "values exact)",
    "bird": "comparing result rows as BIRD's official evaluation does (the set of rows: "
    "order and duplicates ignored; columns in order; values exact)",
}


def system_prompt(
    dialect: str,
    query_timeout_s: float,
    submit_timeout_s: float | None = None,
    check: str | None = None,
) -> str:
    """Rules, tools and reply formats of ``mtenvs/Sql-v0`` on a ``dialect`` database
    (``check``: the dataset format whose official check applies, else None)."""
    submit = submit_timeout_s if submit_timeout_s is not None else query_timeout_s
    limits = f"each query may run {query_timeout_s:g} s"
    if submit != query_timeout_s:
        limits += f", a submitted statement {submit:g} s"
    return (
        f"You work with a {ENGINE_NAMES[dialect]} database through tools. Explore it, "
        "then submit ONE SQL statement that answers the request (a SELECT for questions; "
        "an INSERT, UPDATE or DELETE when asked to change data).\n"
        "Tools: list_tables(), describe(table), sample(table, n), run_sql(query), "
        "submit(sql).\n"
        'Reply formats: OpenAI tool calls, or in text <tool_call>{"name": "run_sql", '
        '"arguments": {"query": "SELECT ..."}}</tool_call>; a ```sql block runs the '
        "query; <answer>SQL</answer> submits it.\n"
        f"Submitting ends the episode. Questions are checked by {CHECKS[check]}; "
        "changes are applied to a fresh copy of the original database and every table is "
        "compared. Queries that write are refused in question tasks; ATTACH, PRAGMA and "
        f"DDL are always refused; {limits}."
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
