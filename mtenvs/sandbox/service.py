"""A long-running server in a hardened container, owned by this process.

The PostgreSQL server (:mod:`mtenvs.envs.sql.pg_server`) and the web sites
(:mod:`mtenvs.envs.web.site`) run in a :class:`ServiceContainer`: each says what it runs
(a :class:`~mtenvs.sandbox.container.ContainerSpec`: image, mounts, command) and when it
is ready; starting, readiness polling, logs and removal are written here once.

The container's stdin is attached to this process and never written to: the server reads
end of file when this process closes the socket, exits, or is killed (SIGKILL included),
and then exits, and the container removes itself (``--rm``). Its owner labels let
:func:`mtenvs.sandbox.reaper.reap` remove whatever that misses.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from mtenvs.sandbox.base import SandboxUnavailableError
from mtenvs.sandbox.container import ContainerSpec, create_attached, remove_container
from mtenvs.sandbox.engine import docker_client

__all__ = ["ServiceContainer", "ServiceNotReadyError"]


class ServiceNotReadyError(SandboxUnavailableError):
    """A service container exited, or was not ready in time; the message has its output."""


class ServiceContainer:
    """A started container of ``spec`` whose stdin is held by this process.

    Arguments:
        spec: what to run (the hardening comes from :mod:`mtenvs.sandbox.container`).
        name: the container's name (Docker picks one by default).
        client: a docker SDK client (the process-wide one by default).
    """

    def __init__(self, spec: ContainerSpec, *, name: str | None = None, client: Any = None) -> None:
        self.spec = spec
        self._client = client or docker_client()
        self._owner = os.getpid()
        self._stopped = False
        self.container_id, self._stdin = create_attached(self._client, spec, name)
        try:
            self._client.api.start(self.container_id)
        except BaseException:
            self.stop()
            raise

    def exit_reason(self) -> str | None:
        """``None`` while the container is created or running, else how it ended."""
        try:
            state = self._client.api.inspect_container(self.container_id)["State"]
        except Exception:  # removed already (--rm): it exited
            return "it exited and was removed"
        if state.get("Running") or state.get("Status") == "created":
            return None
        return f"it exited (status {state.get('Status')}, code {state.get('ExitCode')})"

    def logs(self, tail: int = 20) -> str:
        """The last ``tail`` lines the server wrote (empty once the container is gone)."""
        with contextlib.suppress(Exception):  # gone already: nothing to show
            out: bytes = self._client.api.logs(self.container_id, tail=tail)
            return out.decode("utf-8", "replace").strip()
        return ""

    def wait_ready(self, ready: Callable[[], bool], timeout: float, poll_s: float = 0.02) -> None:
        """Poll ``ready()`` until it holds; raise :class:`ServiceNotReadyError` (with the
        server's last output) when the container exits or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not ready():
            gone = self.exit_reason()
            if gone is not None or time.monotonic() > deadline:
                why = gone or f"not ready within {timeout:g} s"
                raise ServiceNotReadyError(f"{why}; its output: {self.logs() or 'none'}")
            time.sleep(poll_s)

    def stop(self) -> None:
        """Close our end of its stdin and remove the container. Best effort (it also runs
        at interpreter exit) and only in the owner: a forked child that exits must not take
        its parent's server along."""
        if self._stopped or os.getpid() != self._owner:
            return
        self._stopped = True
        if self._stdin is not None:
            with contextlib.suppress(Exception):
                self._stdin.close()
            self._stdin = None
        # A container left behind (engine away, removal under way) exits on its closed
        # stdin, or is the reaper's.
        with contextlib.suppress(Exception):
            remove_container(self._client, self.container_id)
