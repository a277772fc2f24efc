"""``DockerSandbox``: one locked-down container per sandbox, its REPL server attached.

The host attaches to the container's stdin/stdout once, before starting it, and then
speaks framed JSON over that socket: a round trip is a fraction of a millisecond, where
one ``docker exec`` costs tens of milliseconds. The container runs with ``--rm`` and
``StdinOnce``, so when the host process dies its socket closes, the server sees EOF and
exits, and the container removes itself; :mod:`mtenvs.sandbox.reaper` catches the rest.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import Any

from mtenvs.sandbox.base import (
    BackendName,
    SandboxDiedError,
    SandboxLimits,
    ServerConnection,
    ServerSandbox,
)
from mtenvs.sandbox.container import ContainerSpec, create_attached, remove_container
from mtenvs.sandbox.engine import docker_client, engine_status
from mtenvs.sandbox.images import image_tag, require_image

# docker_client and engine_status live in mtenvs.sandbox.engine; still importable from here.
__all__ = ["DockerSandbox", "docker_client", "engine_status", "sandbox_spec"]

#: How long the REPL server may take to say it is ready after the container starts.
START_TIMEOUT_S = 60.0


def sandbox_spec(image: str, limits: SandboxLimits) -> ContainerSpec:
    """The container of a sandbox of ``image`` under ``limits``: the REPL server as PID 1
    (it reaps orphans, and ``kill -9 1`` is void), its tmpfs owned by the sandbox user."""
    uid, _, gid = limits.user.partition(":")
    gid = gid or uid  # docker ignores a tmpfs mode, but not its owner
    return ContainerSpec(
        image=image,
        command=tuple(limits.server_args()),
        user=limits.user,
        memory_bytes=limits.memory_bytes,
        pids=limits.pids,
        cpus=limits.cpus,
        tmpfs={
            "/tmp": f"rw,nosuid,nodev,size={limits.tmp_bytes},mode=1777",
            "/workspace": f"rw,nosuid,nodev,size={limits.workspace_bytes},uid={uid},gid={gid}",
            "/dev/shm": f"rw,nosuid,nodev,noexec,size={limits.shm_bytes},mode=1777",
        },
        environment={"HOME": "/workspace", "TMPDIR": "/tmp"},
        hostname="sandbox",
        working_dir="/workspace",
        init=False,
        network=limits.network,
        read_only_root=limits.read_only_root,
        attach_output=True,
    )


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
        require_image(self._client, self.image)

    def _start_server(self) -> ServerConnection:
        spec = sandbox_spec(self.image, self.limits)
        name = f"{self.name}-{self.recoveries}"
        self.container_id, sock = create_attached(self._client, spec, name)
        conn = _AttachedSocket(sock)
        self._socket = conn
        self._client.api.start(self.container_id)
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
        conn = getattr(self, "_socket", None)
        if conn is not None:
            conn.close()
        cid, self.container_id = self.container_id, None
        if cid is not None:
            remove_container(self._client, cid)

    def kill_container(self) -> None:
        """Kill the container from outside (what a crash or ``docker kill`` does); tests use it."""
        if self.container_id:
            self._client.api.kill(self.container_id)
