"""The PostgreSQL dialect against a real server (a private one started with pg_ctl, or
MTENVS_POSTGRES_HOST); skipped where neither PostgreSQL nor psycopg is installed."""

from __future__ import annotations

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql.backend import SqliteDatabase
from mtenvs.envs.sql.interact_tasks import INTERACT_TEMPLATES, make_interact_task
from mtenvs.envs.sql.postgres import PostgresDatabase, PostgresUnavailableError, server_host
from mtenvs.envs.sql.tasks import make_task
from mtenvs.envs.sql.templates import TEMPLATES
from mtenvs.envs.sql.verify import is_ordered, results_match, transpile

pytest.importorskip("psycopg")
try:
    server_host()
except PostgresUnavailableError as e:  # pragma: no cover - depends on the machine
    pytest.skip(f"PostgreSQL unavailable: {e}", allow_module_level=True)


def _same_on_both(task, readers: dict) -> None:
    writes = task.kind == "write"
    key = (task.schema, task.db_seed)
    if key not in readers:
        readers[key] = (
            SqliteDatabase(*key[:1], 1000, key[1]),
            PostgresDatabase(*key[:1], 1000, key[1]),
        )
    lite, pg = readers[key]
    if writes:  # a write gets fresh copies
        lite = SqliteDatabase(task.schema, 1000, task.db_seed)
        pg = PostgresDatabase(task.schema, 1000, task.db_seed)
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


def test_every_template_gives_the_same_result_on_both_dialects():
    readers: dict = {}
    try:
        for index in range(len(TEMPLATES)):
            _same_on_both(make_task("test", index), readers)
        for index in range(len(INTERACT_TEMPLATES)):
            for request in make_interact_task("test", index).requests:
                _same_on_both(request, readers)
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
        "SELECT COUNT(*) FROM order_items a, order_items b, order_items c",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
    ],
)
def test_guards_refuse_and_leave_the_data_unchanged(sql):
    db = PostgresDatabase("shop", 1000, 0)
    try:
        before = db.state()
        assert not db.execute(sql, allow_writes=False, timeout_s=0.5).ok
        assert db.state() == before
    finally:
        db.close()


def test_sql_env_oracle_and_snapshot_on_postgres():
    env = gym.make("mtenvs/Sql-v0", dialect="postgres", eval_set=True)
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


def test_sql_interact_oracle_on_postgres():
    env = gym.make("mtenvs/SqlInteract-v0", dialect="postgres", eval_set=True)
    env.reset(seed=6)  # shop_popular_products: its follow-up is an UPDATE
    while True:
        *_, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        if terminated or truncated:
            break
    assert info["success"] and info["task_kind"] == "write"
    env.close()
