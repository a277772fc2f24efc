"""SQL benchmark: our ``run_sql`` step against a bare driver call of the same query.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sql.py            # --quick for a smoke run
    .venv/bin/python benchmarks/bench_sql.py --postgres  # also the PostgreSQL dialect

For each query of a fixed mix (a point lookup, a filtered scan, a 3-table join with GROUP
BY and HAVING, a window function, an error) on the same database, it times, interleaved
in rounds so a slow spell hits every row alike:

* **bare**: ``sqlite3`` ``conn.execute(q).fetchall()`` (or ``psycopg`` ``cur.execute`` +
  ``fetchall`` in one transaction) on a copy of the episode database;
* **step**: ``env.step`` with the query in a ```` ```sql ```` block, through ``gym.make``:
  reply parsing, the sqlglot statement check, the guarded execution (authorizer, progress
  handler / role and ``statement_timeout``), partial credit against the gold rows, and the
  Markdown table of the observation.

The verdict compares the medians (target: the step within 2× of the bare call plus a fixed
per-step overhead, reported separately). Results go to ``benchmarks/results/bench_sql.json``.
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
    "point": "SELECT * FROM customers WHERE id = 17",
    "scan": "SELECT id, name, email FROM customers WHERE city = 'Paris' AND email IS NULL",
    "join_having": "SELECT c.id, c.name, COUNT(*) AS n FROM customers c JOIN orders o ON "
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
        conn.rollback()

    return run


def bench(dialect: str, rounds: int, per_round: int) -> list[dict[str, Any]]:
    env = gym.make("mtenvs/Sql-v0", dialect=dialect, schema="shop", max_turns=10**6)
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
                "dialect": dialect,
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
    rows = bench("sqlite", rounds, per_round)
    if args.postgres:
        rows += bench("postgres", rounds, per_round)
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
        },
    )


if __name__ == "__main__":
    main()
