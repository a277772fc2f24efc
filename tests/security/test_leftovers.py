"""What an owner process starts for PostgreSQL and the web sites exits with it (issue 16,
finding 6): the PostgreSQL container (memory-limited) and the local PostgreSQL server die
when their owner is SIGKILLed, and the per-server temporary directories (``mtenvs-pgd-*``,
``mtenvs-pg-*``, ``mtenvs-web-*``) are removed on close and do not pile up after owners
that were killed. Each owner is a real subprocess; nothing here calls the reaper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql import pg_server
from tests._support import require
from tests.envs.sql._support import require_backend

#: Seconds a killed owner's leftovers may take to go.
_GRACE_S = 30.0

_PG_OWNER = """
import sys, time
import gymnasium as gym
import mtenvs
from mtenvs.envs.sql import pg_server
backend = sys.argv[1]
env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend=backend, schema="shop")
env.reset(seed=0)
server = pg_server._SERVERS[backend]
if backend == "docker":
    print(server.container_id, server.root, flush=True)
else:
    pid = (server.root / "data" / "postmaster.pid").read_text().split()[0]
    print(pid, server.root, flush=True)
if sys.argv[2] == "kill":
    time.sleep(600)
env.close()
"""

_WEB_OWNER = """
import sys, time
from mtenvs.envs.web.shop_data import ASSET
from mtenvs.envs.web.site import start_site
site = start_site("shop", ASSET, "docker")
print(site.container_id, site.root, flush=True)
if sys.argv[1] == "kill":
    time.sleep(600)
site.close()
"""


def _owner(script: str, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start an owner process; returns it and the words of the line it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line:
        proc.kill()
        proc.wait()
        pytest.fail(f"the owner process printed nothing (exit {proc.returncode})")
    return proc, line


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _finish(proc: subprocess.Popen[str]) -> None:
    assert proc.wait(timeout=120) == 0


def _eventually(condition: Callable[[], bool], what: str, timeout: float = _GRACE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {timeout:g} s")
        time.sleep(0.2)


def _container_exists(container_id: str) -> bool:
    import docker.errors

    from mtenvs.sandbox.engine import docker_client

    try:
        docker_client().containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


def _process_exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def test_postgres_container_has_a_memory_limit():
    require_backend("docker")
    from mtenvs.sandbox.engine import docker_client

    env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="docker", schema="shop")
    try:
        env.reset(seed=0)
        server = pg_server._SERVERS["docker"]
        host = docker_client().api.inspect_container(server.container_id)["HostConfig"]  # type: ignore[attr-defined]
        assert 0 < host["Memory"] <= 16 * 2**30
        assert host["MemorySwap"] == host["Memory"]  # no swap beyond it
        assert host["PidsLimit"] and host["PidsLimit"] > 0
    finally:
        env.close()


def test_postgres_container_and_socket_dir_go_with_a_killed_owner():
    require_backend("docker")
    owner, (container_id, root) = _owner(_PG_OWNER, "docker", "kill")
    assert _container_exists(container_id) and Path(root).is_dir()
    _kill(owner)
    _eventually(lambda: not _container_exists(container_id), "the container is still there")
    # The socket directory goes at the latest with the next server anyone starts; a
    # server closed normally takes its own directory along.
    nxt, (next_id, next_root) = _owner(_PG_OWNER, "docker", "close")
    _finish(nxt)
    assert not Path(root).exists()
    assert not Path(next_root).exists() and not _container_exists(next_id)


def test_local_postgres_server_goes_with_a_killed_owner():
    require_backend("local")
    owner, (pid, root) = _owner(_PG_OWNER, "local", "kill")
    postmaster = int(pid)
    assert _process_exists(postmaster) and Path(root).is_dir()
    _kill(owner)
    _eventually(lambda: not _process_exists(postmaster), "the local server still runs")
    _eventually(lambda: not Path(root).exists(), f"{root} is still there")
    nxt, (next_pid, next_root) = _owner(_PG_OWNER, "local", "close")
    _finish(nxt)
    assert not Path(next_root).exists() and not _process_exists(int(next_pid))


def test_web_site_dirs_are_removed_on_close_and_after_a_killed_owner():
    from mtenvs.envs.web.site import docker_site_available

    usable, why = docker_site_available()
    require(None if usable else why, "the web site container")
    owner, (container_id, site_dir) = _owner(_WEB_OWNER, "kill")
    assert Path(site_dir).is_dir()
    _kill(owner)
    _eventually(lambda: not _container_exists(container_id), "the site container is still there")
    nxt, (next_id, next_dir) = _owner(_WEB_OWNER, "close")
    _finish(nxt)
    assert not Path(next_dir).exists() and not _container_exists(next_id)
    assert not Path(site_dir).exists()  # the next start removed the killed owner's
