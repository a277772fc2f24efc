"""The PostgreSQL server of ``dialect="postgres"``: where it runs, started once per process.

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

Each process has its own server; envs hold it while open (:func:`hold_server`,
:func:`release_server`).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from mtenvs.error import Error, check_choice

__all__ = [
    "POSTGRES_BACKENDS",
    "SERVER_LOCK",
    "PostgresUnavailableError",
    "connect",
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
    from mtenvs.sandbox.images import image_status

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
