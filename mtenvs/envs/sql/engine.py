"""Guarded execution of untrusted SQL on an episode's SQLite database.

Every query an agent sends runs through :func:`execute`, which enforces:

* **what may run**: an authorizer allows reads (and, for write tasks, ``INSERT``/``UPDATE``/
  ``DELETE`` on the schema's tables) and denies everything else — ``ATTACH``, ``PRAGMA``,
  DDL (``CREATE``/``DROP``/``ALTER``), transactions, writes to ``sqlite_*`` tables.
  Extension loading is off (Python's default) and there are no file functions;
* **time**: a progress handler aborts a statement after ``timeout_s`` (cartesian explosions,
  runaway recursive CTEs);
* **rows and memory**: at most ``count_cap`` rows are read (beyond that the total is
  reported as "more than"), and episode connections cap any single value at
  :data:`mtenvs.envs.sql.data.MAX_VALUE_BYTES`.

Failures come back as :class:`QueryResult` with ``error`` set, never as exceptions.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["COUNT_CAP", "QueryResult", "describe_table", "execute", "format_table"]

#: Rows read from one result at most (the rest is counted as "more than").
COUNT_CAP: Final = 10_000
#: SQLite virtual-machine instructions between two time checks.
_PROGRESS_STEPS: Final = 2_000
_READ_ACTIONS: Final = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_WRITE_ACTIONS: Final = frozenset(
    {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
)
_DENIED_FUNCTIONS: Final = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
)


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one statement: columns and rows read, or the error."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    #: True when more than ``count_cap`` rows matched (``rows`` holds the first ones).
    capped: bool = False
    #: Rows changed by a write statement.
    changes: int = 0
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def _authorizer(allow_writes: bool) -> Any:
    def authorize(
        action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action in _READ_ACTIONS:
            if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if (
            allow_writes
            and action in _WRITE_ACTIONS
            and db == "main"
            and arg1
            and not arg1.lower().startswith("sqlite_")
        ):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


def _explain(error: str, allow_writes: bool) -> str:
    if "not authorized" in error or "authorization denied" in error:
        allowed = "SELECT, INSERT, UPDATE and DELETE" if allow_writes else "read-only SELECT"
        return (
            f"statement not allowed ({error}); this task allows {allowed} statements "
            "only (no ATTACH, PRAGMA, CREATE, DROP, ALTER or transactions)."
        )
    if error == "interrupted":
        return "query cancelled: it ran past the time limit."
    return error


def execute(
    conn: sqlite3.Connection,
    sql: str,
    *,
    allow_writes: bool,
    timeout_s: float,
    count_cap: int = COUNT_CAP,
) -> QueryResult:
    """Run one statement under the guards in the module doc; never raises for bad SQL."""
    start = time.perf_counter()
    deadline = start + timeout_s
    conn.set_authorizer(_authorizer(allow_writes))
    conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), _PROGRESS_STEPS)
    before = conn.total_changes
    try:
        cursor = conn.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        rows = cursor.fetchmany(count_cap + 1) if columns else []
        cursor.close()
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError, MemoryError) as e:
        return QueryResult(
            error=_explain(str(e), allow_writes), elapsed_s=time.perf_counter() - start
        )
    finally:
        conn.set_authorizer(None)
        conn.set_progress_handler(None, 0)
    capped = len(rows) > count_cap
    return QueryResult(
        columns=columns,
        rows=tuple(rows[:count_cap]),
        capped=capped,
        changes=conn.total_changes - before,
        elapsed_s=time.perf_counter() - start,
    )


def _cell(value: object, width: int = 40) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(result: QueryResult, max_rows: int) -> str:
    """A Markdown table of the first ``max_rows`` rows, with the total row count."""
    if result.error is not None:
        return f"Error: {result.error}"
    if not result.columns:
        return f"OK, {result.changes} row(s) changed."
    total = f"more than {len(result.rows)}" if result.capped else str(len(result.rows))
    lines = [
        "| " + " | ".join(_cell(c) for c in result.columns) + " |",
        "|" + "---|" * len(result.columns),
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in result.rows[:max_rows]]
    shown = min(max_rows, len(result.rows))
    note = f"({total} rows" + (f"; first {shown} shown)" if shown < len(result.rows) else ")")
    return "\n".join(lines) + "\n" + note


def describe_table(conn: sqlite3.Connection, table: str) -> str:
    """Columns of ``table`` (a name checked by the caller): types, keys, nullability."""
    lines = [f"Table {table}:"]
    fks = {
        row[3]: f"{row[2]}.{row[4]}" for row in conn.execute(f"PRAGMA foreign_key_list({table})")
    }
    for _, name, type_, notnull, _, pk in conn.execute(f"PRAGMA table_info({table})"):
        notes = ["PRIMARY KEY"] if pk else []
        if not notnull and not pk:
            notes.append("nullable")
        if name in fks:
            notes.append(f"references {fks[name]}")
        lines.append(f"  {name} {type_}" + (f" ({', '.join(notes)})" if notes else ""))
    return "\n".join(lines)
