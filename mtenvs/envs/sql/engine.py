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

On a :class:`GuardedConnection` (every episode database) the authorizer stays installed
between statements and is swapped only when the mode (read-only or writes) changes: SQLite
expires every prepared statement whenever an authorizer is set, so installing one per
query would re-prepare (and re-authorize) even a repeated point lookup, about 50 µs. A
mode change still expires them, so a statement prepared under a laxer mode is authorized
again before it runs. Code that needs the connection unguarded (``PRAGMA`` in
:func:`describe_table`) calls :func:`release_guards` first.

Failures come back as :class:`QueryResult` with ``error`` set, never as exceptions.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "COUNT_CAP",
    "GuardedConnection",
    "QueryResult",
    "describe_table",
    "execute",
    "format_table",
    "quote_identifier",
    "release_guards",
]

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


_AUTHORIZERS: Final = {False: _authorizer(False), True: _authorizer(True)}


class GuardedConnection(sqlite3.Connection):
    """A connection that keeps :func:`execute`'s guards installed between statements.

    ``guard`` is the installed authorizer's mode (``None``: none); the progress handler is
    installed once and interrupts a statement that runs past ``deadline`` (``inf`` outside
    :func:`execute`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard: bool | None = None
        self.deadline = math.inf
        self.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)

    def _past_deadline(self) -> int:
        return int(time.perf_counter() > self.deadline)


def release_guards(conn: sqlite3.Connection) -> None:
    """Remove the authorizer :func:`execute` left on a :class:`GuardedConnection`."""
    if isinstance(conn, GuardedConnection) and conn.guard is not None:
        conn.set_authorizer(None)
        conn.guard = None


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
    kept = conn if isinstance(conn, GuardedConnection) else None
    if kept is not None:
        kept.deadline = deadline
        if kept.guard is not allow_writes:
            kept.set_authorizer(_AUTHORIZERS[allow_writes])
            kept.guard = allow_writes
    else:
        conn.set_authorizer(_AUTHORIZERS[allow_writes])
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
        if kept is not None:
            kept.deadline = math.inf
        else:
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


_CELL_WIDTH: Final = 40
_NUMBERS: Final = frozenset({int, float})


def _cell(value: object) -> str:
    if type(value) is int:  # the common case needs no escaping or cutting
        return str(value)
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "/")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def format_table(result: QueryResult, max_rows: int) -> str:
    """A Markdown table of the first ``max_rows`` rows, with the total row count."""
    if result.error is not None:
        return f"Error: {result.error}"
    if not result.columns:
        return f"OK, {result.changes} row(s) changed."
    total = f"more than {len(result.rows)}" if result.capped else str(len(result.rows))
    lines = [
        "| " + " | ".join(map(_cell, result.columns)) + " |",
        "|" + "---|" * len(result.columns),
    ]
    lines += [
        # numbers need no escaping or cutting: one C-level join for an all-number row
        "| " + " | ".join(map(str if _NUMBERS.issuperset(map(type, row)) else _cell, row)) + " |"
        for row in result.rows[:max_rows]
    ]
    shown = min(max_rows, len(result.rows))
    note = f"({total} rows" + (f"; first {shown} shown)" if shown < len(result.rows) else ")")
    return "\n".join(lines) + "\n" + note


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (dataset tables may hold spaces or capitals)."""
    return '"' + name.replace('"', '""') + '"'


def describe_table(conn: sqlite3.Connection, table: str) -> str:
    """Columns of ``table`` (a name checked by the caller): types, keys, nullability."""
    lines = [f"Table {table}:"]
    release_guards(conn)
    quoted = quote_identifier(table)
    fks = {
        row[3]: f"{row[2]}.{row[4]}" for row in conn.execute(f"PRAGMA foreign_key_list({quoted})")
    }
    for _, name, type_, notnull, _, pk in conn.execute(f"PRAGMA table_info({quoted})"):
        notes = ["PRIMARY KEY"] if pk else []
        if not notnull and not pk:
            notes.append("nullable")
        if name in fks:
            notes.append(f"references {fks[name]}")
        lines.append(f"  {name} {type_}" + (f" ({', '.join(notes)})" if notes else ""))
    return "\n".join(lines)
