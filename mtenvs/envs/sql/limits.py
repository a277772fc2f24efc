"""Resource limits of the SQL an agent runs on SQLite.

Agent statements run in the env's SQLite worker process
(:mod:`~mtenvs.envs.sql.sqlite_worker`), which the host kills at the time limit: SQLite
cannot stop a statement while it evaluates one row (the progress handler and ``interrupt``
are only consulted at the edges of loops). Within the worker every statement runs under
bounds that need no check inside a row:

| Bound | Limit | How |
|---|---|---|
| one string, blob or stored row | :data:`MAX_VALUE_BYTES` (256 KiB) | ``SQLITE_LIMIT_LENGTH`` |
| result columns | :data:`MIN_COLUMN_LIMIT` (128), or the widest table's width | ``SQLITE_LIMIT_COLUMN`` |
| the result's rows in Python | :func:`result_budget` (32 MiB; 256 B a row when ``count_cap`` is larger) | counted while fetched, in batches of at most :data:`MAX_BATCH_BYTES` at their largest possible |
| SQLite memory while the statement runs (parsing, planning, rows, sorting) | :data:`STATEMENT_HEAP_BYTES` (128 MiB) | the process's SQLite hard heap limit, set around each statement (:class:`SqliteHeap`) |
| database growth through writes | :data:`MAX_GROWTH_BYTES` (64 MiB) | ``PRAGMA max_page_count`` |
| statement text, LIKE/GLOB pattern | :data:`MAX_SQL_BYTES`, :data:`MAX_PATTERN_BYTES` | ``SQLITE_LIMIT_SQL_LENGTH``, ``SQLITE_LIMIT_LIKE_PATTERN_LENGTH`` |
| time | the env's ``query_timeout_s`` | the progress handler in loops; the deadline between fetched batches; the host's kill of the worker (:data:`~mtenvs.envs.sql.sqlite_worker.KILL_GRACE_S` later) inside a row |

Two-argument ``trim``/``ltrim``/``rtrim`` are replaced by linear-time versions: SQLite's own
compare every character with every character of the set (100 s for one call on two
240 KB strings, with nothing to interrupt it).

Together: one episode's memory stays within :data:`EPISODE_MEMORY_BYTES` above its
database whatever the agent sends, and its time within the limit plus the kill
(docs/sql.md, Limits).
"""

from __future__ import annotations

import ctypes
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

__all__ = [
    "EPISODE_MEMORY_BYTES",
    "MAX_BATCH_BYTES",
    "MAX_GROWTH_BYTES",
    "MAX_PATTERN_BYTES",
    "MAX_RESULT_BYTES",
    "MAX_SQL_BYTES",
    "MAX_VALUE_BYTES",
    "MIN_COLUMN_LIMIT",
    "RESULT_BYTES_PER_ROW",
    "SQLITE_HEAP",
    "STATEMENT_HEAP_BYTES",
    "SqliteHeap",
    "install_limits",
    "result_budget",
]

_MIB: Final = 1 << 20
#: Largest string, blob or stored row a statement may read or build (bytes).
MAX_VALUE_BYTES: Final = 256 * 1024
#: Result columns a statement may return at least (raised to the database's widest table).
MIN_COLUMN_LIMIT: Final = 128
#: Bytes of Python values (``sys.getsizeof``, rows included) one statement may return.
MAX_RESULT_BYTES: Final = 32 * _MIB
#: With a larger row cap (``dataset=`` gold results), the result may hold this much a row.
RESULT_BYTES_PER_ROW: Final = 256
#: Bytes of rows fetched at once at most, each row counted at its largest possible size
#: (``MIN_COLUMN_LIMIT`` values of ``MAX_VALUE_BYTES`` UTF-8 bytes are 4 times that in a
#: Python ``str``): SQLite hands a row over whole, so it is measured only once it is held.
MAX_BATCH_BYTES: Final = 2 * MIN_COLUMN_LIMIT * (4 * MAX_VALUE_BYTES)
#: SQLite memory the process may add while one agent statement runs (bytes; the heaviest
#: built-in queries at scale 1,000,000 peak at 4 MiB, a write at the growth limit needs 64).
STATEMENT_HEAP_BYTES: Final = 128 * _MIB
#: Bytes writes may add to an episode database.
MAX_GROWTH_BYTES: Final = 64 * _MIB
#: Longest SQL statement (bytes of UTF-8; the tools take 20,000 characters).
MAX_SQL_BYTES: Final = 100_000
#: Longest LIKE or GLOB pattern (bytes); matching costs the pattern's length per character.
MAX_PATTERN_BYTES: Final = 1_000
#: Host memory one episode may take above its database, whatever the agent sends: the
#: SQLite heap of a statement (128 MiB), a batch of rows being fetched (256 MiB), the
#: result held (32 MiB) and the database's growth (64 MiB), with room to spare.
EPISODE_MEMORY_BYTES: Final = 512 * _MIB


def result_budget(count_cap: int) -> int:
    """Bytes of values a statement reading up to ``count_cap`` rows may return."""
    return max(MAX_RESULT_BYTES, count_cap * RESULT_BYTES_PER_ROW)


def _widest_table(conn: sqlite3.Connection) -> int:
    try:  # pragma_table_list: SQLite 3.37+; reading it loads the schema
        row = conn.execute("SELECT max(ncol) FROM pragma_table_list").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0)


def install_limits(conn: sqlite3.Connection) -> None:
    """Put the per-connection bounds of the module doc on ``conn``.

    Runs ``PRAGMA`` statements, so no authorizer may be installed. The column limit is never
    below the widest table: SQLite checks it again whenever it reads the schema."""
    widest = _widest_table(conn)
    if widest:
        conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, max(MIN_COLUMN_LIMIT, widest))
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_PATTERN_BYTES)
    pages, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size"))
    conn.execute(f"PRAGMA max_page_count = {pages + MAX_GROWTH_BYTES // size}")
    for name, left, right in (("trim", True, True), ("ltrim", True, False), ("rtrim", False, True)):
        conn.create_function(name, 2, _trim(left, right), deterministic=True)


# ---------------------------------------------------------------------- linear trim


_FLOAT_TEXT_LOCK = threading.Lock()
_FLOAT_TEXT = sqlite3.connect(":memory:", check_same_thread=False)


def _as_text(value: object) -> str:
    """``value`` as SQLite reads it as text (a REAL as SQLite prints it: ``1.0e+20``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        with _FLOAT_TEXT_LOCK:
            return str(_FLOAT_TEXT.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0])
    return str(value)


#: Up to this many distinct characters to remove, ``str.strip`` (C, but each character is
#: looked up in the set by a scan) beats a loop over a Python set.
_SHORT_SET: Final = 32


def _trim(left: bool, right: bool) -> Callable[[object, object], str | None]:
    """SQLite's two-argument trim (``left``/``right`` ends), linear in the string's length."""
    strip = str.strip if left and right else str.lstrip if left else str.rstrip

    def trim(value: object, chars: object) -> str | None:
        if value is None or chars is None:
            return None
        text = _as_text(value)
        charset = "".join(dict.fromkeys(_as_text(chars).split("\0", 1)[0]))  # SQLite stops at NUL
        if len(charset) <= _SHORT_SET:
            return strip(text, charset)
        drop = frozenset(charset)
        start, end = 0, len(text)
        while left and start < end and text[start] in drop:
            start += 1
        while right and end > start and text[end - 1] in drop:
            end -= 1
        return text[start:end]

    return trim


# ---------------------------------------------------------------------- SQLite heap


class _HeapApi:
    """The heap functions of the SQLite library the ``sqlite3`` module uses."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.used = lib.sqlite3_memory_used
        self.hard = lib.sqlite3_hard_heap_limit64
        self.soft = lib.sqlite3_soft_heap_limit64
        self.used.restype, self.used.argtypes = ctypes.c_int64, []
        for f in (self.hard, self.soft):
            f.restype, f.argtypes = ctypes.c_int64, [ctypes.c_int64]


def _heap_api() -> _HeapApi | None:
    """The heap functions, or None where they cannot be reached or do not count."""
    try:
        import _sqlite3

        lib = ctypes.CDLL(_sqlite3.__file__)  # its SQLite: linked in, or a library it loads
        api = _HeapApi(lib)
        version = lib.sqlite3_libversion_number
    except (ImportError, OSError, AttributeError):
        return None
    version.restype, version.argtypes = ctypes.c_int, []
    major, minor, patch = sqlite3.sqlite_version_info
    if version() != major * 1_000_000 + minor * 1_000 + patch:
        return None  # another copy of SQLite than the module's
    probe = sqlite3.connect(":memory:")
    before = api.used()
    probe.execute("CREATE TABLE t (x)")
    probe.execute("INSERT INTO t VALUES (zeroblob(100000))")
    counted = api.used() > before  # memory statistics are compiled in and on
    probe.close()
    return api if counted else None


class SqliteHeap:
    """The process's SQLite hard heap limit, set while agent statements run.

    SQLite bounds its memory only process-wide. While at least one statement runs
    (between :meth:`enter` and :meth:`leave`), the limit is SQLite's memory in use when it started plus
    :data:`STATEMENT_HEAP_BYTES` (raised likewise for each statement that starts meanwhile),
    so a statement that would take more fails with "out of memory" instead of the host;
    when none runs, the application's own limits (usually none) are back. Work that needs
    much SQLite memory in another thread meanwhile (copying a large dataset database) runs
    inside :meth:`exempt`, which lifts the limit while it lasts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resolved = False
        self._api: _HeapApi | None = None
        self._running = 0
        self._exempt = 0
        self._saved = (0, 0)  # the application's (hard, soft) limits
        self._limit = 0

    def _resolve(self) -> _HeapApi | None:
        with self._lock:
            if not self._resolved:
                self._api = _heap_api()
                if self._api is not None:
                    self._saved = (self._api.hard(-1), self._api.soft(-1))
                self._resolved = True
        return self._api

    @property
    def enforced(self) -> bool:
        """Whether this process's SQLite can be bounded (else only the other limits hold)."""
        return self._resolve() is not None

    def _restore(self, api: _HeapApi) -> None:
        self._limit = 0
        hard, soft = self._saved
        api.hard(hard)  # also lowers the soft limit to it: put the application's back
        if soft:
            api.soft(soft)

    def enter(self) -> bool:
        """Bound SQLite's memory for one statement; True when it is (then :meth:`leave`
        after it, in a ``finally``). A method pair, not a context manager: it runs on
        every statement."""
        api = self._api if self._resolved else self._resolve()
        if api is None:
            return False
        with self._lock:
            self._running += 1
            if not self._exempt:
                wanted = api.used() + STATEMENT_HEAP_BYTES
                if self._saved[0] > 0:
                    wanted = min(wanted, self._saved[0])
                if wanted > self._limit:
                    self._limit = wanted
                    api.hard(wanted)
        return True

    def leave(self) -> None:
        """End a statement :meth:`enter` bounded."""
        with self._lock:
            self._running -= 1
            if not self._running and self._limit and self._api is not None:
                self._restore(self._api)

    @contextmanager
    def exempt(self) -> Iterator[None]:
        """Run the body without the heap limit (statements that start meanwhile get none)."""
        api = self._resolve()
        with self._lock:
            self._exempt += 1
            if api is not None and self._limit:
                self._restore(api)
        try:
            yield
        finally:
            with self._lock:
                self._exempt -= 1


#: The process's one :class:`SqliteHeap`.
SQLITE_HEAP: Final = SqliteHeap()
