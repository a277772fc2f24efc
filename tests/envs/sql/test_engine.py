from __future__ import annotations

import time

import pytest

from mtenvs.envs.sql.data import database_checksum, episode_database, source_database
from mtenvs.envs.sql.engine import describe_table, execute, format_table
from mtenvs.envs.sql.schemas import get_schema

ADVERSARIAL = [
    "ATTACH DATABASE '/etc/passwd' AS pw",
    "PRAGMA writable_schema = ON",
    "DROP TABLE orders",
    "CREATE TABLE x (a)",
    "DELETE FROM orders",
    "UPDATE products SET price = 0",
    "INSERT INTO products VALUES (999, 'x', 'y', 1.0)",
    "SELECT load_extension('/tmp/evil')",
    "BEGIN",
]


@pytest.mark.parametrize("sql", ADVERSARIAL)
def test_read_only_guard_refuses_and_leaves_the_database_unchanged(sql):
    conn = episode_database("shop", 1000, 0)
    before = database_checksum(conn, get_schema("shop"))
    result = execute(conn, sql, allow_writes=False, timeout_s=1.0)
    assert result.error
    assert database_checksum(conn, get_schema("shop")) == before


def test_writes_allowed_only_on_data():
    conn = episode_database("shop", 1000, 0)
    ok = execute(
        conn, "UPDATE products SET price = 1 WHERE id = 1", allow_writes=True, timeout_s=1.0
    )
    assert ok.ok and ok.changes == 1
    for sql in ("DROP TABLE orders", "ATTACH ':memory:' AS m", "PRAGMA foreign_keys = OFF"):
        assert not execute(conn, sql, allow_writes=True, timeout_s=1.0).ok


@pytest.mark.parametrize(
    "sql",
    [
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
        "SELECT COUNT(*) FROM order_items a, order_items b, order_items c",
    ],
)
@pytest.mark.parametrize("episode", [False, True])  # guards set per call, or kept
def test_runaway_queries_time_out(sql, episode):
    conn = episode_database("shop", 1000, 0) if episode else source_database("shop", 1000, 0)
    before = database_checksum(conn, get_schema("shop"))
    start = time.perf_counter()
    result = execute(conn, sql, allow_writes=False, timeout_s=0.3)
    assert time.perf_counter() - start < 2.0
    assert result.error and "time limit" in result.error
    assert database_checksum(conn, get_schema("shop")) == before


def test_row_cap_and_table_format():
    conn = source_database("shop", 1000, 0)
    result = execute(
        conn,
        "SELECT a.id FROM order_items a, products b",
        allow_writes=False,
        timeout_s=5.0,
        count_cap=100,
    )
    assert result.capped and len(result.rows) == 100
    text = format_table(result, 5)
    assert "more than 100 rows; first 5 shown" in text
    assert text.count("\n| ") == 5
    small = execute(
        conn,
        "SELECT id, email FROM customers WHERE email IS NULL LIMIT 2",
        allow_writes=False,
        timeout_s=1.0,
    )
    assert "NULL" in format_table(small, 5) and "(2 rows)" in format_table(small, 5)


@pytest.mark.parametrize("sql", ["SELECT zeroblob(200000000)", "SELECT hex(zeroblob(6000000))"])
def test_memory_bombs_are_refused(sql):
    conn = episode_database("shop", 1000, 0)
    result = execute(conn, sql, allow_writes=False, timeout_s=5.0)
    assert result.error and "too big" in result.error


def test_one_statement_at_a_time():
    conn = source_database("shop", 1000, 0)
    assert not execute(conn, "SELECT 1; SELECT 2", allow_writes=False, timeout_s=1.0).ok


def test_kept_guards_follow_the_mode_of_each_statement():
    """Episode connections keep the authorizer between statements; a statement prepared
    (and cached) under the write mode must be authorized again under the read-only one."""
    conn = episode_database("shop", 1000, 0)
    schema = get_schema("shop")
    write = "UPDATE products SET price = price + 1 WHERE id = 1"
    assert execute(conn, write, allow_writes=True, timeout_s=1.0).changes == 1
    before = database_checksum(conn, schema)
    for _ in range(3):
        result = execute(conn, write, allow_writes=False, timeout_s=1.0)
        assert result.error and "not allowed" in result.error
    assert database_checksum(conn, schema) == before
    assert "Table products:" in describe_table(conn, "products")  # PRAGMA, unguarded
    assert not execute(conn, "PRAGMA foreign_keys = OFF", allow_writes=False, timeout_s=1.0).ok
    assert not execute(conn, write, allow_writes=False, timeout_s=1.0).ok
    assert execute(conn, write, allow_writes=True, timeout_s=1.0).changes == 1


def test_a_past_deadline_does_not_interrupt_later_statements():
    conn = episode_database("shop", 1000, 0)
    assert execute(conn, "SELECT 1", allow_writes=False, timeout_s=0.01).ok
    time.sleep(0.05)
    # Long enough to reach the progress handler many times, after the deadline passed.
    rows = conn.execute("SELECT COUNT(*) FROM order_items a, order_items b").fetchall()
    assert rows[0][0] > 0
