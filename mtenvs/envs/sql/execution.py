"""What the SQL envs run on an episode's database, and how its output reads.

The gold query of a read request; the exploring tools (``list_tables``, ``describe``,
``sample``) rendered as observation text; the agent's SQL under the database's guards, a
refusal or failure explained with sqlglot; and the checks of a submitted statement (the
env's own, or a Spider/BIRD dataset's official one). The env keeps the bookkeeping
(queries run, writes made, partial credit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from mtenvs.core.parsing import ToolCall
from mtenvs.envs.sql import official
from mtenvs.envs.sql.backend import Database, gold_write_states, open_database
from mtenvs.envs.sql.dataset import DatasetDatabase, SqlDataset
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult, format_table, quote_identifier
from mtenvs.envs.sql.limits import SQLITE_HEAP
from mtenvs.envs.sql.schemas import Schema
from mtenvs.envs.sql.sqlite_worker import SqliteWorker
from mtenvs.envs.sql.tasks import SqlTask
from mtenvs.envs.sql.verify import (
    GoldResult,
    check_statement,
    is_ordered,
    overlap_score,
    results_match,
    state_delta_score,
    transpile,
)
from mtenvs.error import InvalidArgumentError

__all__ = [
    "EXPLORE_TOOLS",
    "GOLD_TIMEOUT_S",
    "QueryRunner",
    "check_dataset_read",
    "check_write",
    "gold_rows",
    "in_dialect",
]

#: The tools that only look at the database; their output earns no credit.
EXPLORE_TOOLS: Final = ("list_tables", "describe", "sample")
#: Time limit of a gold query (seconds).
GOLD_TIMEOUT_S: Final = 60.0
#: Database errors about a missing or ambiguous name (SQLite, PostgreSQL): nothing for
#: sqlglot to add when the statement is a SELECT.
_SELF_EXPLAINED: Final = (
    "no such column",
    "no such table",
    "no such function",
    "ambiguous column",
    "does not exist",
    "is ambiguous",
)


def in_dialect(sql: str, dialect: str) -> str:
    """Gold SQL (written for SQLite) in ``dialect``."""
    return sql if dialect == "sqlite" else transpile(sql, dialect)


def gold_rows(db: Database, task: SqlTask, sql: str, count_cap: int) -> tuple[tuple[Any, ...], ...]:
    """The rows of a read task's gold query ``sql`` (``task.gold_sql`` in ``db``'s dialect)."""
    gold = db.execute(sql, allow_writes=False, timeout_s=GOLD_TIMEOUT_S, count_cap=count_cap)
    if not gold.ok:
        raise InvalidArgumentError(
            f"The gold SQL of task {task.task_id} fails on database {task.schema!r}: "
            f"{gold.error} (SQL: {task.gold_sql[:300]})"
        )
    return gold.rows


@dataclass(frozen=True)
class QueryRunner:
    """A database under the env's limits: ``dialect`` (for sqlglot's explanations) and
    the time limit of one statement."""

    db: Database
    dialect: str
    timeout_s: float

    def explore(self, schema: Schema, call: ToolCall, max_rows: int) -> str:
        """The observation text of a ``list_tables``, ``describe`` or ``sample`` call
        (``max_rows`` rows of a sample shown)."""
        if call.name == "list_tables":
            counts = [f"{t}: {self._count(t)} rows" for t in schema.table_names]
            return "Tables:\n" + "\n".join(counts)
        table = str(call.arguments["table"])
        if table not in schema.table_names:
            return (
                f"Error: unknown table {table[:60]!r}; the tables are "
                f"{', '.join(schema.table_names)}."
            )
        if call.name == "describe":
            return self.db.describe(table)
        result = self.db.execute(
            f"SELECT * FROM {quote_identifier(table)} LIMIT {call.arguments['n']:d}",
            allow_writes=False,
            timeout_s=self.timeout_s,
        )
        return format_table(result, max_rows)

    def _count(self, table: str) -> object:
        rows = self.db.execute(
            f"SELECT COUNT(*) FROM {quote_identifier(table)}", allow_writes=False, timeout_s=10.0
        ).rows
        return rows[0][0] if rows else "?"

    def guarded(self, sql: str, *, writes: bool, count_cap: int = COUNT_CAP) -> QueryResult:
        """Run ``sql`` under the database's guards; a failure is explained with sqlglot
        (syntax errors with their position, statements the task does not allow).

        sqlglot runs only when the database refuses or fails, so a successful query costs
        no parse (about 200 µs per query otherwise), and not for a well-formed read that
        names something missing (the database's message says all there is)."""
        result = self.db.execute(
            sql, allow_writes=writes, timeout_s=self.timeout_s, count_cap=count_cap
        )
        if result.ok or result.limit is not None:  # a limit's message says it all
            return result
        error = result.error or ""
        if any(p in error for p in _SELF_EXPLAINED) and sql.lstrip()[:6].lower() == "select":
            return result
        problem = check_statement(sql, allow_writes=writes, dialect=self.dialect)
        return result if problem is None else replace(result, error=problem)

    def check_read(
        self, sql: str, gold: GoldResult, gold_sql: str, count_cap: int
    ) -> tuple[bool, float, str | None]:
        """A submitted query against the gold rows of ``gold_sql``: (correct, partial
        credit, error). Row order counts only when ``gold_sql`` orders."""
        result = self.guarded(sql, writes=False, count_cap=count_cap)
        if not result.ok or result.capped:
            return False, 0.0, result.error
        correct = results_match(gold, result.rows, ordered=is_ordered(gold_sql))
        return correct, overlap_score(gold, result.rows), result.error

    def check_official(
        self,
        fmt: official.DatasetFormat,
        task: SqlTask,
        sql: str,
        count_cap: int,
        gold: tuple[tuple[Any, ...], ...] | None = None,
    ) -> tuple[bool, float, str | None]:
        """A submitted query judged as ``fmt``'s official evaluation judges it
        (:mod:`mtenvs.envs.sql.official`): (correct, partial credit, error). ``gold``: the
        rows of ``task.gold_sql`` on this database when already read (Spider reads the
        gold statement again when its preparation changes it)."""
        pred_sql, gold_sql = official.statements(fmt, sql, task.gold_sql)
        if gold is None or gold_sql != task.gold_sql:
            read = self.db.execute(
                gold_sql, allow_writes=False, timeout_s=GOLD_TIMEOUT_S, count_cap=count_cap
            )
            if not read.ok:  # never the gold SQL itself: exception texts reach logs
                source = getattr(self.db, "source", task.schema)
                raise InvalidArgumentError(
                    f"The gold SQL of task {task.task_id} fails on database {source}: {read.error}"
                )
            gold = read.rows
        result = self.guarded(pred_sql, writes=False, count_cap=count_cap)
        if not result.ok or result.capped:
            return False, 0.0, result.error
        correct = official.results_match(fmt, gold, result.rows, gold_sql)
        return correct, overlap_score(gold, result.rows), None


def check_dataset_read(
    runner: QueryRunner,
    dataset: SqlDataset,
    task: SqlTask,
    sql: str,
    gold: tuple[tuple[Any, ...], ...],
    count_cap: int,
    worker: SqliteWorker,
) -> tuple[bool, float, str | None]:
    """A submission to a Spider/BIRD question (``gold``: its gold rows on the episode's
    database), checked officially on the episode's database, then on each test-suite
    database of the question's (a fresh copy each, its statements in ``worker``, under
    ``runner``'s time limit) until one disagrees: (correct, partial credit where it was decided,
    error)."""
    correct, score, error = runner.check_official(dataset.format, task, sql, count_cap, gold)
    for path in dataset.suites.get(task.schema, ()) if correct else ():
        with SQLITE_HEAP.exempt():  # a copy may be larger than a statement's heap limit
            db = DatasetDatabase(path, dataset.schemas[task.schema], worker)
        try:
            suite = replace(runner, db=db)
            correct, score, error = suite.check_official(dataset.format, task, sql, count_cap)
        finally:
            db.close()
        if not correct:
            break
    return correct, score, error


def check_write(
    task: SqlTask,
    sql: str,
    *,
    scale: int,
    dialect: str,
    postgres_backend: str,
    timeout_s: float,
    worker: SqliteWorker | None = None,
) -> tuple[bool, float, str | None]:
    """Apply a submitted change to a fresh copy of the original database and compare every
    table with the gold statement's result: (correct, partial credit, error). SQLite
    statements run in ``worker`` (the env's)."""
    before, want = gold_write_states(
        dialect,
        task.schema,
        scale,
        task.db_seed,
        in_dialect(task.gold_sql, dialect),
        postgres_backend,
        worker,
    )
    fresh = open_database(dialect, task.schema, scale, task.db_seed, postgres_backend, worker)
    try:
        result = QueryRunner(fresh, dialect, timeout_s).guarded(sql, writes=True)
        if not result.ok:
            return False, 0.0, result.error
        got = fresh.state()
    finally:
        fresh.close()
    return want == got, state_delta_score(before, want, got), None
