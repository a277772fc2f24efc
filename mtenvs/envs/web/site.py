"""Host side of the web sites: start a site server, reset it, read its state.

Two backends serve ``sandboxes/web/server.py`` (stdlib only) on a 127.0.0.1 port:

* :class:`DockerSite`: the server runs in a ``mtenvs/web:<version>`` container with no
  network at all (``--network none``, read-only root, no capabilities, non-root user). It
  listens on a unix socket in a bind-mounted directory, and a host thread forwards a
  loopback TCP port to that socket: the browser reaches the site, the site reaches nothing.
  The container is a :class:`~mtenvs.sandbox.service.ServiceContainer` (the hardening of
  :mod:`mtenvs.sandbox.container`): labelled for the reaper, it exits when its owner does
  (its server reads EOF on the attached stdin). The socket's host directory (``mtenvs-web-<pid>-*``) goes on
  close or at exit, and, after an owner that was killed, with the next site started
  (:mod:`mtenvs.sandbox.owned_dirs`).
* :class:`SiteProcess`: the server as a child process on a free loopback port (no Docker).

:func:`start_site` picks one (``"auto"``: Docker when the engine is reachable and the image
is built, else the local process). Either way the admin endpoints are guarded by a random
token that only this process knows, so the browser (and the agent in it) can neither reset
the site nor read the hidden state.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import secrets
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import urllib.request
import weakref
from pathlib import Path
from typing import Any, Literal

from mtenvs.error import Error, check_choice
from mtenvs.sandbox.base import SandboxUnavailableError, sandboxes_dir
from mtenvs.sandbox.container import ContainerSpec, Mount
from mtenvs.sandbox.engine import docker_client
from mtenvs.sandbox.images import image_status, image_tag, require_image
from mtenvs.sandbox.owned_dirs import owned_tempdir
from mtenvs.sandbox.service import ServiceContainer, ServiceNotReadyError

__all__ = [
    "SITE_BACKENDS",
    "DockerSite",
    "SiteBackend",
    "SiteProcess",
    "SiteServer",
    "WebSiteError",
    "docker_site_available",
    "server_script",
    "site_spec",
    "start_site",
    "web_image",
]

SiteBackend = Literal["auto", "docker", "local"]
SITE_BACKENDS: tuple[str, ...] = ("auto", "docker", "local")
_START_TIMEOUT_S = 15.0
#: Name of the site container image under ``sandboxes/`` (``mtenvs/web:<version>``).
WEB_IMAGE_NAME = "web"
_SOCKET = "site.sock"
#: Prefix of the containers' socket directories (:mod:`mtenvs.sandbox.owned_dirs`).
_DIR_PREFIX = "mtenvs-web-"
_NAMES = itertools.count()


class WebSiteError(Error, RuntimeError):
    """The site server could not be started or stopped answering."""


def server_script() -> Path:
    """Path of ``sandboxes/web/server.py`` (see :func:`mtenvs.sandbox.base.sandboxes_dir`)."""
    try:
        return sandboxes_dir() / "web" / "server.py"
    except SandboxUnavailableError as exc:
        raise WebSiteError(str(exc)) from exc


def web_image() -> str:
    """The site image's tag: ``$MTENVS_WEB_IMAGE``, else ``mtenvs/web:<package version>``."""
    return os.environ.get("MTENVS_WEB_IMAGE") or image_tag(WEB_IMAGE_NAME)


class SiteServer:
    """A running site server reached at :attr:`origin` (``http://127.0.0.1:<port>``)."""

    site: str
    origin: str
    #: ``"docker"`` or ``"local"``: where the server runs.
    backend: str
    _token: str

    def _opener(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _admin(self, path: str, method: str) -> bytes:
        req = urllib.request.Request(
            self.origin + path,
            method=method,
            headers={"X-Mtenvs-Token": self._token},
            data=b"" if method == "POST" else None,
        )
        try:
            with self._opener().open(req, timeout=_START_TIMEOUT_S) as resp:
                body: bytes = resp.read()
                return body
        except OSError as e:
            raise WebSiteError(
                f"The {self.site} site server at {self.origin} ({self.backend}) is not "
                f"answering ({e})."
            ) from e

    def reset(self) -> None:
        """Restore the seeded state."""
        self._admin("/__reset", "POST")

    def state(self) -> dict[str, Any]:
        """The server's full state (what tasks are verified against)."""
        data: dict[str, Any] = json.loads(self._admin("/__state", "GET"))
        return data

    @property
    def alive(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SiteProcess(SiteServer):
    """One site server child process (``site`` is a module in ``sandboxes/web``)."""

    backend = "local"

    def __init__(self, site: str, data_path: Path) -> None:
        self.site = site
        self._token = secrets.token_hex(16)
        env = {**os.environ, "MTENVS_WEB_TOKEN": self._token, "PYTHONDONTWRITEBYTECODE": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-u", str(server_script()), "--site", site, "--data", str(data_path)],
            # stdin stays open and unused: the server exits when it reads EOF, i.e. when
            # this process is gone, even if it was killed before close() could run.
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._proc.stdout is not None  # Popen with PIPE
        line = self._proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.close()
            raise WebSiteError(f"The {site} site server did not start (it printed {line!r}).")
        self.port = int(line.split()[1])
        self.origin = f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()


class _Pipe(socketserver.BaseRequestHandler):
    """One browser connection, piped both ways to a new connection to the unix socket."""

    server: _Forwarder

    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.server.unix_path)
        except OSError:
            upstream.close()
            return
        ends = {self.request: upstream, upstream: self.request}
        open_reads = set(ends)
        try:
            while open_reads:
                for sock in select.select(list(open_reads), [], [], 30.0)[0]:
                    data = sock.recv(1 << 16)
                    if data:
                        ends[sock].sendall(data)
                    else:  # one side finished writing: pass the half-close on
                        open_reads.discard(sock)
                        with contextlib.suppress(OSError):
                            ends[sock].shutdown(socket.SHUT_WR)
        except OSError:
            pass  # a side went away: drop the connection, as a proxy would
        finally:
            upstream.close()


class _Forwarder(socketserver.ThreadingTCPServer):
    """127.0.0.1:<free port> → the container's unix socket (one thread per connection)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, unix_path: str) -> None:
        super().__init__(("127.0.0.1", 0), _Pipe)
        self.unix_path = unix_path
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def site_spec(site: str, image: str, socket_dir: str, data_path: Path, token: str) -> ContainerSpec:
    """The container of ``site``: its server writes its unix socket into ``socket_dir``
    and reads this checkout's site code and ``data_path``, read-only."""
    return ContainerSpec(
        image=image,
        command=(site,),
        user="1000:1000",
        memory_bytes=256 * 2**20,
        pids=64,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=16m,mode=1777"},
        mounts=(
            Mount(socket_dir, "/sock", read_only=False),
            # this checkout's site code over the image's copy: a container never runs
            # older site code than a local process would
            Mount(str(server_script().parent), "/opt/mtenvs/web"),
            Mount(str(Path(data_path).resolve()), "/data/site.json"),
        ),
        environment={"MTENVS_WEB_TOKEN": token},
        labels={"mtenvs.web_site": site},
    )


class DockerSite(SiteServer):
    """One site server in a ``mtenvs/web`` container with no network, reached through a
    host-side loopback port forwarded to the unix socket it serves on."""

    backend = "docker"

    def __init__(self, site: str, data_path: Path, *, image: str | None = None) -> None:
        self.site = site
        self.image = image or web_image()
        self._token = secrets.token_hex(16)
        self._client = docker_client()
        try:
            require_image(self._client, self.image, "or use site_backend='local'")
        except SandboxUnavailableError as e:
            raise WebSiteError(str(e)) from e
        # A private directory (0700, it names its owner) holding the one the container's
        # non-root user writes its socket into.
        self.root = owned_tempdir(_DIR_PREFIX)
        self._remove_root = weakref.finalize(self, _remove_dir, os.getpid(), self.root)
        self._dir = str(self.root / "sock")
        os.mkdir(self._dir)
        os.chmod(self._dir, 0o777)
        self.unix_path = os.path.join(self._dir, _SOCKET)
        self._service: ServiceContainer | None = None
        self._forwarder: _Forwarder | None = None
        try:
            self._start(data_path)
        except BaseException:
            self.close()
            raise
        assert self._forwarder is not None  # set by _start
        self.port = self._forwarder.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"

    @property
    def container_id(self) -> str | None:
        return self._service.container_id if self._service is not None else None

    def _start(self, data_path: Path) -> None:
        spec = site_spec(self.site, self.image, self._dir, data_path, self._token)
        name = f"mtenvs-web-{self.site}-{os.getpid()}-{next(_NAMES)}"
        self._service = ServiceContainer(spec, name=name, client=self._client)
        try:
            self._service.wait_ready(
                lambda: os.path.exists(self.unix_path), timeout=_START_TIMEOUT_S
            )
        except ServiceNotReadyError as e:
            raise WebSiteError(
                f"The {self.site} site container ({self.image}) did not start serving: {e}"
            ) from e
        self._forwarder = _Forwarder(self.unix_path)

    @property
    def alive(self) -> bool:
        """Whether the server accepts connections (a unix connect costs microseconds, an
        engine round trip milliseconds)."""
        if self._forwarder is None:
            return False
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.unix_path)
        except OSError:
            return False
        finally:
            probe.close()
        return True

    def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None
        if self._service is not None:
            self._service.stop()
            self._service = None
        self._remove_root()


def _remove_dir(owner: int, path: Path) -> None:
    """Remove ``path`` (on close, or at exit for a site never closed), in its owner only:
    a forked child that exits must not take its parent's directory along."""
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _docker_site_available(pid: int) -> tuple[bool, str]:
    return image_status(web_image())


def docker_site_available() -> tuple[bool, str]:
    """``(usable, why)``: whether sites can run in containers here (checked once per
    process: the engine answers and the ``mtenvs/web`` image is built)."""
    return _docker_site_available(os.getpid())


def start_site(site: str, data_path: Path, backend: str = "auto") -> SiteServer:
    """Start ``site``'s server on ``backend`` (``"auto"``: Docker when usable, else local)."""
    check_choice("site_backend", backend, SITE_BACKENDS)
    if backend == "auto":
        backend = "docker" if docker_site_available()[0] else "local"
    if backend == "docker":
        try:
            return DockerSite(site, data_path)
        except WebSiteError:
            raise
        except Error as e:  # the engine is unreachable: say so, with the fix
            raise WebSiteError(
                f"site_backend='docker' needs a Docker engine: {e} (or use site_backend='local')"
            ) from e
    return SiteProcess(site, data_path)
