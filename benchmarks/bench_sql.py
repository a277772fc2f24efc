"""SQL benchmark: our ``run_sql`` step against a bare driver call of the same query.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sql.py            # --quick for a smoke run
    .venv/bin/python benchmarks/bench_sql.py --postgres  # also the PostgreSQL dialect

For one query per class (a point lookup, a join, an aggregate with GROUP BY and HAVING, a
window function, and an error) on the same database, it times, interleaved in rounds so a
slow spell hits every row alike:

* **bare**: ``sqlite3`` ``conn.execute(q).fetchall()`` (or ``psycopg`` ``cur.execute`` +
  ``fetchall`` on the env's own autocommit connection: one round trip) on the episode
  database;
* **step**: ``env.step`` with the query in a ```` ```sql ```` block, through ``gym.make``
  (its checker, order and time-limit wrappers): reply parsing, the guarded execution
  (authorizer and progress handler / agent role, read-only transaction and
  ``statement_timeout``: three round trips), partial credit against the gold rows, the
  Markdown table of the observation, and the step info (state key). sqlglot runs only to
  explain an error.

It also times ``env.reset`` (a fresh database copy per episode, plus the gold query).
Target: the step's median within 2× of the bare call's; the fixed per-step cost is
reported as ``overhead``. Results go to ``benchmarks/results/bench_sql.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
from _common import (
    fmt_ratio,
    fmt_us,
    machine_info,
    package_versions,
    print_table,
    summarize_ns,
    utc_timestamp,
    write_json,
)

import mtenvs  # noqa: F401

QUERIES = {
    "point lookup": "SELECT * FROM customers WHERE id = 17",
    "join": "SELECT o.id, o.order_date, c.name FROM orders o JOIN customers c ON "
    "c.id = o.customer_id WHERE c.city = 'Paris'",
    "aggregate": "SELECT c.id, c.name, COUNT(*) AS n FROM customers c JOIN orders o ON "
    "o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id "
    "GROUP BY c.id, c.name HAVING COUNT(*) > 3",
    "window": "SELECT id, price, RANK() OVER (PARTITION BY category ORDER BY price DESC) "
    "FROM products",
    "error": "SELECT nope FROM customers",
}


def _bare_sqlite(env: Any) -> Any:
    conn: sqlite3.Connection = env.unwrapped.database.conn

    def run(sql: str) -> None:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(sql).fetchall()

    return run


def _bare_postgres(env: Any) -> Any:
    import psycopg

    conn = env.unwrapped.database._conn

    def run(sql: str) -> None:
        try:
            with conn.cursor() as cur:
                cur.execute(sql.encode())
                cur.fetchall()
        except psycopg.Error:
            pass

    return run


def bench_reset(dialect: str, n: int, backend: str = "auto", pool: bool = True) -> dict[str, Any]:
    """``env.reset`` (fresh database copy, connection and gold query) over ``n`` seeds, with
    three ``run_sql`` turns between resets (the time a background copy pool has)."""
    from mtenvs.envs.sql import postgres

    postgres.COPY_POOL = pool
    kwargs = {"postgres_backend": backend} if dialect == "postgres" else {}
    env = gym.make("mtenvs/Sql-v0", dialect=dialect, schema="shop", **kwargs)
    env.reset(seed=0)  # builds the source / template database once
    samples = []
    for seed in range(1, n + 1):
        start = time.perf_counter_ns()
        env.reset(seed=seed)
        samples.append(time.perf_counter_ns() - start)
        for _ in range(3):
            env.step(f"```sql\n{QUERIES['join']}\n```")
    env.close()
    postgres.COPY_POOL = True
    name = (
        dialect if dialect == "sqlite" else f"postgres ({backend}, pool {'on' if pool else 'off'})"
    )
    return {"dialect": name, "reset_us": summarize_ns(samples)}


def bench(dialect: str, rounds: int, per_round: int, backend: str = "auto") -> list[dict[str, Any]]:
    kwargs = {"postgres_backend": backend} if dialect == "postgres" else {}
    env = gym.make("mtenvs/Sql-v0", dialect=dialect, schema="shop", max_turns=10**6, **kwargs)
    env.reset(seed=0)
    bare = _bare_sqlite(env) if dialect == "sqlite" else _bare_postgres(env)
    samples: dict[tuple[str, str], list[int]] = {}
    for _ in range(rounds):
        for name, sql in QUERIES.items():
            reply = f"```sql\n{sql}\n```"
            for _ in range(per_round):
                start = time.perf_counter_ns()
                bare(sql)
                samples.setdefault((name, "bare"), []).append(time.perf_counter_ns() - start)
                start = time.perf_counter_ns()
                env.step(reply)
                samples.setdefault((name, "step"), []).append(time.perf_counter_ns() - start)
    env.close()
    rows = []
    for name in QUERIES:
        b, s = summarize_ns(samples[(name, "bare")]), summarize_ns(samples[(name, "step")])
        rows.append(
            {
                "dialect": dialect if dialect == "sqlite" else f"postgres ({backend})",
                "query": name,
                "bare_us": b,
                "step_us": s,
                "ratio": s["median_us"] / b["median_us"],
                "overhead_us": s["median_us"] - b["median_us"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    rounds, per_round = (3, 10) if args.quick else (10, 50)
    backends: list[str] = []
    if args.postgres:
        from mtenvs.envs.sql.postgres import docker_problem

        backends = ["local"]
        if docker_problem() is None:
            backends.append("docker")
        else:
            print(f"postgres docker backend skipped: {docker_problem()}")
    rows = bench("sqlite", rounds, per_round)
    for backend in backends:
        rows += bench("postgres", rounds, per_round, backend)
    n_resets = 20 if args.quick else 60
    resets = [bench_reset("sqlite", n_resets)]
    for backend in backends:
        for pool in (False, True):
            resets.append(bench_reset("postgres", n_resets, backend, pool))
    print_table(
        "run_sql step vs bare driver call (median µs)",
        [
            ("dialect", "left"),
            ("query", "left"),
            ("bare", "right"),
            ("step", "right"),
            ("overhead", "right"),
            ("ratio", "right"),
        ],
        [
            [
                r["dialect"],
                r["query"],
                fmt_us(r["bare_us"]["median_us"]),
                fmt_us(r["step_us"]["median_us"]),
                fmt_us(r["overhead_us"]),
                fmt_ratio(r["ratio"]),
            ]
            for r in rows
        ],
    )
    print_table(
        "env.reset (median µs)",
        [("dialect", "left"), ("median", "right"), ("p90", "right")],
        [
            [r["dialect"], fmt_us(r["reset_us"]["median_us"]), fmt_us(r["reset_us"]["p90_us"])]
            for r in resets
        ],
    )
    name = "bench_sql_quick.json" if args.quick else "bench_sql.json"
    write_json(
        Path(__file__).parent / "results" / name,
        {
            "benchmark": "sql",
            "timestamp": utc_timestamp(),
            "machine": machine_info(),
            "versions": package_versions(["mtenvs", "sqlglot", "psycopg", "gymnasium"]),
            "rounds": rounds,
            "per_round": per_round,
            "rows": rows,
            "resets": resets,
        },
    )


if __name__ == "__main__":
    main()
