"""The PostgreSQL server of ``dialect="postgres"``: where it runs, started once per process.

Where the server comes from (``postgres_backend``, see :data:`POSTGRES_BACKENDS`):

* ``docker``: a container of the image ``mtenvs/postgres:<version>`` (built from
  ``sandboxes/postgres/Dockerfile`` by ``mtenvs images build``) with no network, a
  read-only root, a memory limit (:data:`MEMORY_LIMIT`, its data on a tmpfs included) and
  its unix socket in a private host directory (mode 0700, so no other local user reaches
  it). It is a :class:`~mtenvs.sandbox.service.ServiceContainer` (the hardening of
  :mod:`mtenvs.sandbox.container`): its stdin is attached to this process and the server
  exits when it reads end of file, so the container goes when this process does, even
  SIGKILLed; it also carries the owner labels of :mod:`mtenvs.sandbox.reaper` for
  whatever that misses. It is removed when the last env or database using it closes, and
  at exit.
* ``local``: a private server from Debian's ``postgresql`` binaries: ``initdb`` into a
  temporary directory (on ``/dev/shm`` where there is one; C locale, so text sorts as in
  SQLite), the server listening only on a unix socket there, run as the ``postgres`` user
  when this process is root. Its parent is a small supervisor
  (:mod:`mtenvs.envs.sql.pg_supervisor`) that stops it and removes the directory when this
  process closes it, exits or dies.
* ``auto`` (default): ``MTENVS_POSTGRES_HOST`` when set (a host or unix-socket directory
  where the user ``postgres`` may connect without a password), else ``docker`` when the
  engine is reachable and the image is built, else ``local``.

Each process has its own server; envs hold it while open (:func:`hold_server`,
:func:`release_server`). Their host directories are :mod:`mtenvs.sandbox.owned_dirs`
directories: those of owners that died are removed by the next server started.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import multiprocessing.util
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from mtenvs.error import Error, check_choice
from mtenvs.sandbox.container import ContainerSpec, Mount
from mtenvs.sandbox.engine import docker_client
from mtenvs.sandbox.images import image_status, image_tag
from mtenvs.sandbox.owned_dirs import owned_tempdir
from mtenvs.sandbox.reaper import reap
from mtenvs.sandbox.service import ServiceContainer

__all__ = [
    "MEMORY_LIMIT",
    "POSTGRES_BACKENDS",
    "SERVER_LOCK",
    "PostgresUnavailableError",
    "connect",
    "connection_lost",
    "docker_problem",
    "hold_server",
    "on_server_stop",
    "release_server",
    "resolve_backend",
    "server_host",
]

#: Values of ``postgres_backend``: where the server runs (see the module doc).
POSTGRES_BACKENDS: Final = ("auto", "docker", "local")
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


#: Memory the PostgreSQL container may use, its data (a tmpfs) included; no swap beyond it.
MEMORY_LIMIT: Final = 8 * 2**30
#: Prefixes of the servers' host directories (:mod:`mtenvs.sandbox.owned_dirs`).
_LOCAL_DIR_PREFIX: Final = "mtenvs-pg-"
_SOCKET_DIR_PREFIX: Final = "mtenvs-pgd-"
#: The local server's options (the image's entrypoint has the same): a unix socket only, no
#: durability (throwaway data).
_SERVER_OPTIONS: Final = (
    "-c", "listen_addresses=", "-F", "-c", "max_connections=200", "-c", "wal_level=minimal",
    "-c", "max_wal_senders=0", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
)  # fmt: skip


class _LocalServer:
    """A throwaway server on a unix socket in a temporary directory, the child of a
    supervisor that stops it when this process goes (:mod:`mtenvs.envs.sql.pg_supervisor`)."""

    def __init__(self) -> None:
        # Throwaway data: in memory where there is a tmpfs (CREATE DATABASE is ~6x faster).
        shm = Path("/dev/shm")
        parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.pid = os.getpid()
        self.root = owned_tempdir(_LOCAL_DIR_PREFIX, parent)
        as_root = os.geteuid() == 0
        user = "postgres" if as_root else None
        if as_root:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self._supervisor: subprocess.Popen[bytes] | None = None
        try:
            subprocess.run(
                [
                    *(["runuser", "-u", "postgres", "--"] if as_root else []),
                    _bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
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
            config = {
                "root": str(self.root),
                "argv": [_bin("postgres"), "-D", str(data), "-k", str(self.root), *_SERVER_OPTIONS],
                "user": user,
                "log": str(self.root / "log"),
            }
            supervisor = str(Path(__file__).with_name("pg_supervisor.py"))
            self._supervisor = subprocess.Popen(
                [sys.executable, "-I", supervisor, json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not in the owner's process group: Ctrl-C is ours
            )
            _wait_until_ready(self.host, self._starting, self._log)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            detail = getattr(e, "stderr", b"") or b""
            self.stop()
            raise PostgresUnavailableError(
                f"Could not start PostgreSQL ({e}; {detail.decode(errors='replace')[:300]}); "
                f"{_INSTALL_HINT}."
            ) from e
        except BaseException:
            self.stop()
            raise
        self._stopped = False
        atexit.register(self.stop)
        # Worker processes (AsyncVectorEnv) leave through os._exit, which skips atexit but
        # runs multiprocessing's finalizers.
        multiprocessing.util.Finalize(self, self.stop, exitpriority=10)

    def _starting(self) -> str | None:
        """``None`` while the server may still come up, else why not."""
        code = self._supervisor.poll() if self._supervisor else -1
        return None if code is None else f"it exited ({code})"

    def _log(self) -> str:
        try:
            return (self.root / "log").read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def stop(self) -> None:
        if getattr(self, "_stopped", False) or os.getpid() != self.pid:
            return
        self._stopped = True
        supervisor = self._supervisor
        if supervisor is not None and supervisor.stdin is not None:
            supervisor.stdin.close()  # end of file: the supervisor stops the server
            try:
                supervisor.wait(timeout=60)
            except subprocess.TimeoutExpired:
                supervisor.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def host(self) -> str:
        return str(self.root)


def postgres_spec(sockets: Path) -> ContainerSpec:
    """The server's container: the image's entrypoint (it stops the server at end of file on
    stdin), its data on a tmpfs inside the memory limit, its socket in ``sockets``."""
    return ContainerSpec(
        image=image_tag("postgres"),
        command=None,
        user="postgres",  # uid 999, the image's user
        memory_bytes=MEMORY_LIMIT,
        pids=1024,
        shm_size="256m",
        tmpfs={
            "/tmp": "rw,nosuid,nodev,size=64m",
            "/var/lib/mtenvs-pg": "rw,nosuid,nodev,size=8g,uid=999,gid=999",
        },
        mounts=(Mount(str(sockets), "/sockets", read_only=False),),
        environment={"MTENVS_EXIT_ON_EOF": "1"},
        labels={"mtenvs.image": "postgres"},
    )


class _DockerServer:
    """A container of ``mtenvs/postgres:<version>`` with its socket in a private directory
    (a :class:`~mtenvs.sandbox.service.ServiceContainer`: it exits when this process does)."""

    def __init__(self) -> None:
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
        self._stopped = True  # until started
        self._service: ServiceContainer | None = None
        # The socket directory must be writable by the server (uid 999); its private
        # parent keeps other local users from reaching a trust-auth socket.
        self.root = owned_tempdir(_SOCKET_DIR_PREFIX)
        sockets = self.root / "sockets"
        sockets.mkdir()
        sockets.chmod(0o777)
        try:
            self._service = ServiceContainer(postgres_spec(sockets), client=client)
        except Exception as e:  # the docker SDK raises several kinds; all mean "no server"
            self._stopped = False
            self.stop()
            raise PostgresUnavailableError(f"Could not start the PostgreSQL container: {e}") from e
        self.container_id = self._service.container_id
        self.host = str(sockets)
        self._stopped = False
        atexit.register(self.stop)
        multiprocessing.util.Finalize(self, self.stop, exitpriority=10)
        try:
            _wait_until_ready(
                self.host, self._service.exit_reason, lambda: self._service_logs()[-800:]
            )
        except PostgresUnavailableError:
            self.stop()
            raise

    def _service_logs(self) -> str:
        return self._service.logs() if self._service is not None else ""

    def stop(self) -> None:
        if self._stopped or os.getpid() != self.pid:
            return
        self._stopped = True
        if self._service is not None:
            self._service.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_until_ready(
    host: str, starting: Callable[[], str | None], logs: Callable[[], str]
) -> None:
    """Wait until the server at ``host`` accepts connections; ``starting()`` says why it
    never will (``None`` while it may), ``logs()`` its last output."""
    import psycopg

    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            psycopg.connect(host=host, dbname="postgres", user="postgres").close()
            return
        except psycopg.OperationalError as e:
            gone = starting()
            if gone is not None or time.monotonic() > deadline:
                raise PostgresUnavailableError(
                    f"The PostgreSQL server did not accept connections ({e}); "
                    f"{gone or 'still starting'}; logs: {logs() or 'none'}"
                ) from e
            time.sleep(0.05)


@functools.cache
def docker_problem() -> str | None:
    """Why the ``docker`` backend cannot run here (no engine, no image), or ``None``."""
    usable, why = image_status("postgres")
    return None if usable else why


class _Server(Protocol):
    @property
    def host(self) -> str: ...

    def stop(self) -> None: ...


#: Guards the servers (and, in :mod:`mtenvs.envs.sql.postgres`, the templates on them).
SERVER_LOCK = threading.RLock()
#: Running servers by backend (``docker``, ``local``) and their users.
_SERVERS: dict[str, _Server] = {}
_USERS: dict[str, int] = {}
#: Called with a server's host when it stops (its databases are gone with it).
_STOP_HOOKS: list[Callable[[str], None]] = []


def on_server_stop(hook: Callable[[str], None]) -> None:
    """Call ``hook(host)`` whenever a server of this process stops."""
    _STOP_HOOKS.append(hook)


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
    with SERVER_LOCK:
        server = _SERVERS.get(kind)
        if server is None:
            server = _SERVERS[kind] = _DockerServer() if kind == "docker" else _LocalServer()
        return server.host


def hold_server(kind: str) -> str:
    """Count one more user of ``kind``'s server (started if needed); returns its host."""
    with SERVER_LOCK:
        host = _host_of(kind)
        _USERS[kind] = _USERS.get(kind, 0) + 1
        return host


def release_server(kind: str) -> None:
    """One user of ``kind``'s server is done; the last one stops a container (a local
    server, a child of this process, stays until exit)."""
    with SERVER_LOCK:
        _USERS[kind] = _USERS.get(kind, 0) - 1
        if _USERS[kind] > 0 or kind != "docker" or kind not in _SERVERS:
            return
        server = _SERVERS.pop(kind)
    for hook in _STOP_HOOKS:
        hook(server.host)
    server.stop()


def connect(
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


def connection_lost(conn: Any) -> bool:
    """Whether an idle connection is gone: closed, broken, or with something to read. An
    idle session is sent nothing unless the server ends it (a terminated backend's FATAL
    message, a restart, a closed socket), so a readable socket means a dead session; a
    ``select`` costs about a microsecond, a round trip to ask the server far more."""
    from psycopg.pq import ConnStatus

    if conn.closed or conn.pgconn.status != ConnStatus.OK:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
