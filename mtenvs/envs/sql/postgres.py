"""PostgreSQL for ``dialect="postgres"``: a private server, template databases, guarded queries.

Where the server comes from (``postgres_backend``, see :data:`POSTGRES_BACKENDS`):

* ``docker``: a container of the image ``mtenvs/postgres:<version>`` (built from
  ``sandboxes/postgres/Dockerfile`` by ``mtenvs images build``) with no network, a
  read-only root, its data on a tmpfs and its unix socket in a private host directory
  (mode 0700, so no other local user reaches it). The container carries the owner labels
  of :mod:`mtenvs.sandbox.reaper`, so ``reap()`` removes it once this process is gone
  (even SIGKILLed); it is removed when the last env or database using it closes, and at
  exit.
* ``local``: a private server from Debian's ``postgresql`` binaries: ``initdb`` into a
  temporary directory (on ``/dev/shm`` where there is one; C locale, so text sorts as in
  SQLite) and ``pg_ctl start`` listening only on a unix socket there, run as the
  ``postgres`` user when this process is root. It is stopped and removed at exit.
* ``auto`` (default): ``MTENVS_POSTGRES_HOST`` when set (a host or unix-socket directory
  where the user ``postgres`` may connect without a password), else ``docker`` when the
  engine is reachable and the image is built, else ``local``.

Each process has its own server.

Each (schema, scale, seed) is loaded once into a template database; an episode gets
``CREATE DATABASE … TEMPLATE`` of it. Agents connect as the role ``mtenvs_agent`` (no
superuser, no CREATE, only SELECT/INSERT/UPDATE/DELETE on the tables), so file access
(``COPY … FROM '/etc/passwd'``, ``pg_read_file``), DDL and role changes fail in the server
itself; ``statement_timeout`` bounds time and read tasks run in ``READ ONLY`` transactions.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import multiprocessing.util
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Final, Protocol

from mtenvs.envs.sql.data import generate_rows
from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult
from mtenvs.envs.sql.pg_pool import CopyPool
from mtenvs.envs.sql.schemas import get_schema
from mtenvs.envs.sql.verify import normalize_row
from mtenvs.error import Error, check_choice

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
#: Values of ``postgres_backend``: where the server runs (see the module doc).
POSTGRES_BACKENDS: Final = ("auto", "docker", "local")
#: Whether servers this process owns make episode databases ahead
#: (:mod:`mtenvs.envs.sql.pg_pool`); ``False`` copies in ``reset`` (the benchmark's baseline).
COPY_POOL = True
#: Seconds a new server may take to accept connections.
_START_TIMEOUT_S: Final = 90.0
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

    @property
    def host(self) -> str:
        return str(self.root)


class _DockerServer:
    """A container of ``mtenvs/postgres:<version>`` with its socket in a private directory."""

    def __init__(self) -> None:
        from mtenvs.sandbox.docker_sandbox import docker_client
        from mtenvs.sandbox.images import image_tag
        from mtenvs.sandbox.reaper import owner_labels, reap

        problem = docker_problem()
        if problem is not None:
            raise PostgresUnavailableError(f"postgres_backend='docker' is unusable: {problem}.")
        import docker.errors

        client = docker_client()
        # Leftovers of dead processes go before we add ours. Housekeeping only: the reaper
        # can trip over a container another process removes meanwhile (NotFound).
        with contextlib.suppress(docker.errors.NotFound):
            reap(client)
        self.pid = os.getpid()
        _remove_orphan_socket_dirs()
        # The socket directory must be writable by the server (uid 999); its private
        # parent keeps other local users from reaching a trust-auth socket.
        self.root = Path(tempfile.mkdtemp(prefix=f"{_SOCKET_DIR_PREFIX}{self.pid}-"))
        sockets = self.root / "sockets"
        sockets.mkdir()
        sockets.chmod(0o777)
        try:
            container = client.containers.run(
                image_tag("postgres"),
                detach=True,
                remove=True,
                network_mode="none",
                read_only=True,
                tmpfs={
                    "/tmp": "rw,nosuid,nodev,size=64m",
                    "/var/lib/mtenvs-pg": "rw,nosuid,nodev,size=8g,uid=999,gid=999",
                },
                volumes={str(sockets): {"bind": "/sockets", "mode": "rw"}},
                labels={**owner_labels(), "mtenvs.image": "postgres"},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=1024,
                shm_size="256m",
            )
        except Exception as e:  # the docker SDK raises several kinds; all mean "no server"
            shutil.rmtree(self.root, ignore_errors=True)
            raise PostgresUnavailableError(f"Could not start the PostgreSQL container: {e}") from e
        self.container_id: str = container.id
        self.host = str(sockets)
        self._stopped = False
        atexit.register(self.stop)
        multiprocessing.util.Finalize(self, self.stop, exitpriority=10)
        try:
            _wait_until_ready(self.host, container)
        except PostgresUnavailableError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._stopped or os.getpid() != self.pid:
            return
        self._stopped = True
        from mtenvs.sandbox.docker_sandbox import docker_client

        # Best effort (also at interpreter exit): a container left behind (already gone,
        # removal under way, engine away) is the reaper's.
        with contextlib.suppress(Exception):
            docker_client().api.remove_container(self.container_id, force=True)
        shutil.rmtree(self.root, ignore_errors=True)


_SOCKET_DIR_PREFIX: Final = "mtenvs-pgd-"


def _remove_orphan_socket_dirs() -> None:
    """Remove socket directories of owners that died without cleaning up (SIGKILL; the
    reaper removes their containers)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_SOCKET_DIR_PREFIX}*-*"):
        pid = path.name[len(_SOCKET_DIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive, owned by another user
            pass


def _wait_until_ready(host: str, container: Any) -> None:
    import psycopg

    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            psycopg.connect(host=host, dbname="postgres", user="postgres").close()
            return
        except psycopg.OperationalError as e:
            try:
                container.reload()
                status = container.status
            except Exception:  # removed already (--rm): it exited
                status = "removed"
            if status not in ("created", "running") or time.monotonic() > deadline:
                logs = ""
                with contextlib.suppress(Exception):
                    logs = container.logs(tail=20).decode(errors="replace")
                raise PostgresUnavailableError(
                    f"The PostgreSQL container did not accept connections ({e}); "
                    f"status {status}; logs: {logs[-800:] or 'none'}"
                ) from e
            time.sleep(0.1)


@functools.cache
def docker_problem() -> str | None:
    """Why the ``docker`` backend cannot run here (no engine, no image), or ``None``."""
    try:
        from mtenvs.sandbox.docker_sandbox import docker_client, engine_status
        from mtenvs.sandbox.images import image_present, image_tag
    except ImportError as e:  # pragma: no cover - docker extra missing
        return f'the docker package is missing ({e}); pip install "mtenvs[sql]"'
    ok, detail = engine_status()
    if not ok:
        return detail
    if not image_present(docker_client(), image_tag("postgres")):
        return (
            f"image {image_tag('postgres')} is not built (run `mtenvs images build postgres` "
            "or scripts/ensure_docker.sh)"
        )
    return None


class _Server(Protocol):
    @property
    def host(self) -> str: ...

    def stop(self) -> None: ...


_LOCK = threading.RLock()
#: Running servers by backend (``docker``, ``local``), their users and loaded templates.
_SERVERS: dict[str, _Server] = {}
_USERS: dict[str, int] = {}
_TEMPLATES: set[tuple[str, str]] = set()
#: Background copy pools of the servers this process owns, by (pid, host): a forked child
#: must not hand out its parent's copies.
_POOLS: dict[tuple[int, str], CopyPool] = {}


def resolve_backend(backend: str) -> str:
    """``docker``, ``local`` or ``external`` (``MTENVS_POSTGRES_HOST``) for ``backend``."""
    check_choice("postgres_backend", backend, POSTGRES_BACKENDS)
    if backend != "auto":
        return backend
    if os.environ.get("MTENVS_POSTGRES_HOST"):
        return "external"
    return "docker" if docker_problem() is None else "local"


def server_host(backend: str = "auto") -> str:
    """The host (or socket directory) of ``backend``'s server, starting it if needed."""
    return _host_of(resolve_backend(backend))


def _host_of(kind: str) -> str:
    if kind == "external":
        return os.environ["MTENVS_POSTGRES_HOST"]
    with _LOCK:
        server = _SERVERS.get(kind)
        if server is None:
            server = _SERVERS[kind] = _DockerServer() if kind == "docker" else _LocalServer()
        return server.host


def hold_server(kind: str) -> str:
    """Count one more user of ``kind``'s server (started if needed); returns its host."""
    with _LOCK:
        host = _host_of(kind)
        _USERS[kind] = _USERS.get(kind, 0) + 1
        return host


def release_server(kind: str) -> None:
    """One user of ``kind``'s server is done; the last one stops a container (a local
    server, a child of this process, stays until exit)."""
    with _LOCK:
        _USERS[kind] = _USERS.get(kind, 0) - 1
        if _USERS[kind] > 0 or kind != "docker" or kind not in _SERVERS:
            return
        server = _SERVERS.pop(kind)
        _TEMPLATES.difference_update({t for t in _TEMPLATES if t[0] == server.host})
        pool = _POOLS.pop((os.getpid(), server.host), None)
    if pool is not None:
        pool.close()
    server.stop()


def _pool(kind: str, host: str) -> CopyPool | None:
    """The copy pool of a server this process owns (none for ``MTENVS_POSTGRES_HOST``:
    ready copies left there would outlive us)."""
    if not COPY_POOL or kind not in ("docker", "local"):
        return None
    key = (os.getpid(), host)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None or not pool.alive:
            pool = _POOLS[key] = CopyPool(
                lambda: _connect("postgres", host=host),
                lambda name: _connect(name, AGENT_ROLE, host=host),
            )
        return pool


def _connect(
    dbname: str, user: str = "postgres", autocommit: bool = True, host: str | None = None
) -> Any:
    try:
        import psycopg
        from psycopg.types.numeric import FloatLoader
    except ImportError as e:
        raise PostgresUnavailableError(f"psycopg is not installed; {_INSTALL_HINT}.") from e
    conn = psycopg.connect(
        host=host or server_host(), dbname=dbname, user=user, autocommit=autocommit
    )
    # NUMERIC as float, as sqlite3 gives it (AVG, ROUND and money columns compare across
    # dialects), converted by psycopg's loader instead of a pass over every value
    conn.adapters.register_loader("numeric", FloatLoader)
    return conn


def _pg_type(sql_type: str) -> str:
    # Exact decimals: ROUND(x, 2) needs numeric in PostgreSQL, and data has <= 2 decimals.
    return "NUMERIC" if sql_type == "REAL" else sql_type


def template_database(schema_name: str, scale: int, seed: int, host: str) -> str:
    """Name of the loaded template database of (schema, scale, seed) on the server at
    ``host``, created once."""
    name = f"mt_{schema_name}_{scale}_{seed}"
    with _LOCK:
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
        self._pool = _pool(self.backend, self.host)
        try:
            self.template = source or template_database(schema_name, scale, seed, self.host)
            ready = self._pool.take(self.template) if self._pool and not source else None
            if ready is not None:
                self.name, self._conn = ready
            else:
                self.name = f"ep_{uuid.uuid4().hex[:16]}"
                with _LOCK, _connect("postgres", host=self.host) as admin:
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
        import time

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
            loader = psycopg.adapt.Transformer(conn)
            loader.set_pgresult(result)
            rows = loader.load_rows(0, shown, tuple)
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
        with _LOCK, _connect("postgres", host=self.host) as admin:
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {image}")
        self._conn = _connect(self.name, AGENT_ROLE, host=self.host)

    def _drop(self) -> None:
        self._conn.close()
        self._conn = None
        if self._pool is not None and self._pool.drop(self.name):
            return
        try:
            with _LOCK, _connect("postgres", host=self.host) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception:  # the server may already be gone at interpreter exit
            pass

    def close(self) -> None:
        if self._conn is None:
            return
        self._drop()
        release_server(self.backend)
