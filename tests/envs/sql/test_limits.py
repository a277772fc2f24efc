"""The per-statement bounds of mtenvs.envs.sql.limits on an episode's SQLite database.

The attacks themselves, played through the envs and measured, are in
tests/security/test_sql_limits.py; these are the pieces: the limits a connection gets, the
result's byte budget, the process-wide heap limit put back after every statement, and the
linear-time trim agreeing with SQLite's.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from mtenvs.envs.sql.data import episode_database
from mtenvs.envs.sql.engine import GuardedConnection, execute
from mtenvs.envs.sql.limits import (
    MAX_GROWTH_BYTES,
    MAX_VALUE_BYTES,
    MIN_COLUMN_LIMIT,
    SQLITE_HEAP,
    result_budget,
)


def _run(conn: sqlite3.Connection, sql: str, writes: bool = False, cap: int = 10_000):
    return execute(conn, sql, allow_writes=writes, timeout_s=5.0, count_cap=cap)


def test_an_episode_connection_gets_its_limits_once_before_its_first_statement():
    conn = episode_database("shop", 1000, 0)
    assert isinstance(conn, GuardedConnection) and not conn.limited
    assert _run(conn, "SELECT 1").ok and conn.limited
    assert conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == MAX_VALUE_BYTES
    assert conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) == MIN_COLUMN_LIMIT
    conn.set_authorizer(None)
    pages, size, most = (
        conn.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("page_count", "page_size", "max_page_count")
    )
    assert most == pages + MAX_GROWTH_BYTES // size


def test_the_column_limit_is_never_below_the_widest_table():
    """SQLite checks the column limit again whenever it reads the schema."""
    plain = sqlite3.connect(":memory:")
    plain.execute("CREATE TABLE wide (" + ", ".join(f"c{i}" for i in range(300)) + ")")
    plain.execute("INSERT INTO wide DEFAULT VALUES")
    conn = sqlite3.connect(":memory:", factory=GuardedConnection, isolation_level=None)
    conn.deserialize(plain.serialize())
    result = _run(conn, "SELECT * FROM wide")
    assert result.ok and len(result.columns) == 300
    assert conn.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) == 300
    assert _run(conn, "SELECT c1 FROM wide").ok


@pytest.mark.parametrize("cap", [10_000, 1_000_000])
def test_a_result_is_refused_past_its_byte_budget_and_kept_below_it(cap):
    conn = episode_database("shop", 1000, 0)
    budget = result_budget(cap)
    per_row = 200_000
    fits = budget // (per_row + 1_000)
    ok = _run(conn, f"{_rows(fits)} SELECT zeroblob({per_row}) FROM r", cap=cap)
    assert ok.ok and len(ok.rows) == fits
    too_many = _run(conn, f"{_rows(2 * fits)} SELECT zeroblob({per_row}) FROM r", cap=cap)
    assert too_many.limit == "result" and "result too large" in (too_many.error or "")
    assert f"{budget >> 20} MiB" in (too_many.error or "")


def _rows(n: int) -> str:
    return f"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {n})"


def test_many_small_rows_are_counted_cheaply_and_kept():
    conn = episode_database("shop", 1000, 0)
    result = _run(conn, f"{_rows(10_000)} SELECT n, 'some text ' || n FROM r")
    assert result.ok and len(result.rows) == 10_000 and not result.capped


@pytest.mark.skipif(not SQLITE_HEAP.enforced, reason="SQLite's heap cannot be bounded here")
def test_the_heap_limit_is_back_to_none_after_every_statement():
    api = SQLITE_HEAP._resolve()
    assert api is not None
    conn = episode_database("shop", 1000, 0)
    bomb = "WITH a0(x) AS (SELECT id FROM customers)" + "".join(
        f", a{i}(x) AS (SELECT x+x+x+x FROM a{i - 1})" for i in range(1, 13)
    )
    result = _run(conn, bomb + " SELECT x FROM a12")
    assert result.limit == "memory" and "out of memory" in (result.error or "")
    assert api.hard(-1) == 0 and api.soft(-1) == 0
    assert _run(conn, "SELECT COUNT(*) FROM customers").rows == ((150,),)
    assert api.hard(-1) == 0


@pytest.mark.skipif(not SQLITE_HEAP.enforced, reason="SQLite's heap cannot be bounded here")
def test_statements_in_threads_share_the_window_and_exempt_work_lifts_it():
    api = SQLITE_HEAP._resolve()
    assert api is not None
    assert SQLITE_HEAP.enter()
    try:
        assert api.hard(-1) > api.used()
        seen: list[int] = []

        def other() -> None:  # a second statement meanwhile keeps the window open
            assert SQLITE_HEAP.enter()
            seen.append(api.hard(-1))
            SQLITE_HEAP.leave()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert seen[0] > 0 and api.hard(-1) > 0  # the first statement still runs
        with SQLITE_HEAP.exempt():
            assert api.hard(-1) == 0
            big = sqlite3.connect(":memory:")  # more than the window allows
            big.execute("CREATE TABLE t (x)")
            big.execute(
                "INSERT INTO t WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r"
                " WHERE n < 700) SELECT zeroblob(250000) FROM r"
            )
            big.close()
    finally:
        SQLITE_HEAP.leave()
    assert api.hard(-1) == 0


TRIMS = [
    ("  padded  ", " "),
    ("xxhixx", "x"),
    ("abcXcba", "abc"),
    ("", "a"),
    ("keep", ""),
    ("héllo é", "é "),
    ("a\x00b", "a"),
    ("abc", "c\x00a"),  # SQLite stops reading the set at a NUL
    (12300, "0"),
    (1.5, "5"),
    (1e20, "0"),
    (None, "x"),
    ("x", None),
    (b"xxblobxx", "x"),
    ("🙂🙂ok🙂", "🙂"),
    ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "0123456789abcdefghijklmnopqrstuvwxyzF"),
]


@pytest.mark.parametrize("func", ["trim", "ltrim", "rtrim"])
def test_the_linear_trim_agrees_with_sqlite(func):
    native = sqlite3.connect(":memory:")
    conn = episode_database("shop", 1000, 0)
    _run(conn, "SELECT 1")  # the replacements are installed with the limits
    conn.set_authorizer(None)
    for value, chars in TRIMS:
        sql = f"SELECT {func}(?, ?)"
        want = native.execute(sql, (value, chars)).fetchone()[0]
        assert conn.execute(sql, (value, chars)).fetchone()[0] == want, (value, chars)


def test_the_linear_trim_is_linear():
    conn = episode_database("shop", 1000, 0)
    sql = (
        "WITH a(x) AS (SELECT hex(zeroblob(120000))) SELECT length(trim(x, "
        "replace(hex(zeroblob(120000)), '0', 'b') || '0')) FROM a"
    )
    result = execute(conn, sql, allow_writes=False, timeout_s=1.0)
    assert result.ok and result.rows == ((0,),) and result.elapsed_s < 1.0
