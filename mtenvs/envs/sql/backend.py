"""One interface over the episode database of either dialect.

:class:`SqliteDatabase` (embedded, the default) and
:class:`~mtenvs.envs.sql.postgres.PostgresDatabase` both offer ``execute`` (guarded, never
raising for bad SQL), ``state`` (every table's rows as a multiset), ``describe``,
``snapshot``/``restore`` and ``close``; :func:`open_database` picks one by dialect. The env
only talks to this interface.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from mtenvs.envs.sql.data import episode_database
from mtenvs.envs.sql.engine import (
    COUNT_CAP,
    QueryResult,
    describe_table,
    execute,
    quote_identifier,
    release_guards,
)
from mtenvs.envs.sql.schemas import Schema, get_schema
from mtenvs.envs.sql.verify import normalize_row

__all__ = ["Database", "SqliteDatabase", "gold_write_states", "open_database"]


class Database(Protocol):
    """What the SQL envs need from an episode database."""

    schema: Schema

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult: ...

    def state(self) -> Counter[Any]: ...

    def describe(self, table: str) -> str: ...

    def snapshot(self) -> Any: ...

    def restore(self, image: Any) -> None: ...

    def close(self) -> None: ...


class SqliteDatabase:
    """An in-memory copy of the seeded SQLite database (SQLite backup API)."""

    def __init__(self, schema_name: str, scale: int, seed: int) -> None:
        self.schema = get_schema(schema_name)
        self.key = (schema_name, scale, seed)
        self.conn = episode_database(*self.key)

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult:
        return execute(
            self.conn, sql, allow_writes=allow_writes, timeout_s=timeout_s, count_cap=count_cap
        )

    def state(self) -> Counter[Any]:
        out: Counter[Any] = Counter()
        for table in self.schema.table_names:
            out.update(
                (table, normalize_row(r))
                for r in self.conn.execute(f"SELECT * FROM {quote_identifier(table)}")
            )
        return out

    def describe(self, table: str) -> str:
        return describe_table(self.conn, table)

    def snapshot(self) -> bytes:
        """The database file image (``sqlite3`` ``serialize``)."""
        release_guards(self.conn)  # serialize reads pages through SQL the guards deny
        return self.conn.serialize()

    def restore(self, image: Any) -> None:
        self.conn.close()
        self.conn = episode_database(*self.key)
        self.conn.deserialize(image)

    def close(self) -> None:
        self.conn.close()


def open_database(
    dialect: str, schema_name: str, scale: int, seed: int, postgres_backend: str = "auto"
) -> Database:
    """A fresh episode database of ``dialect`` (``sqlite`` or ``postgres``; the latter's
    server from ``postgres_backend``, see :mod:`mtenvs.envs.sql.pg_server`)."""
    if dialect == "postgres":
        from mtenvs.envs.sql.postgres import PostgresDatabase

        return PostgresDatabase(schema_name, scale, seed, backend=postgres_backend)
    return SqliteDatabase(schema_name, scale, seed)


#: (before, after) states of gold write statements, by (dialect, schema, scale, seed, sql).
_GOLD_STATES: dict[tuple[object, ...], tuple[Counter[Any], Counter[Any]]] = {}
_GOLD_CACHE_SIZE = 64


def gold_write_states(
    dialect: str, schema_name: str, scale: int, seed: int, sql: str, postgres_backend: str = "auto"
) -> tuple[Counter[Any], Counter[Any]]:
    """The database's state before and after the gold write ``sql`` (cached per process)."""
    key = (dialect, schema_name, scale, seed, sql)
    if key not in _GOLD_STATES:
        copy = open_database(dialect, schema_name, scale, seed, postgres_backend)
        try:
            before = copy.state()
            copy.execute(sql, allow_writes=True, timeout_s=60.0)
            _GOLD_STATES[key] = (before, copy.state())
        finally:
            copy.close()
        while len(_GOLD_STATES) > _GOLD_CACHE_SIZE:
            del _GOLD_STATES[next(iter(_GOLD_STATES))]
    return _GOLD_STATES[key]
