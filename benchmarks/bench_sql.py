"""SQL benchmark: our ``run_sql`` step against a bare driver call of the same query.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sql.py            # --quick for a smoke run
    .venv/bin/python benchmarks/bench_sql.py --postgres  # also the PostgreSQL dialect

Two measurements, each interleaving the bare call and the step so a slow spell of a
shared machine hits both alike:

* **workload** (the target): every read question of the fixed eval set on its own
  episode database, with two queries each: its gold query (the answer an agent ends with)
  and the gold query of the next question on the same schema (a wrong answer, which costs
  the full partial-credit comparison). Reported: the median over those queries of
  step / bare, the 90th percentile and the share within 2×.
* **per class**: one query per class (a point lookup, a join, an aggregate with GROUP BY
  and HAVING, a window function, and an error) on the shop database, to show where the
  fixed cost of a step lands. A 3 µs SQLite point lookup is far below that cost.

* **bare**: ``sqlite3`` ``conn.execute(q).fetchall()`` (or ``psycopg`` ``cur.execute`` +
  ``fetchall`` on the env's own autocommit connection: one round trip) on the episode
  database;
* **step**: ``env.step`` with the query in a ```` ```sql ```` block, through ``gym.make``
  (its checker, order and time-limit wrappers): reply parsing, the guarded execution
  (authorizer and progress handler; on PostgreSQL the agent role, a read-only
  transaction and ``statement_timeout``, pipelined into one round trip), partial credit
  against the gold rows, the Markdown table of the observation, and the step info (state
  key). sqlglot runs only to explain an error.

It also times ``env.reset`` (a fresh database copy per episode, plus the gold query).
Target: the step's median within 2× of the bare call's; the fixed per-step cost is
reported as ``overhead``. Results go to ``benchmarks/results/bench_sql.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
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


def bench_workload(dialect: str, reps: int, backend: str = "auto") -> dict[str, Any]:
    """Step / bare over the eval set's read questions: each one's gold query and the next
    question's (see the module doc)."""
    from mtenvs.envs.sql.tasks import eval_set
    from mtenvs.envs.sql.verify import transpile

    kwargs = {"postgres_backend": backend} if dialect == "postgres" else {}
    env = gym.make("mtenvs/Sql-v0", dialect=dialect, eval_set=True, max_turns=10**6, **kwargs)
    tasks = [t for t in eval_set() if t.kind != "write"]
    rows = []
    for i, task in enumerate(tasks):
        env.reset(options={"task_id": task.task_id})
        bare = _bare_sqlite(env) if dialect == "sqlite" else _bare_postgres(env)
        peers = [t for t in tasks if t.schema == task.schema]
        other = peers[(peers.index(task) + 1) % len(peers)]
        for label, gold in (("own gold", task.gold_sql), ("other gold", other.gold_sql)):
            sql = gold if dialect == "sqlite" else transpile(gold, dialect)
            reply = f"```sql\n{sql}\n```"
            b, s = [], []
            for _ in range(reps):
                start = time.perf_counter_ns()
                bare(sql)
                b.append(time.perf_counter_ns() - start)
                start = time.perf_counter_ns()
                env.step(reply)
                s.append(time.perf_counter_ns() - start)
            bare_us, step_us = summarize_ns(b)["median_us"], summarize_ns(s)["median_us"]
            rows.append(
                {
                    "task": task.task_id,
                    "template": task.template,
                    "query": label,
                    "bare_us": bare_us,
                    "step_us": step_us,
                    "ratio": step_us / bare_us,
                }
            )
        if i % 20 == 0:
            print(f"  workload {dialect} {backend}: {i + 1}/{len(tasks)} questions", flush=True)
    env.close()
    ratios = sorted(r["ratio"] for r in rows)
    return {
        "dialect": dialect if dialect == "sqlite" else f"postgres ({backend})",
        "queries": len(rows),
        "median_bare_us": statistics.median(r["bare_us"] for r in rows),
        "median_step_us": statistics.median(r["step_us"] for r in rows),
        "median_ratio": statistics.median(ratios),
        "p90_ratio": ratios[int(0.9 * (len(ratios) - 1))],
        "within_2x": sum(r <= 2.0 for r in ratios) / len(ratios),
        "worst": sorted(rows, key=lambda r: -r["ratio"])[:5],
        "rows": rows,
    }


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
    reps = 5 if args.quick else 15
    workloads = [bench_workload("sqlite", reps)]
    workloads += [bench_workload("postgres", reps, backend) for backend in backends]
    rows = bench("sqlite", rounds, per_round)
    for backend in backends:
        rows += bench("postgres", rounds, per_round, backend)
    n_resets = 20 if args.quick else 60
    resets = [bench_reset("sqlite", n_resets)]
    for backend in backends:
        for pool in (False, True):
            resets.append(bench_reset("postgres", n_resets, backend, pool))
    print_table(
        "eval-set workload: run_sql step vs bare driver call (target: within 2x)",
        [
            ("dialect", "left"),
            ("queries", "right"),
            ("bare", "right"),
            ("step", "right"),
            ("median ratio", "right"),
            ("p90 ratio", "right"),
            ("within 2x", "right"),
        ],
        [
            [
                w["dialect"],
                str(w["queries"]),
                fmt_us(w["median_bare_us"]),
                fmt_us(w["median_step_us"]),
                fmt_ratio(w["median_ratio"]),
                fmt_ratio(w["p90_ratio"]),
                f"{w['within_2x']:.0%}",
            ]
            for w in workloads
        ],
    )
    print_table(
        "per query class: run_sql step vs bare driver call (median µs)",
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
            "workload": workloads,
            "rows": rows,
            "resets": resets,
        },
    )


if __name__ == "__main__":
    main()
