"""One interface over the episode database of either dialect.

:class:`SqliteDatabase` (embedded, the default) and
:class:`~mtenvs.envs.sql.postgres.PostgresDatabase` both offer ``execute`` (guarded, never
raising for bad SQL), ``state`` (every table's rows as a multiset), ``describe``,
``snapshot``/``restore`` and ``close``; :func:`open_database` picks one by dialect. The env
only talks to this interface.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Protocol

from mtenvs.envs.sql.data import source_database
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult, describe_table, quote_identifier
from mtenvs.envs.sql.limits import SQLITE_HEAP
from mtenvs.envs.sql.schemas import Schema, get_schema
from mtenvs.envs.sql.sqlite_worker import SqliteWorker, WorkerDatabase
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


_IMAGES: dict[tuple[str, int, int], bytes] = {}
_IMAGES_LOCK = threading.Lock()
_IMAGE_CACHE_SIZE = 16


def source_image(schema_name: str, scale: int, seed: int) -> bytes:
    """The seeded source database's file image (built and serialised once per process)."""
    key = (schema_name, scale, seed)
    with _IMAGES_LOCK:
        image = _IMAGES.get(key)
        if image is None:
            source = source_database(schema_name, scale, seed)
            with SQLITE_HEAP.exempt():
                image = _IMAGES[key] = source.serialize()
            while len(_IMAGES) > _IMAGE_CACHE_SIZE:
                del _IMAGES[next(iter(_IMAGES))]
        return image


class SqliteDatabase(WorkerDatabase):
    """A file copy of the seeded SQLite database, whose agent statements run in
    ``worker`` (:mod:`~mtenvs.envs.sql.sqlite_worker`; None: a worker of its own)."""

    def __init__(
        self, schema_name: str, scale: int, seed: int, worker: SqliteWorker | None = None
    ) -> None:
        self.schema = get_schema(schema_name)
        self.key = (schema_name, scale, seed)
        super().__init__(source_image(*self.key), worker)

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


def open_database(
    dialect: str,
    schema_name: str,
    scale: int,
    seed: int,
    postgres_backend: str = "auto",
    worker: SqliteWorker | None = None,
) -> Database:
    """A fresh episode database of ``dialect`` (``sqlite`` or ``postgres``; the latter's
    server from ``postgres_backend``, see :mod:`mtenvs.envs.sql.pg_server`; the former's
    statements run in ``worker``)."""
    if dialect == "postgres":
        from mtenvs.envs.sql.postgres import PostgresDatabase

        return PostgresDatabase(schema_name, scale, seed, backend=postgres_backend)
    return SqliteDatabase(schema_name, scale, seed, worker)


#: (before, after) states of gold write statements, by (dialect, schema, scale, seed, sql).
_GOLD_STATES: dict[tuple[object, ...], tuple[Counter[Any], Counter[Any]]] = {}
_GOLD_CACHE_SIZE = 64


def gold_write_states(
    dialect: str,
    schema_name: str,
    scale: int,
    seed: int,
    sql: str,
    postgres_backend: str = "auto",
    worker: SqliteWorker | None = None,
) -> tuple[Counter[Any], Counter[Any]]:
    """The database's state before and after the gold write ``sql`` (cached per process)."""
    key = (dialect, schema_name, scale, seed, sql)
    if key not in _GOLD_STATES:
        copy = open_database(dialect, schema_name, scale, seed, postgres_backend, worker)
        try:
            before = copy.state()
            copy.execute(sql, allow_writes=True, timeout_s=60.0)
            _GOLD_STATES[key] = (before, copy.state())
        finally:
            copy.close()
        while len(_GOLD_STATES) > _GOLD_CACHE_SIZE:
            del _GOLD_STATES[next(iter(_GOLD_STATES))]
    return _GOLD_STATES[key]
