"""Episodes on one PostgreSQL server cannot reach each other, and what decides a reward sees
the real tables (issue 16, finding 5). Every test runs on both backends (``local``: Debian's
PostgreSQL started by this process; ``docker``: the mtenvs/postgres container), through
``gym.make``; the server's superuser stands in for whatever breaks a connection."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql import postgres
from mtenvs.envs.sql.pg_pool import POOL_DEPTH
from mtenvs.envs.sql.pg_server import connect, hold_server, release_server
from mtenvs.envs.sql.verify import transpile
from tests.envs.sql._support import require_backend

#: PostgreSQL's refusals to signal another role's session (15: "must be a member of the
#: role…"; 16+: "permission denied to terminate process").
_REFUSED = re.compile(r"must be a (member|superuser)|permission denied")
#: Eval-set seeds: a read task, and a write task (shop_cancel_old_pending: an UPDATE of orders).
READ, WRITE = 0, 6


@pytest.fixture(scope="module", params=["local", "docker"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """A running server of each backend, held for the module."""
    require_backend(request.param)
    hold_server(request.param)
    yield request.param
    release_server(request.param)


@contextlib.contextmanager
def _two_envs(backend: str) -> Iterator[tuple[Any, Any]]:
    """Two episodes side by side on one server (closed after the test)."""
    a, b = _env(backend), _env(backend)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _env(backend: str) -> Any:
    env = gym.make(
        "mtenvs/Sql-v0",
        dialect="postgres",
        postgres_backend=backend,
        eval_set=True,
        max_turns=100,
    )
    return env


def _sql(env: Any, query: str) -> str:
    obs, _, terminated, truncated, _ = env.step(f"```sql\n{query}\n```")
    assert not (terminated or truncated)  # a refused statement never ends the episode
    return str(obs)


def _cells(obs: str) -> list[str]:
    """The first result row of an observation's Markdown table."""
    lines = obs.splitlines()
    rule = next((i for i, line in enumerate(lines) if line.startswith("|---")), None)
    assert rule is not None, f"no result table in: {obs}"
    return [cell.strip() for cell in lines[rule + 1].strip("|").split("|")]


def _admin(backend: str) -> Any:
    """The server's superuser (what an operator, or a crash, can do)."""
    return connect("postgres", host=postgres.server_host(backend))


def _wait_for_ready_copies(env: Any) -> None:
    """Wait until the pool holds ready copies of the env's template (so a reset takes one)."""
    db = env.unwrapped.database
    pool = postgres._POOLS.get((os.getpid(), db.host))
    if pool is None:
        return
    deadline = time.monotonic() + 60
    while len(pool._ready.get(db.template, ())) < POOL_DEPTH:
        assert time.monotonic() < deadline, "the pool made no copies"
        time.sleep(0.05)


def _terminate_episode_backends(backend: str) -> int:
    """Terminate every session on an episode database (waits until they are gone)."""
    with _admin(backend) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname LIKE 'ep\\_%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _ok(obs: str) -> bool:
    return not obs.startswith("Error")


def test_an_episode_cannot_terminate_another(backend):
    with _two_envs(backend) as (a, b):
        a.reset(seed=READ)
        b.reset(seed=READ)
        _wait_for_ready_copies(b)
        (pid,) = _cells(_sql(b, "SELECT pg_backend_pid()"))
        obs = _sql(a, f"SELECT pg_terminate_backend({pid})")
        assert obs.startswith("Error") and _REFUSED.search(obs), obs
        # every other session at once (pooled copies included): refused as a whole
        obs = _sql(
            a,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
        )
        assert obs.startswith("Error") and _REFUSED.search(obs), obs
        assert _cells(_sql(b, "SELECT 41 + 1")) == ["42"]
        for _ in range(2):
            b.reset(seed=READ)
            assert _cells(_sql(b, "SELECT 41 + 1")) == ["42"]


def test_an_episode_cannot_read_another_sessions_query(backend):
    with _two_envs(backend) as (a, b):
        a.reset(seed=READ)
        b.reset(seed=READ)
        marker = "marker-6d1f0c"
        running = threading.Thread(
            target=_sql, args=(b, f"SELECT pg_sleep(1.2), '{marker}' AS secret")
        )
        running.start()
        try:
            time.sleep(0.4)
            seen = _sql(
                a,
                "SELECT pid, usename, query FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
            )
        finally:
            running.join()
        assert marker not in seen, seen
        # a role sees its own session's text: the check above is not vacuous
        assert "pg_stat_activity" in _sql(
            a, "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )


def test_an_episode_cannot_connect_to_another_database(backend):
    import psycopg

    with _two_envs(backend) as (a, b):
        a.reset(seed=READ)
        b.reset(seed=READ)
        role_a, db_a = _cells(_sql(a, "SELECT current_user, current_database()"))
        role_b, db_b = _cells(_sql(b, "SELECT current_user, current_database()"))
        assert role_a != role_b and db_a != db_b
        host = postgres.server_host(backend)
        template = b.unwrapped.database.template
        for dbname in (db_b, template, "postgres"):
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(host=host, dbname=dbname, user=role_a).close()
        psycopg.connect(host=host, dbname=db_a, user=role_a).close()  # its own: yes


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMP TABLE orders AS SELECT * FROM orders WHERE false",
        "CREATE TEMPORARY VIEW orders AS SELECT * FROM orders WHERE false",
        "CREATE TEMP TABLE scratch (a int)",
        "CREATE TABLE pg_temp.orders (id int)",
    ],
)
def test_temporary_tables_and_views_are_refused(backend, statement):
    env = _env(backend)
    try:
        for seed in (WRITE, READ):  # a write task runs in a READ WRITE transaction
            env.reset(seed=seed)
            obs = _sql(env, statement)
            assert obs.startswith("Error"), obs
            assert _cells(_sql(env, "SELECT COUNT(*) FROM orders")) == ["300"]
    finally:
        env.close()


def test_a_temporary_table_cannot_fool_the_write_checker(backend):
    env = _env(backend)
    try:
        env.reset(seed=WRITE)
        assert "UPDATE orders SET status = 'cancelled'" in env.unwrapped.task.gold_sql
        # the gold UPDATE's result as a temporary table shadowing the real one
        fake = (
            "CREATE TEMP TABLE orders AS SELECT id, customer_id, order_date, CASE WHEN "
            "status = 'pending' AND order_date < '2021-01-01' THEN 'cancelled' ELSE status "
            "END AS status FROM orders"
        )
        *_, terminated, _, info = env.step(f"<answer>{fake}</answer>")
        assert terminated and not info["success"]
        env.reset(seed=WRITE)
        *_, info = env.step(env.unwrapped.oracle_action())
        *_, info = env.step(env.unwrapped.oracle_action())
        assert info["success"]  # the real statement still passes
    finally:
        env.close()


def test_a_killed_connection_is_replaced(backend):
    env = _env(backend)
    try:
        env.reset(seed=READ)
        _wait_for_ready_copies(env)
        assert _terminate_episode_backends(backend) >= 1 + POOL_DEPTH
        assert _cells(_sql(env, "SELECT 41 + 1")) == ["42"]  # the episode's own connection
        for _ in range(POOL_DEPTH + 1):  # the dead ready copies, then fresh ones
            env.reset(seed=READ)
            assert _cells(_sql(env, "SELECT 41 + 1")) == ["42"]
        # an agent that kills its own session only loses that statement
        assert _sql(env, "SELECT pg_terminate_backend(pg_backend_pid())").startswith("Error")
        assert _cells(_sql(env, "SELECT 41 + 1")) == ["42"]
    finally:
        env.close()


def _messages(error: BaseException) -> str:
    """The message of ``error`` and of every exception chained to it."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None and len(seen) < 20:
        seen.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def test_no_exception_names_the_gold_sql(backend):
    import psycopg

    env = _env(backend)
    try:
        env.reset(seed=READ)
        gold = env.unwrapped.task.gold_sql
        _wait_for_ready_copies(env)
        own = env.unwrapped.database.name
        # the ready copies can no longer be reached: their sessions die and cannot reconnect
        with _admin(backend) as admin:
            names = [
                row[0]
                for row in admin.execute(
                    "SELECT datname FROM pg_database "
                    "WHERE datname LIKE 'ep\\_%%' AND datname <> %s",
                    (own,),
                )
            ]
            roles = {row[0] for row in admin.execute("SELECT rolname FROM pg_roles")}
            for name in names:
                for role in ("PUBLIC", "mtenvs_agent", name):
                    if role in roles or role == "PUBLIC":
                        # (a copy being dropped meanwhile: nothing to revoke)
                        with contextlib.suppress(psycopg.Error):
                            admin.execute(f"REVOKE CONNECT ON DATABASE {name} FROM {role}")
        _terminate_episode_backends(backend)
        try:
            for _ in range(POOL_DEPTH + 1):
                env.reset(seed=READ)
                assert _cells(_sql(env, "SELECT 41 + 1")) == ["42"]
        except Exception as e:
            text = _messages(e)
            assert gold not in text and transpile(gold, "postgres") not in text, text
            raise
        assert re.search(r"\bep_", env.unwrapped.database.name)
    finally:
        env.close()


def test_nothing_a_statement_sets_outlives_it(backend):
    env = _env(backend)
    try:
        env.reset(seed=WRITE)  # statements commit here
        for statement in (
            "SET search_path = ''",
            "SET DateStyle = 'German'",
            "SET ROLE mtenvs_agent",
            "ALTER ROLE CURRENT_USER SET search_path = ''",
        ):
            _sql(env, statement)
        # a new session (it killed its own): the settings stored on its role are gone too
        assert _sql(env, "SELECT pg_terminate_backend(pg_backend_pid())").startswith("Error")
        for _ in range(6):  # psycopg prepares a query it ran five times (the ROLLBACK)...
            _sql(env, "SELECT nope FROM orders")
        _sql(env, "DEALLOCATE ALL")  # ...which this would drop
        _sql(env, "SELECT nope FROM orders")
        user, count, path, style = _cells(
            _sql(
                env,
                "SELECT current_user, COUNT(*), current_setting('search_path'), "
                "current_setting('DateStyle') FROM orders",
            )
        )
        assert user.startswith("ep_") and count == "300"
        assert path == '"$user", public' and style.startswith("ISO")
    finally:
        env.close()
