"""PostgreSQL for ``dialect="postgres"``: a private server, template databases, guarded queries.

Without a server given in ``MTENVS_POSTGRES_HOST`` (a host or unix-socket directory where
the user ``postgres`` may connect without a password, e.g. the ``sandboxes/postgres``
container), the first use starts a private server from Debian's ``postgresql`` binaries:
``initdb`` into a temporary directory (on ``/dev/shm`` where there is one; C locale, so text sorts as in SQLite) and
``pg_ctl start`` listening only on a unix socket there, run as the ``postgres`` user when
this process is root. It is stopped and removed at exit; each process has its own.

Each (schema, scale, seed) is loaded once into a template database; an episode gets
``CREATE DATABASE … TEMPLATE`` of it. Agents connect as the role ``mtenvs_agent`` (no
superuser, no CREATE, only SELECT/INSERT/UPDATE/DELETE on the tables), so file access
(``COPY … FROM '/etc/passwd'``, ``pg_read_file``), DDL and role changes fail in the server
itself; ``statement_timeout`` bounds time and read tasks run in ``READ ONLY`` transactions.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from mtenvs.envs.sql.data import generate_rows
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult
from mtenvs.envs.sql.schemas import get_schema
from mtenvs.envs.sql.verify import normalize_row
from mtenvs.error import Error

__all__ = ["AGENT_ROLE", "PostgresDatabase", "PostgresUnavailableError", "server_host"]

AGENT_ROLE: Final = "mtenvs_agent"
_INSTALL_HINT: Final = (
    "install PostgreSQL (`apt-get install postgresql`) and psycopg "
    '(`pip install "mtenvs[sql]"`), or point MTENVS_POSTGRES_HOST at a '
    "running server"
)


class PostgresUnavailableError(Error, RuntimeError):
    """No PostgreSQL server could be found or started."""


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version / name).exists():
            return str(version / name)
    raise PostgresUnavailableError(f"PostgreSQL's {name} was not found; {_INSTALL_HINT}.")


class _LocalServer:
    """A throwaway server on a unix socket in a temporary directory."""

    def __init__(self) -> None:
        # Throwaway data: in memory where there is a tmpfs (CREATE DATABASE is ~6x faster).
        shm = Path("/dev/shm")
        parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="mtenvs-pg-", dir=parent))
        as_root = os.geteuid() == 0
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        user = "postgres"
        try:
            subprocess.run(
                [
                    *prefix,
                    _bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    "--no-locale",
                    "-E",
                    "UTF8",
                    "--auth=trust",
                    "-N",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            options = (
                f"-k {self.root} -c listen_addresses='' -F -c max_connections=200 "
                "-c wal_level=minimal -c max_wal_senders=0 -c full_page_writes=off "
                "-c synchronous_commit=off"
            )
            subprocess.run(
                [
                    *prefix,
                    _bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.root / "log"),
                    "start",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            detail = getattr(e, "stderr", b"") or b""
            shutil.rmtree(self.root, ignore_errors=True)
            raise PostgresUnavailableError(
                f"Could not start PostgreSQL ({e}; {detail.decode(errors='replace')[:300]}); "
                f"{_INSTALL_HINT}."
            ) from e
        self.prefix, self.data = prefix, data
        self._stopped = False
        atexit.register(self.stop)
        # Worker processes (AsyncVectorEnv) leave through os._exit, which skips atexit but
        # runs multiprocessing's finalizers.
        multiprocessing.util.Finalize(self, self.stop, exitpriority=10)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        subprocess.run(
            [*self.prefix, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


_LOCK = threading.RLock()
_SERVER: list[_LocalServer] = []
_TEMPLATES: set[str] = set()


def server_host() -> str:
    """The host (or socket directory) of the server, starting a private one if needed."""
    host = os.environ.get("MTENVS_POSTGRES_HOST")
    if host:
        return host
    with _LOCK:
        if not _SERVER:
            _SERVER.append(_LocalServer())
        return str(_SERVER[0].root)


def _connect(dbname: str, user: str = "postgres", autocommit: bool = True) -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise PostgresUnavailableError(f"psycopg is not installed; {_INSTALL_HINT}.") from e
    return psycopg.connect(host=server_host(), dbname=dbname, user=user, autocommit=autocommit)


def _pg_type(sql_type: str) -> str:
    # Exact decimals: ROUND(x, 2) needs numeric in PostgreSQL, and data has <= 2 decimals.
    return "NUMERIC" if sql_type == "REAL" else sql_type


def template_database(schema_name: str, scale: int, seed: int) -> str:
    """Name of the loaded template database of (schema, scale, seed), created once."""
    name = f"mt_{schema_name}_{scale}_{seed}"
    with _LOCK:
        if name in _TEMPLATES:
            return name
        schema = get_schema(schema_name)
        with _connect("postgres") as admin:
            if (
                admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (AGENT_ROLE,)).fetchone()
                is None
            ):
                admin.execute(f"CREATE ROLE {AGENT_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
        with _connect(name, autocommit=False) as conn:
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
        _TEMPLATES.add(name)
        return name


def _plain(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


class PostgresDatabase:
    """One episode's database: a copy of the template, queried as the agent role."""

    def __init__(self, schema_name: str, scale: int, seed: int, source: str | None = None) -> None:
        self.schema = get_schema(schema_name)
        self.template = source or template_database(schema_name, scale, seed)
        self.name = f"ep_{uuid.uuid4().hex[:16]}"
        with _LOCK, _connect("postgres") as admin:
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {self.template}")
        self._conn: Any = _connect(self.name, AGENT_ROLE, autocommit=False)

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult:
        """Run one statement as the agent role; never raises for bad SQL."""
        import time

        import psycopg

        start = time.perf_counter()
        conn = self._conn
        try:
            with conn.cursor() as cur:
                if not allow_writes:
                    cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                # A prepared statement holds exactly one command (no "SELECT 1; DROP …").
                cur.execute(sql.encode(), prepare=True)
                columns = tuple(d.name for d in cur.description or ())
                rows = cur.fetchmany(count_cap + 1) if columns else []
                changes = 0 if columns else max(cur.rowcount, 0)
            if allow_writes:
                conn.commit()
            else:
                conn.rollback()
        except psycopg.errors.QueryCanceled:
            conn.rollback()
            return QueryResult(
                error="query cancelled: it ran past the time limit.",
                elapsed_s=time.perf_counter() - start,
            )
        except (psycopg.Error, ValueError, OverflowError) as e:
            conn.rollback()
            message = getattr(getattr(e, "diag", None), "message_primary", None) or str(e)
            return QueryResult(error=message, elapsed_s=time.perf_counter() - start)
        capped = len(rows) > count_cap
        return QueryResult(
            columns=columns,
            rows=tuple(tuple(_plain(v) for v in r) for r in rows[:count_cap]),
            capped=capped,
            changes=changes,
            elapsed_s=time.perf_counter() - start,
        )

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
        """Name of a new database holding this one's current content (kept until exit)."""
        self._conn.close()
        try:
            copy = PostgresDatabase(self.schema.name, 0, 0, source=self.name)
            copy._conn.close()
            copy._conn = None
            return copy.name
        finally:
            self._conn = _connect(self.name, AGENT_ROLE, autocommit=False)

    def restore(self, image: Any) -> None:
        """Replace the content with a :meth:`snapshot`'s."""
        self.close()
        self.name = f"ep_{uuid.uuid4().hex[:16]}"
        with _LOCK, _connect("postgres") as admin:
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {image}")
        self._conn = _connect(self.name, AGENT_ROLE, autocommit=False)

    def close(self) -> None:
        if self._conn is None:
            return
        self._conn.close()
        self._conn = None
        try:
            with _LOCK, _connect("postgres") as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception:  # the server may already be gone at interpreter exit
            pass
