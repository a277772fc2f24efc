"""``DockerSandbox``: one locked-down container per sandbox, its REPL server attached.

The host attaches to the container's stdin/stdout once, before starting it, and then
speaks framed JSON over that socket: a round trip is a fraction of a millisecond, where
one ``docker exec`` costs tens of milliseconds. The container runs with ``--rm`` and
``StdinOnce``, so when the host process dies its socket closes, the server sees EOF and
exits, and the container removes itself; :mod:`mtenvs.sandbox.reaper` catches the rest.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from typing import Any

from mtenvs.sandbox.base import (
    BackendName,
    SandboxDiedError,
    SandboxLimits,
    SandboxUnavailableError,
    ServerConnection,
    ServerSandbox,
)
from mtenvs.sandbox.images import image_tag
from mtenvs.sandbox.reaper import owner_labels

__all__ = ["DockerSandbox", "docker_client", "engine_status"]

INSTALL_HINT = 'pip install "mtenvs[code]"'
START_FIX = "run `make test` (as root it installs and starts Docker) or `sudo dockerd &`"
_client_lock = threading.Lock()
_clients: dict[tuple[int, float], Any] = {}
#: Docker's default masked paths, plus the kernel's symbol table and module list (readable
#: by any user in a container otherwise; addresses are zeroed, the names are not).
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/kallsyms", "/proc/modules",
]  # fmt: skip
#: How long the REPL server may take to say it is ready after the container starts.
START_TIMEOUT_S = 60.0


def docker_client(timeout: float = 60.0) -> Any:
    """The shared docker SDK client of this process (raises with the fix when unusable)."""
    try:
        import docker
    except ImportError as e:
        raise SandboxUnavailableError(
            f"The docker Python package is missing; install it with `{INSTALL_HINT}`."
        ) from e
    # Keyed by pid: a client inherited through fork shares its parent's pooled sockets,
    # and two processes reading one socket hang (seen as 60 s read timeouts in
    # AsyncVectorEnv workers).
    key = (os.getpid(), timeout)
    with _client_lock:
        client = _clients.get(key)
        if client is None:
            try:
                client = docker.from_env(timeout=int(timeout), max_pool_size=64)
            except docker.errors.DockerException as e:
                raise SandboxUnavailableError(
                    f"No Docker engine reachable ({e}); {START_FIX}."
                ) from e
            _clients[key] = client
        return client


def engine_status(timeout: float = 3.0) -> tuple[bool, str]:
    """``(reachable, detail)`` of the Docker engine, without raising."""
    try:
        import docker
    except ImportError:
        return False, f"docker Python package not installed ({INSTALL_HINT})"
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        version = client.version().get("Version", "?")
        client.close()
    except Exception as e:  # any failure means "not usable"; say why
        return False, f"no Docker engine reachable ({type(e).__name__}: {e})"
    return True, f"Docker engine {version} reachable"


class _AttachedSocket(ServerConnection):
    """The container's attached stdin/stdout/stderr (docker's multiplexed stream)."""

    def __init__(self, sock: Any) -> None:
        super().__init__()
        self._holder = sock  # keeps the HTTP response (and so the socket) alive
        self.sock: socket.socket = getattr(sock, "_sock", sock)
        self.sock.setblocking(True)
        self._raw = bytearray()
        #: The last bytes the server wrote to stderr (diagnostics when it dies).
        self.diagnostics = bytearray()

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            out = self._demux()
            if out:
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the container")
            if not select.select([self.sock], [], [], left)[0]:
                continue
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError as e:
                raise SandboxDiedError(f"container socket error: {e}") from e
            if not chunk:
                return b""
            self._raw += chunk

    def _demux(self) -> bytes:
        """stdout payloads out of the buffered stream frames (stderr goes to diagnostics)."""
        out = bytearray()
        while len(self._raw) >= 8:
            stream, size = self._raw[0], int.from_bytes(self._raw[4:8], "big")
            if len(self._raw) < 8 + size:
                break
            payload = self._raw[8 : 8 + size]
            del self._raw[: 8 + size]
            if stream == 1:
                out += payload
            else:
                self.diagnostics = (self.diagnostics + payload)[-4096:]
        return bytes(out)

    def eof_pending(self) -> bool:
        """The container closed its end (checked without blocking or a round trip)."""
        try:
            if not select.select([self.sock], [], [], 0)[0]:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class DockerSandbox(ServerSandbox):
    """A sandbox in its own container; see :class:`SandboxLimits` for what is enforced.

    Arguments:
        image: image to run (default ``mtenvs/python:<version>``, built by
            ``mtenvs images build``).
        limits: resource limits (:data:`DEFAULT_LIMITS` by default).
        client: a docker SDK client (the process-wide one by default).
    """

    backend: BackendName = "docker"

    def __init__(
        self,
        *,
        image: str | None = None,
        limits: SandboxLimits | None = None,
        client: Any = None,
    ) -> None:
        super().__init__(limits)
        self.image = image or image_tag("python")
        self._client = client or docker_client()
        self.container_id: str | None = None
        self._check_image()
        self._start()

    def _check_image(self) -> None:
        import docker.errors

        try:
            self._client.images.get(self.image)
        except docker.errors.ImageNotFound as e:
            raise SandboxUnavailableError(
                f"Docker image {self.image!r} is not built; run `mtenvs images build`."
            ) from e

    def _host_config(self) -> Any:
        lim = self.limits
        uid, _, gid = lim.user.partition(":")
        gid = gid or uid  # docker ignores a tmpfs mode, but not its owner
        config = self._client.api.create_host_config(
            network_mode="bridge" if lim.network else "none",
            mem_limit=lim.memory_bytes,
            memswap_limit=lim.memory_bytes,  # no swap
            pids_limit=lim.pids,
            nano_cpus=int(lim.cpus * 1e9),
            read_only=lim.read_only_root,
            tmpfs={
                "/tmp": f"rw,nosuid,nodev,size={lim.tmp_bytes},mode=1777",
                "/workspace": f"rw,nosuid,nodev,size={lim.workspace_bytes},uid={uid},gid={gid}",
                "/dev/shm": f"rw,nosuid,nodev,noexec,size={lim.shm_bytes},mode=1777",
            },
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],  # default seccomp profile stays on
            auto_remove=True,
            init=False,  # the REPL server is PID 1: it reaps orphans and kill -9 1 is void
        )
        config["MaskedPaths"] = MASKED_PATHS
        return config

    def _start_server(self) -> ServerConnection:
        api = self._client.api
        lim = self.limits
        config = api.create_container_config(
            self.image,
            command=lim.server_args(),
            stdin_open=True,
            tty=False,
            user=lim.user,
            hostname="sandbox",
            working_dir="/workspace",
            environment={"HOME": "/workspace", "TMPDIR": "/tmp"},
            labels=owner_labels(),
            network_disabled=not lim.network,
            host_config=self._host_config(),
        )
        config["StdinOnce"] = True  # our socket closing = the server's stdin at EOF = exit
        config["AttachStdin"] = config["AttachStdout"] = config["AttachStderr"] = True
        container = api.create_container_from_config(config, name=f"{self.name}-{self.recoveries}")
        self.container_id = container["Id"]
        sock = api.attach_socket(
            self.container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        conn = _AttachedSocket(sock)
        self._socket = conn
        api.start(self.container_id)
        try:
            hello = conn.read_frame(START_TIMEOUT_S)
        except (SandboxDiedError, TimeoutError) as e:
            diag = conn.diagnostics.decode("utf-8", "replace").strip()
            raise SandboxDiedError(
                f"container of {self.image!r} did not start its REPL server ({e}); "
                f"server said: {diag or 'nothing'}"
            ) from e
        if not hello.get("ready"):
            raise SandboxDiedError(f"unexpected first message from the REPL server: {hello}")
        return conn

    def _server_gone(self) -> bool:
        return self._socket.eof_pending()

    def _stop_server(self) -> None:
        import docker.errors

        conn = getattr(self, "_socket", None)
        if conn is not None:
            conn.close()
        cid, self.container_id = self.container_id, None
        if cid is None:
            return
        try:
            self._client.api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: --rm removal already under way
                raise

    def kill_container(self) -> None:
        """Kill the container from outside (what a crash or ``docker kill`` does); tests use it."""
        if self.container_id:
            self._client.api.kill(self.container_id)
