"""PostgreSQL for ``dialect="postgres"``: a private server, template databases, guarded queries.

The server comes from :mod:`mtenvs.envs.sql.pg_server` (``postgres_backend``).

Each (schema, scale, seed) is loaded once into a template database; an episode gets
``CREATE DATABASE … TEMPLATE`` of it, named ``ep_<16 random hex digits>``, and a login role
of the same name that is the only one (besides the superuser) allowed to connect to it.
Episodes on one server are isolated from each other by those roles:

* ``REVOKE ALL ON DATABASE … FROM PUBLIC`` on every episode database, template and (on the
  servers mtenvs starts) ``postgres`` and ``template1``: a role connects to its own database
  only, and nobody gets ``TEMP`` (a temporary table or view would shadow the real one);
* PostgreSQL shows a session's query text in ``pg_stat_activity`` and lets
  ``pg_terminate_backend``/``pg_cancel_backend`` signal it only to the same role (or
  members of ``pg_read_all_stats``/``pg_signal_backend``, which no episode role is), so an
  episode neither reads nor stops another's session.

The episode roles are members of the group role ``mtenvs_agent`` (``NOLOGIN``: no
superuser, no CREATE, only SELECT/INSERT/UPDATE/DELETE on the tables), so file access
(``COPY … FROM '/etc/passwd'``, ``pg_read_file``), DDL and role changes fail in the server
itself; ``statement_timeout`` bounds time and read tasks run in ``READ ONLY`` transactions.
A write statement's session settings are reset before it commits, so nothing the agent
sets outlives its statement. The tables the checker compares are read by the superuser on
a connection of its own, schema-qualified. A connection found dead (terminated, server
restarted) is replaced before the next statement, and a read that lost its connection is
run once more on the new one.

What an episode can still see: the names of the other databases and roles (``pg_database``
and ``pg_roles`` are readable by everyone in PostgreSQL): random and useless without the
socket, which only this process holds.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from typing import Any, Final

from mtenvs.envs.sql.data import generate_rows
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult, quote_identifier
from mtenvs.envs.sql.pg_pool import CopyPool
from mtenvs.envs.sql.pg_server import (
    POSTGRES_BACKENDS,
    SERVER_LOCK,
    PostgresUnavailableError,
    connection_lost,
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
    "create_episode_database",
    "docker_problem",
    "drop_episode_database",
    "resolve_backend",
    "server_host",
]

#: The group role every episode role belongs to: the table rights of the templates.
AGENT_ROLE: Final = "mtenvs_agent"
#: Whether servers this process owns make episode databases ahead
#: (:mod:`mtenvs.envs.sql.pg_pool`); ``False`` copies in ``reset`` (the benchmark's baseline).
COPY_POOL = True
#: Loaded templates by (host, name), guarded by the server lock.
_TEMPLATES: set[tuple[str, str]] = set()
#: Hosts whose group role and database rights are set up, guarded by the server lock.
_PREPARED: set[str] = set()
#: Background copy pools of the servers this process owns, by (pid, host): a forked child
#: must not hand out its parent's copies.
_POOLS: dict[tuple[int, str], CopyPool] = {}
_OWNED_BACKENDS: Final = ("docker", "local")


def _forget(host: str) -> None:
    """A server stopped: its templates and copies are gone."""
    with SERVER_LOCK:
        _TEMPLATES.difference_update({t for t in _TEMPLATES if t[0] == host})
        _PREPARED.discard(host)
        pool = _POOLS.pop((os.getpid(), host), None)
    if pool is not None:
        pool.close()


on_server_stop(_forget)


def create_episode_database(admin: Any, template: str, *, role: bool = True) -> str:
    """Copy ``template`` into a new database ``ep_<hex>`` and return its name. Nobody but
    the superuser may connect to it, except, with ``role``, the new login role of the same
    name (a member of :data:`AGENT_ROLE`); nobody gets ``TEMP`` on it."""
    name = f"ep_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    rights = f"REVOKE ALL ON DATABASE {name} FROM PUBLIC"
    if role:
        rights = (
            f"CREATE ROLE {name} LOGIN IN ROLE {AGENT_ROLE}; {rights}; "
            f"GRANT CONNECT ON DATABASE {name} TO {name}"
        )
    try:
        admin.execute(rights)  # one round trip (simple protocol, one transaction)
    except BaseException:
        with contextlib.suppress(Exception):
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
        raise
    return name


def drop_episode_database(admin: Any, name: str) -> None:
    """Drop an episode database and its role (sessions on it are ended)."""
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"DROP ROLE IF EXISTS {name}")


def _pool(kind: str, host: str) -> CopyPool | None:
    """The copy pool of a server this process owns (none for ``MTENVS_POSTGRES_HOST``:
    ready copies left there would outlive us)."""
    if not COPY_POOL or kind not in _OWNED_BACKENDS:
        return None
    key = (os.getpid(), host)
    with SERVER_LOCK:
        pool = _POOLS.get(key)
        if pool is None or not pool.alive:
            pool = _POOLS[key] = CopyPool(
                lambda: _connect("postgres", host=host),
                lambda name: _connect(name, name, host=host),
                create_episode_database,
                drop_episode_database,
                connection_lost,
            )
        return pool


def _prepare_server(admin: Any, host: str, owned: bool) -> None:
    """Once per server: the group role (no login), and on a server of ours no ``CONNECT``
    or ``TEMP`` for ``PUBLIC`` on the databases every server has."""
    if host in _PREPARED:
        return
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (AGENT_ROLE,)).fetchone()
    if exists is None:
        admin.execute(f"CREATE ROLE {AGENT_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
    else:  # made by an older version, which logged in as it
        admin.execute(f"ALTER ROLE {AGENT_ROLE} NOLOGIN")
    if owned:
        admin.execute("REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC")
    _PREPARED.add(host)


def _pg_type(sql_type: str) -> str:
    # Exact decimals: ROUND(x, 2) needs numeric in PostgreSQL, and data has <= 2 decimals.
    return "NUMERIC" if sql_type == "REAL" else sql_type


def template_database(
    schema_name: str, scale: int, seed: int, host: str, owned: bool = False
) -> str:
    """Name of the loaded template database of (schema, scale, seed) on the server at
    ``host`` (``owned``: one this process started), created once."""
    name = f"mt_{schema_name}_{scale}_{seed}"
    with SERVER_LOCK:
        if (host, name) in _TEMPLATES:
            return name
        schema = get_schema(schema_name)
        with _connect("postgres", host=host) as admin:
            _prepare_server(admin, host, owned)
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
            admin.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
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


#: A write statement's end: session settings and role back to the connection's (a ``SET``
#: it made would outlive it, e.g. a search_path or DateStyle for the checks that follow),
#: then the commit. A read's ``ROLLBACK`` undoes its ``SET`` already.
_WRITE_END: Final = (b"RESET ALL", b"RESET ROLE", b"COMMIT")


class PostgresDatabase:
    """One episode's database: a copy of the template, queried as its own role.

    It holds its server (``backend``, see :data:`POSTGRES_BACKENDS`) while open."""

    def __init__(
        self,
        schema_name: str,
        scale: int,
        seed: int,
        backend: str = "auto",
    ) -> None:
        self.schema = get_schema(schema_name)
        self.backend = resolve_backend(backend)
        self.host = hold_server(self.backend)
        self._conn: Any = None
        self._loader: Any = None  # psycopg's row loader for the connection, kept
        self._closed = False
        self._pool = _pool(self.backend, self.host)
        try:
            owned = self.backend in _OWNED_BACKENDS
            self.template = template_database(schema_name, scale, seed, self.host, owned)
            ready = self._pool.take(self.template) if self._pool else None
            if ready is not None:
                self.name, self._conn = ready
            else:
                self.name = self._copy(self.template)
                self._conn = self._open()
        except BaseException:
            release_server(self.backend)
            raise

    def _copy(self, source: str, *, role: bool = True) -> str:
        with SERVER_LOCK, _connect("postgres", host=self.host) as admin:
            return create_episode_database(admin, source, role=role)

    def _open(self) -> Any:
        """A new connection to the episode's database as its role."""
        return _connect(self.name, self.name, host=self.host)

    def _live(self) -> Any:
        """The episode's connection, replaced first if it died."""
        if self._conn is None or connection_lost(self._conn):
            self._reconnect()
        return self._conn

    def _reconnect(self) -> None:
        import psycopg

        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = self._loader = None
        try:
            with _connect("postgres", host=self.host) as admin:
                # settings the agent stored on its role (ALTER ROLE … SET) would apply now
                admin.execute(f"ALTER ROLE {self.name} RESET ALL")
            self._conn = self._open()
        except psycopg.Error as e:
            raise PostgresUnavailableError(
                f"The connection to episode database {self.name} on the PostgreSQL server "
                f"at {self.host} was lost and cannot be reopened: {_message(e)}"
            ) from e

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult:
        """Run one statement as the episode's role; never raises for bad SQL.

        One round trip: a libpq pipeline of ``BEGIN READ ONLY`` (``READ WRITE`` for write
        tasks), ``SET LOCAL statement_timeout``, the statement and ``ROLLBACK`` (for a
        write, ``RESET ALL``, ``RESET ROLE`` and ``COMMIT``) with one sync. Each command goes
        through the extended protocol, which takes exactly one statement (no ``SELECT 1;
        DROP …``). After a failure the server skips the rest of the pipeline and leaves the
        transaction aborted; one more round trip then rolls it back. A dead connection is
        replaced first; a read whose connection died under it runs once more (a write
        does not: it may have committed)."""

        import psycopg

        start = time.perf_counter()
        if "\x00" in sql:  # libpq takes C strings
            return QueryResult(error="the statement holds a NUL character.")
        timeout_ms = b"%d" % max(1, int(timeout_s * 1000))
        commands = (
            b"BEGIN READ WRITE" if allow_writes else b"BEGIN READ ONLY",
            b"SET LOCAL statement_timeout = " + timeout_ms,
            sql.encode(),
            *(_WRITE_END if allow_writes else (b"ROLLBACK",)),
        )
        retry = not allow_writes
        while True:
            conn = self._live()
            outcome = _run(conn, commands)
            if not isinstance(outcome, str):
                break
            if connection_lost(conn):
                if retry:
                    retry = False
                    continue
            else:
                self._rollback()  # the transaction is left aborted
            return QueryResult(error=outcome, elapsed_s=time.perf_counter() - start)
        result = outcome[2]
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

        # Never a prepared statement: psycopg prepares a query it ran five times, and the
        # agent's DEALLOCATE ALL would drop it, leaving the transaction aborted for good.
        with contextlib.suppress(psycopg.Error):  # a broken connection: nothing to undo
            self._conn.execute(b"ROLLBACK", prepare=False)

    def state(self) -> Counter[Any]:
        """Every table's rows, as a multiset of (table, row), read by the superuser on a
        connection of its own: nothing the agent's session did (settings, a temporary
        table) bears on it."""
        out: Counter[Any] = Counter()
        with _connect(self.name, host=self.host, autocommit=False) as checker:
            checker.read_only = True
            checker.execute("SET LOCAL statement_timeout = '60s'")
            for table in self.schema.table_names:
                rows = checker.execute(f"SELECT * FROM public.{quote_identifier(table)}")
                out.update((table, normalize_row(row)) for row in rows)
            checker.rollback()
        return out

    def describe(self, table: str) -> str:
        result = self.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position",
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
        server runs; no role may connect to it)."""
        if self._conn is not None:
            self._conn.close()  # a template must have no sessions
        try:
            return self._copy(self.name, role=False)
        finally:
            self._conn = self._open()

    def restore(self, image: Any) -> None:
        """Replace the content with a :meth:`snapshot`'s."""
        self._drop()
        self.name = self._copy(image)
        self._conn = self._open()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = self._loader = None
        if self._pool is not None and self._pool.drop(self.name):
            return
        try:
            with SERVER_LOCK, _connect("postgres", host=self.host) as admin:
                drop_episode_database(admin, self.name)
        except Exception:  # the server may already be gone at interpreter exit
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop()
        release_server(self.backend)


def _run(conn: Any, commands: tuple[bytes, ...]) -> list[Any] | str:
    """``commands`` through one pipeline: every command's result, or the error."""
    import psycopg
    from psycopg.pq import ExecStatus

    try:
        results = _pipeline(conn, commands)
    except (psycopg.Error, ValueError, OverflowError) as e:  # a lost server, an odd byte
        return _message(e)
    done = (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK)
    failed = next((r for r in results if r is None or r.status not in done), False)
    if failed is not False or len(results) != len(commands):
        return _result_error(failed or None)
    return results
