"""The PostgreSQL dialect against real servers: every test runs on each backend, the
``local`` one (Debian's PostgreSQL started with pg_ctl) and the ``docker`` one (the
mtenvs/postgres image). A backend that cannot run here is skipped, or fails under ``CI``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql import postgres
from mtenvs.envs.sql.backend import SqliteDatabase
from mtenvs.envs.sql.interact_tasks import INTERACT_TEMPLATES, make_interact_task
from mtenvs.envs.sql.pg_pool import POOL_DEPTH
from mtenvs.envs.sql.postgres import PostgresDatabase, hold_server, release_server
from mtenvs.envs.sql.tasks import make_task
from mtenvs.envs.sql.templates import TEMPLATES
from mtenvs.envs.sql.verify import is_ordered, results_match, transpile
from tests.envs.sql._support import require_backend


@pytest.fixture(scope="module", params=["local", "docker"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """A running server of each backend, held for the module (one container, not one
    per test)."""
    require_backend(request.param)
    hold_server(request.param)
    yield request.param
    release_server(request.param)


def _same_on_both(task, readers: dict, backend: str) -> None:
    writes = task.kind == "write"
    key = (task.schema, task.db_seed)
    if key not in readers:
        readers[key] = (
            SqliteDatabase(*key[:1], 1000, key[1]),
            PostgresDatabase(*key[:1], 1000, key[1], backend=backend),
        )
    lite, pg = readers[key]
    if writes:  # a write gets fresh copies
        lite = SqliteDatabase(task.schema, 1000, task.db_seed)
        pg = PostgresDatabase(task.schema, 1000, task.db_seed, backend=backend)
    a = lite.execute(task.gold_sql, allow_writes=writes, timeout_s=10)
    b = pg.execute(transpile(task.gold_sql, "postgres"), allow_writes=writes, timeout_s=10)
    assert a.ok and b.ok, b.error
    if writes:
        assert a.changes == b.changes > 0
        assert lite.state() == pg.state()
        lite.close()
        pg.close()
    else:
        assert a.rows
        assert results_match(a.rows, b.rows, ordered=is_ordered(task.gold_sql))


def test_every_template_gives_the_same_result_on_both_dialects(backend):
    readers: dict = {}
    try:
        for index in range(len(TEMPLATES)):
            _same_on_both(make_task("test", index), readers, backend)
        for index in range(len(INTERACT_TEMPLATES)):
            for request in make_interact_task("test", index).requests:
                _same_on_both(request, readers, backend)
    finally:
        for pair in readers.values():
            for db in pair:
                db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "COPY customers FROM '/etc/passwd'",
        "SELECT pg_read_file('/etc/passwd')",
        "DROP TABLE orders",
        "DELETE FROM orders",
        "CREATE TABLE x (a int)",
        "ALTER ROLE mtenvs_agent SUPERUSER",
        "SELECT 1; DELETE FROM orders",
        "SELECT 1;\x00 DELETE FROM orders",
        "SELECT COUNT(*) FROM order_items a, order_items b, order_items c",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
    ],
)
def test_guards_refuse_and_leave_the_data_unchanged(sql, backend):
    db = PostgresDatabase("shop", 1000, 0, backend=backend)
    try:
        before = db.state()
        assert not db.execute(sql, allow_writes=False, timeout_s=0.5).ok
        assert db.state() == before
    finally:
        db.close()


def test_sql_env_oracle_and_snapshot_on_postgres(backend):
    env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend=backend, eval_set=True)
    for seed in (0, 6):  # a read task and a write task (shop_cancel_old_pending)
        env.reset(seed=seed)
        while True:
            *_, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
            if terminated or truncated:
                break
        assert info["success"]
    env.reset(seed=6)
    env.step("```sql\nDELETE FROM order_items\n```")
    snap = env.unwrapped.snapshot()
    env.step("```sql\nDELETE FROM orders\n```")
    env.unwrapped.restore(snap)
    obs, *_ = env.step(
        "```sql\nSELECT (SELECT COUNT(*) FROM order_items), (SELECT COUNT(*) FROM orders)\n```"
    )
    assert "| 0 | 300 |" in obs
    env.close()


def test_sql_interact_oracle_on_postgres(backend):
    env = gym.make(
        "mtenvs/SqlInteract-v0", dialect="postgres", postgres_backend=backend, eval_set=True
    )
    env.reset(seed=6)  # shop_popular_products: its follow-up is an UPDATE
    while True:
        *_, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        if terminated or truncated:
            break
    assert info["success"] and info["task_kind"] == "write"
    env.close()


def test_transaction_control_cannot_loosen_the_guards(backend):
    db = PostgresDatabase("shop", 1000, 0, backend=backend)
    runaway = "SELECT COUNT(*) FROM order_items a, order_items b, order_items c"
    try:
        before = db.state()
        for sql in (
            "COMMIT",
            "ROLLBACK",
            "BEGIN",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            "SET default_transaction_read_only = off",
        ):
            db.execute(sql, allow_writes=False, timeout_s=1.0)  # may run; must not help
            result = db.execute("DELETE FROM order_items", allow_writes=False, timeout_s=1.0)
            assert not result.ok
        assert db.execute("SET statement_timeout = 0", allow_writes=True, timeout_s=1.0).ok
        result = db.execute(runaway, allow_writes=False, timeout_s=0.3)
        assert result.error and "time limit" in result.error
        assert db.state() == before
    finally:
        db.close()


def _databases(host: str) -> set[str]:
    with postgres._connect("postgres", host=host) as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database")}


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_pooled_copies_are_fresh_and_dropped_after_use(backend):
    first = PostgresDatabase("shop", 1000, 0, backend=backend)
    host, template = first.host, first.template
    before = first.state()
    assert first.execute("DELETE FROM order_items", allow_writes=True, timeout_s=5.0).changes
    first.close()
    pool = postgres._POOLS[(os.getpid(), host)]
    _wait_for(lambda: len(pool._ready.get(template, ())) == POOL_DEPTH)
    ready = {name for name, _ in pool._ready[template]}
    names = []
    for _ in range(POOL_DEPTH + 1):  # the ready copies first, then whatever is ready next
        db = PostgresDatabase("shop", 1000, 0, backend=backend)
        names.append(db.name)
        assert db.state() == before  # never sees the first one's DELETE
        db.close()
    assert set(names[:POOL_DEPTH]) == ready
    _wait_for(lambda: not ({first.name, *names} & _databases(host)))


def test_failed_statements_never_leave_the_connection_unusable(backend):
    db = PostgresDatabase("shop", 1000, 0, backend=backend)
    try:
        for _ in range(5):  # prepared statements change psycopg's path after a few runs
            for sql in (
                "SELECT nope FROM customers",
                "SELEC 1",
                "DELETE FROM orders",
                "SELECT pg_sleep(1)",
            ):
                assert not db.execute(sql, allow_writes=False, timeout_s=0.05).ok
                assert db.execute("SELECT 1", allow_writes=False, timeout_s=1.0).rows == ((1,),)
    finally:
        db.close()


def test_one_round_trip_keeps_types_counts_and_writes(backend):
    db = PostgresDatabase("shop", 1000, 0, backend=backend)
    try:
        capped = db.execute(
            "SELECT id, name FROM customers ORDER BY id",
            allow_writes=False,
            timeout_s=5.0,
            count_cap=5,
        )
        assert capped.ok and capped.capped and capped.columns == ("id", "name")
        assert [r[0] for r in capped.rows] == [1, 2, 3, 4, 5]
        total = db.execute(
            "SELECT COUNT(*), AVG(price) FROM products", allow_writes=False, timeout_s=5.0
        )
        assert isinstance(total.rows[0][0], int) and isinstance(total.rows[0][1], float)
        prices = "SELECT price FROM products WHERE id <= 3 ORDER BY id"
        before = db.execute(prices, allow_writes=False, timeout_s=5.0).rows
        changed = db.execute(
            "UPDATE products SET price = price + 1 WHERE id <= 3", allow_writes=True, timeout_s=5.0
        )
        assert changed.ok and changed.changes == 3 and not changed.columns
        # the write was committed: a later read-only statement sees it
        after = db.execute(prices, allow_writes=False, timeout_s=5.0).rows
        assert [round(a[0] - b[0], 2) for a, b in zip(after, before)] == [1.0, 1.0, 1.0]
        undone = db.execute(
            "UPDATE products SET price = 1 WHERE id = 1", allow_writes=False, timeout_s=5.0
        )
        assert not undone.ok and "read-only" in (undone.error or "")
    finally:
        db.close()
