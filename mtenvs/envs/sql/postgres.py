"""PostgreSQL for ``dialect="postgres"``: a private server, template databases, guarded queries.

The server comes from :mod:`mtenvs.envs.sql.pg_server` (``postgres_backend``).

Each (schema, scale, seed) is loaded once into a template database; an episode gets
``CREATE DATABASE … TEMPLATE`` of it. Agents connect as the role ``mtenvs_agent`` (no
superuser, no CREATE, only SELECT/INSERT/UPDATE/DELETE on the tables), so file access
(``COPY … FROM '/etc/passwd'``, ``pg_read_file``), DDL and role changes fail in the server
itself; ``statement_timeout`` bounds time and read tasks run in ``READ ONLY`` transactions.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from typing import Any, Final

from mtenvs.envs.sql.data import generate_rows
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult
from mtenvs.envs.sql.pg_pool import CopyPool
from mtenvs.envs.sql.pg_server import (
    POSTGRES_BACKENDS,
    SERVER_LOCK,
    PostgresUnavailableError,
    docker_problem,
    hold_server,
    on_server_stop,
    release_server,
    resolve_backend,
    server_host,
)
from mtenvs.envs.sql.pg_server import connect as _connect
from mtenvs.envs.sql.schemas import get_schema
from mtenvs.envs.sql.verify import normalize_row

__all__ = [
    "AGENT_ROLE",
    "POSTGRES_BACKENDS",
    "PostgresDatabase",
    "PostgresUnavailableError",
    "docker_problem",
    "resolve_backend",
    "server_host",
]

AGENT_ROLE: Final = "mtenvs_agent"
#: Whether servers this process owns make episode databases ahead
#: (:mod:`mtenvs.envs.sql.pg_pool`); ``False`` copies in ``reset`` (the benchmark's baseline).
COPY_POOL = True
#: Loaded templates by (host, name), guarded by the server lock.
_TEMPLATES: set[tuple[str, str]] = set()
#: Background copy pools of the servers this process owns, by (pid, host): a forked child
#: must not hand out its parent's copies.
_POOLS: dict[tuple[int, str], CopyPool] = {}


def _forget(host: str) -> None:
    """A server stopped: its templates and copies are gone."""
    with SERVER_LOCK:
        _TEMPLATES.difference_update({t for t in _TEMPLATES if t[0] == host})
        pool = _POOLS.pop((os.getpid(), host), None)
    if pool is not None:
        pool.close()


on_server_stop(_forget)


def _pool(kind: str, host: str) -> CopyPool | None:
    """The copy pool of a server this process owns (none for ``MTENVS_POSTGRES_HOST``:
    ready copies left there would outlive us)."""
    if not COPY_POOL or kind not in ("docker", "local"):
        return None
    key = (os.getpid(), host)
    with SERVER_LOCK:
        pool = _POOLS.get(key)
        if pool is None or not pool.alive:
            pool = _POOLS[key] = CopyPool(
                lambda: _connect("postgres", host=host),
                lambda name: _connect(name, AGENT_ROLE, host=host),
            )
        return pool


def _pg_type(sql_type: str) -> str:
    # Exact decimals: ROUND(x, 2) needs numeric in PostgreSQL, and data has <= 2 decimals.
    return "NUMERIC" if sql_type == "REAL" else sql_type


def template_database(schema_name: str, scale: int, seed: int, host: str) -> str:
    """Name of the loaded template database of (schema, scale, seed) on the server at
    ``host``, created once."""
    name = f"mt_{schema_name}_{scale}_{seed}"
    with SERVER_LOCK:
        if (host, name) in _TEMPLATES:
            return name
        schema = get_schema(schema_name)
        with _connect("postgres", host=host) as admin:
            if (
                admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (AGENT_ROLE,)).fetchone()
                is None
            ):
                admin.execute(f"CREATE ROLE {AGENT_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
        with _connect(name, autocommit=False, host=host) as conn:
            for table in schema.tables:
                ddl = table.ddl()
                for column in table.columns:
                    ddl = ddl.replace(
                        f"  {column.name} {column.type}",
                        f"  {column.name} {_pg_type(column.type)}",
                        1,
                    )
                conn.execute(ddl)
            for table_name, rows in generate_rows(schema, scale, seed).items():
                cols = ", ".join(schema.table(table_name).column_names)
                with conn.cursor().copy(f"COPY {table_name} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.execute(f"GRANT USAGE ON SCHEMA public TO {AGENT_ROLE}")
            conn.execute(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                f"TO {AGENT_ROLE}"
            )
            conn.commit()
        _TEMPLATES.add((host, name))
        return name


def _pipeline(conn: Any, commands: tuple[bytes, ...]) -> list[Any]:
    """Send ``commands`` (one statement each, no parameters) in one libpq pipeline with
    one sync and return each one's last result (``None`` for one the server skipped after
    an earlier failure)."""
    pg = conn.pgconn
    with conn.lock:
        pg.enter_pipeline_mode()
        try:
            for command in commands:
                pg.send_query_params(command, None)
            pg.pipeline_sync()
            results = conn.wait(_collect(pg))
        finally:
            if pg.pipeline_status:
                with contextlib.suppress(Exception):  # a lost server: the caller reconnects
                    pg.exit_pipeline_mode()
    return results


def _collect(pg: Any) -> Any:
    """psycopg generator: flush the pipeline, then each command's last result up to the
    sync (``None`` for a command the server skipped), in one wait of the connection."""
    from psycopg import generators
    from psycopg.pq import ExecStatus

    yield from generators.send(pg)
    results: list[Any] = []
    while True:
        batch = yield from generators.fetch_many(pg)
        if batch and batch[-1].status == ExecStatus.PIPELINE_SYNC:
            return results
        last = batch[-1] if batch else None
        skipped = last is not None and last.status == ExecStatus.PIPELINE_ABORTED
        results.append(None if skipped else last)


def _result_error(result: Any) -> str:
    """The server's message for a failed pipeline command (a timeout named as such)."""
    from psycopg.pq import DiagnosticField

    if result is None:
        return "the statement was not run."
    if result.error_field(DiagnosticField.SQLSTATE) == b"57014":
        return "query cancelled: it ran past the time limit."
    message = result.error_field(DiagnosticField.MESSAGE_PRIMARY) or result.error_message
    return bytes(message).decode("utf-8", "replace").strip() or "the statement failed."


def _message(error: Exception) -> str:
    return getattr(getattr(error, "diag", None), "message_primary", None) or str(error)


class PostgresDatabase:
    """One episode's database: a copy of the template, queried as the agent role.

    It holds its server (``backend``, see :data:`POSTGRES_BACKENDS`) while open."""

    def __init__(
        self,
        schema_name: str,
        scale: int,
        seed: int,
        source: str | None = None,
        backend: str = "auto",
    ) -> None:
        self.schema = get_schema(schema_name)
        self.backend = resolve_backend(backend)
        self.host = hold_server(self.backend)
        self._conn: Any = None
        self._loader: Any = None  # psycopg's row loader for the connection, kept
        self._pool = _pool(self.backend, self.host)
        try:
            self.template = source or template_database(schema_name, scale, seed, self.host)
            ready = self._pool.take(self.template) if self._pool and not source else None
            if ready is not None:
                self.name, self._conn = ready
            else:
                self.name = f"ep_{uuid.uuid4().hex[:16]}"
                with SERVER_LOCK, _connect("postgres", host=self.host) as admin:
                    admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {self.template}")
                self._conn = _connect(self.name, AGENT_ROLE, host=self.host)
        except BaseException:
            release_server(self.backend)
            raise

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult:
        """Run one statement as the agent role; never raises for bad SQL.

        One round trip: a libpq pipeline of ``BEGIN READ ONLY`` (``READ WRITE`` for write
        tasks), ``SET LOCAL statement_timeout``, the statement and ``ROLLBACK`` (``COMMIT``)
        with one sync. Each command goes through the extended protocol, which takes exactly
        one statement (no ``SELECT 1; DROP …``). After a failure the server skips the rest
        of the pipeline and leaves the transaction aborted; one more round trip then rolls
        it back."""

        import psycopg
        from psycopg.pq import ExecStatus

        start = time.perf_counter()
        if "\x00" in sql:  # libpq takes C strings
            return QueryResult(error="the statement holds a NUL character.")
        conn = self._conn
        timeout_ms = b"%d" % max(1, int(timeout_s * 1000))
        commands = (
            b"BEGIN READ WRITE" if allow_writes else b"BEGIN READ ONLY",
            b"SET LOCAL statement_timeout = " + timeout_ms,
            sql.encode(),
            b"COMMIT" if allow_writes else b"ROLLBACK",
        )
        try:
            results = _pipeline(conn, commands)
        except (psycopg.Error, ValueError, OverflowError) as e:  # a NUL byte, a lost server
            self._rollback()
            return QueryResult(error=_message(e), elapsed_s=time.perf_counter() - start)
        done = (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK)
        failed = next((r for r in results if r is None or r.status not in done), False)
        if failed is not False or len(results) != len(commands):
            self._rollback()  # the transaction is left aborted
            return QueryResult(
                error=_result_error(failed or None), elapsed_s=time.perf_counter() - start
            )
        result = results[2]
        columns = tuple((result.fname(i) or b"").decode() for i in range(result.nfields))
        shown = min(result.ntuples, count_cap + 1)
        rows: list[tuple[Any, ...]] = []
        if columns and shown:
            loader = self._loader
            if loader is None or loader.connection is not conn:  # one per connection
                loader = self._loader = psycopg.adapt.Transformer(conn)
            loader.set_pgresult(result)
            rows = loader.load_rows(0, shown, tuple)
            loader.set_pgresult(None)  # do not keep a large result alive
        return QueryResult(
            columns=columns,
            rows=tuple(rows[:count_cap]),
            capped=shown > count_cap,
            changes=0 if columns else max(result.command_tuples or 0, 0),
            elapsed_s=time.perf_counter() - start,
        )

    def _rollback(self) -> None:
        import psycopg

        with contextlib.suppress(psycopg.Error):  # a broken connection: nothing to undo
            self._conn.execute(b"ROLLBACK")

    def state(self) -> Counter[Any]:
        """Every table's rows, as a multiset of (table, row)."""
        out: Counter[Any] = Counter()
        for table in self.schema.table_names:
            result = self.execute(
                f"SELECT * FROM {table}", allow_writes=False, timeout_s=60, count_cap=10**9
            )
            out.update((table, normalize_row(row)) for row in result.rows)
        return out

    def describe(self, table: str) -> str:
        result = self.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_name = '{table}' ORDER BY ordinal_position",
            allow_writes=False,
            timeout_s=10,
        )
        keys = {c.name: c for c in self.schema.table(table).columns}
        lines = [f"Table {table}:"]
        for name, type_, nullable in result.rows:
            notes = ["PRIMARY KEY"] if keys[name].primary_key else []
            if nullable == "YES" and not keys[name].primary_key:
                notes.append("nullable")
            if keys[name].references:
                notes.append(f"references {keys[name].references}")
            lines.append(f"  {name} {type_}" + (f" ({', '.join(notes)})" if notes else ""))
        return "\n".join(lines)

    def snapshot(self) -> str:
        """Name of a new database holding this one's current content (kept while the
        server runs)."""
        self._conn.close()
        try:
            copy = PostgresDatabase(self.schema.name, 0, 0, source=self.name, backend=self.backend)
            copy._conn.close()
            copy._conn = None
            release_server(copy.backend)  # the copy is data, not a user of the server
            return copy.name
        finally:
            self._conn = _connect(self.name, AGENT_ROLE, host=self.host)

    def restore(self, image: Any) -> None:
        """Replace the content with a :meth:`snapshot`'s."""
        self._drop()
        self.name = f"ep_{uuid.uuid4().hex[:16]}"
        with SERVER_LOCK, _connect("postgres", host=self.host) as admin:
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {image}")
        self._conn = _connect(self.name, AGENT_ROLE, host=self.host)

    def _drop(self) -> None:
        self._conn.close()
        self._conn = None
        if self._pool is not None and self._pool.drop(self.name):
            return
        try:
            with SERVER_LOCK, _connect("postgres", host=self.host) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception:  # the server may already be gone at interpreter exit
            pass

    def close(self) -> None:
        if self._conn is None:
            return
        self._drop()
        release_server(self.backend)
