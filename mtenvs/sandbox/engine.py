"""The Docker engine: this process's client and whether an engine answers at all.

Every container of mtenvs (code sandboxes, the PostgreSQL server, the web sites) and every
tool around them (images, reaper, ``mtenvs doctor``) reaches the engine through
:func:`docker_client`. The docker SDK is imported here, lazily: ``import mtenvs`` works
without it, and the error says how to install it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mtenvs.sandbox.base import SandboxUnavailableError

__all__ = ["INSTALL_HINT", "START_FIX", "docker_client", "engine_status"]

INSTALL_HINT = 'pip install "mtenvs[code]"'
START_FIX = "run `make test` (as root it installs and starts Docker) or `sudo dockerd &`"
_client_lock = threading.Lock()
_clients: dict[tuple[int, float], Any] = {}


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
