"""Guarded execution of untrusted SQL on an episode's SQLite database.

Every query an agent sends runs through :func:`execute`, which enforces:

* **what may run**: an authorizer allows reads (and, for write tasks, ``INSERT``/``UPDATE``/
  ``DELETE`` on the schema's tables) and denies everything else — ``ATTACH``, ``PRAGMA``,
  DDL (``CREATE``/``DROP``/``ALTER``), transactions, writes to ``sqlite_*`` tables.
  Extension loading is off (Python's default) and there are no file functions;
* **time**: a progress handler aborts a statement after ``timeout_s`` (cartesian explosions,
  runaway recursive CTEs), and the deadline is checked again between fetched batches;
* **rows and memory**: at most ``count_cap`` rows are read (beyond that the total is
  reported as "more than"), and the bounds of :mod:`mtenvs.envs.sql.limits`: the size of a
  value, the result columns, the bytes of the whole result (counted while fetching, so a
  result is refused before it is held), SQLite's memory while the statement runs and the
  database's growth.

On a :class:`GuardedConnection` (every episode database) the authorizer stays installed
between statements and is swapped only when the mode (read-only or writes) changes: SQLite
expires every prepared statement whenever an authorizer is set, so installing one per
query would re-prepare (and re-authorize) even a repeated point lookup, about 50 µs. A
mode change still expires them, so a statement prepared under a laxer mode is authorized
again before it runs. The limits are put on once, before the first authorizer. Code that
needs the connection unguarded (``PRAGMA`` in :func:`describe_table`) calls
:func:`release_guards` first.

Failures come back as :class:`QueryResult` with ``error`` set (and ``limit`` naming the
bound a statement ran into), never as exceptions.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from itertools import chain
from operator import length_hint
from sys import getsizeof
from typing import Any, Final

from mtenvs.envs.sql.limits import (
    MAX_BATCH_BYTES,
    MAX_GROWTH_BYTES,
    MAX_PATTERN_BYTES,
    MAX_SQL_BYTES,
    MAX_VALUE_BYTES,
    SQLITE_HEAP,
    STATEMENT_HEAP_BYTES,
    install_limits,
    result_budget,
)

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
    #: The bound that stopped the statement (``time``, ``result``, ``value``, ``columns``,
    #: ``memory``, ``growth``, ``pattern``, ``length``), else None.
    limit: str | None = None

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

    ``guard`` is the installed authorizer's mode (``None``: none); ``limited`` whether the
    limits are on; the progress handler is installed once and interrupts a statement that
    runs past ``deadline`` (``inf`` outside :func:`execute`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard: bool | None = None
        self.limited = False
        self.deadline = math.inf
        self.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)

    def _past_deadline(self) -> int:
        return int(time.perf_counter() > self.deadline)


def release_guards(conn: sqlite3.Connection) -> None:
    """Remove the authorizer :func:`execute` left on a :class:`GuardedConnection`."""
    if isinstance(conn, GuardedConnection) and conn.guard is not None:
        conn.set_authorizer(None)
        conn.guard = None


#: SQLite's messages for the bounds of :mod:`mtenvs.envs.sql.limits`: (limit, explanation).
_LIMIT_ERRORS: Final = {
    "interrupted": ("time", ""),
    "string or blob too big": (
        "value",
        f"string or blob too big: one value (or stored row) may hold at most "
        f"{MAX_VALUE_BYTES // 1024} KiB.",
    ),
    "too many columns": ("columns", ""),
    "database or disk is full": (
        "growth",
        f"the database is full: writes may add at most {MAX_GROWTH_BYTES >> 20} MiB to it.",
    ),
    "pattern too complex": (
        "pattern",
        f"a LIKE or GLOB pattern may be at most {MAX_PATTERN_BYTES} bytes long.",
    ),
    "statement too long": (
        "length",
        f"the statement is too long: at most {MAX_SQL_BYTES} bytes.",
    ),
}


class _ResultTooLarge(Exception):
    def __init__(self, rows: int, budget: int) -> None:
        super().__init__(
            f"result too large: its first {'row' if rows == 1 else f'{rows} rows'} "
            f"already {'holds' if rows == 1 else 'hold'} more than "
            f"{budget >> 20} MiB, the limit of one result; select fewer or smaller "
            "columns, add a LIMIT or aggregate."
        )


def _failure(
    conn: sqlite3.Connection, e: Exception, allow_writes: bool, timeout_s: float
) -> tuple[str, str | None]:
    """The explanation of a failed statement, and the limit it ran into."""
    if isinstance(e, _ResultTooLarge):
        return str(e), "result"
    if isinstance(e, MemoryError):
        return (
            "out of memory: the statement needed more than "
            f"{STATEMENT_HEAP_BYTES >> 20} MiB of database memory, the limit of one statement.",
            "memory",
        )
    error = str(e)
    if "not authorized" in error or "authorization denied" in error:
        allowed = "SELECT, INSERT, UPDATE and DELETE" if allow_writes else "read-only SELECT"
        return (
            f"statement not allowed ({error}); this task allows {allowed} statements "
            "only (no ATTACH, PRAGMA, CREATE, DROP, ALTER or transactions).",
            None,
        )
    for message, (limit, explanation) in _LIMIT_ERRORS.items():
        if message in error:
            if limit == "time":
                explanation = f"query cancelled: it ran past the time limit of {timeout_s:g} s."
            elif limit == "columns":
                most = conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN)
                explanation = f"{error}: a result may have at most {most} columns."
            return explanation, limit
    return error, None


#: Rows fetched at once at most.
_MAX_BATCH: Final = 1024
#: ``sys.getsizeof`` of an empty row tuple, and what each value adds to it.
_ROW_BYTES: Final = getsizeof(())
_SLOT_BYTES: Final = getsizeof((0,)) - _ROW_BYTES
#: Bytes a value takes in Python beyond its characters or bytes (a ``str``'s header; an
#: ``int`` or ``float`` is smaller).
_VALUE_BYTES: Final = getsizeof("")
#: Bytes one value may take in Python: SQLite's limit counts UTF-8 bytes, and Python holds
#: a string with one character beyond the BMP at 4 bytes a character.
_VALUE_MAX: Final = 4 * MAX_VALUE_BYTES + _VALUE_BYTES


def _size(rows: list[tuple[Any, ...]], width: int, room: int) -> int:
    """Bytes ``rows`` hold in Python, or more: the cheap upper bound (each character or
    byte of a text or blob at 4 bytes) when it is below ``room``, else exactly."""
    fixed = len(rows) * (_ROW_BYTES + width * _SLOT_BYTES)
    loose = fixed + len(rows) * width * _VALUE_BYTES
    loose += 4 * sum(map(length_hint, chain.from_iterable(rows)))  # 0 for numbers, None
    if loose <= room:
        return loose
    return fixed + sum(map(getsizeof, chain.from_iterable(rows)))


def _fetch(
    cursor: sqlite3.Cursor, width: int, count_cap: int, deadline: float
) -> list[tuple[Any, ...]]:
    """Up to ``count_cap + 1`` rows of ``cursor``, refused once they hold more bytes than
    :func:`~mtenvs.envs.sql.limits.result_budget` allows.

    A batch holds at most as many rows as ``MAX_BATCH_BYTES`` allow when each is the
    largest possible (SQLite's row is converted whole before it can be measured), so Python
    holds at most the budget plus one batch; a result in one batch whose rows cannot exceed
    the budget (a point lookup, most results) is never measured."""
    budget = result_budget(count_cap)
    biggest = _ROW_BYTES + width * (_SLOT_BYTES + _VALUE_MAX)
    want = count_cap + 1
    n = min(want, _MAX_BATCH, max(1, MAX_BATCH_BYTES // biggest))
    rows = cursor.fetchmany(n)
    full = len(rows) == n
    if not full and len(rows) * biggest <= budget:
        return rows
    used = _size(rows, width, budget // 2)
    while full and used <= budget and len(rows) < want:
        if time.perf_counter() > deadline:  # Python's share: converting the rows
            raise sqlite3.OperationalError("interrupted")
        k = min(n, want - len(rows))
        batch = cursor.fetchmany(k)
        rows += batch
        used += _size(batch, width, budget // 2 - used)
        full = len(batch) == k
    if used > budget:
        raise _ResultTooLarge(len(rows), budget)
    return rows


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
            if not kept.limited:
                install_limits(kept)
                kept.limited = True
            kept.set_authorizer(_AUTHORIZERS[allow_writes])
            kept.guard = allow_writes
    else:
        install_limits(conn)
        conn.set_authorizer(_AUTHORIZERS[allow_writes])
        conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), _PROGRESS_STEPS)
    before = conn.total_changes
    bounded = SQLITE_HEAP.enter()
    try:
        cursor = conn.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        rows = _fetch(cursor, len(columns), count_cap, deadline) if columns else []
        cursor.close()
    except (
        sqlite3.Error,
        sqlite3.Warning,
        ValueError,
        OverflowError,
        MemoryError,
        _ResultTooLarge,
    ) as e:
        error, limit = _failure(conn, e, allow_writes, timeout_s)
        return QueryResult(error=error, elapsed_s=time.perf_counter() - start, limit=limit)
    finally:
        if bounded:
            SQLITE_HEAP.leave()
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
    if type(value) is bytes:  # str() of a 256 KiB blob would be 1 MiB of escapes
        value = value[: _CELL_WIDTH + 1]
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
