"""The ``docker`` PostgreSQL backend's container lifecycle: removed when the last env
closes, and by the reaper when its owner process is SIGKILLed and the container could not
exit by itself (tests/security/test_leftovers.py checks that it does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql import pg_server
from mtenvs.error import InvalidArgumentError
from tests.envs.sql._support import require_backend

pytestmark = pytest.mark.docker


def _exists(container_id: str) -> bool:
    import docker.errors

    from mtenvs.sandbox.engine import docker_client

    try:
        docker_client().containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


def test_container_is_locked_down_and_gone_after_close():
    require_backend("docker")
    env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="docker", schema="shop")
    env.reset(seed=0)
    server = pg_server._SERVERS["docker"]
    container_id = server.container_id  # type: ignore[attr-defined]
    from mtenvs.sandbox.engine import docker_client
    from mtenvs.sandbox.reaper import LABEL_OWNER

    attrs = docker_client().containers.get(container_id).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"]
    assert "/var/lib/mtenvs-pg" in host["Tmpfs"] and host["CapDrop"] == ["ALL"]
    assert attrs["Config"]["Labels"][LABEL_OWNER] == str(os.getpid())
    assert oct(os.stat(server.root).st_mode & 0o777) == "0o700"  # type: ignore[attr-defined]
    query = (
        "```sql\nSELECT COUNT(*) AS n, MIN(name) AS first FROM customers WHERE city = 'Paris'\n```"
    )
    lite = gym.make("mtenvs/Sql-v0", schema="shop")
    lite.reset(seed=0)
    assert env.step(query)[0] == lite.step(query)[0]  # same data as SQLite
    second = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="docker", schema="shop")
    second.reset(seed=1)
    assert pg_server._SERVERS["docker"].container_id == container_id  # type: ignore[attr-defined]
    env.close()
    assert _exists(container_id)  # the second env still uses it
    second.close()
    assert not _exists(container_id)
    assert not server.root.exists()  # type: ignore[attr-defined]


_OWNER = """
import sys, time
import gymnasium as gym
import mtenvs
from mtenvs.envs.sql import pg_server
env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="docker", schema="shop")
env.reset(seed=0)
print(pg_server._SERVERS["docker"].container_id, flush=True)
time.sleep(600)
"""


def test_reaper_removes_the_container_of_a_killed_owner():
    require_backend("docker")
    from mtenvs.sandbox.reaper import reap

    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert owner.stdout is not None
        container_id = owner.stdout.readline().strip()
        assert container_id and _exists(container_id)
        # Paused, it cannot see its owner go (it would exit on its own): the reaper's case.
        from mtenvs.sandbox.engine import docker_client

        docker_client().containers.get(container_id).pause()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
    assert _exists(container_id)  # SIGKILL ran no cleanup
    import docker.errors

    for _ in range(5):  # reap() lists then inspects: other processes' removals race it
        try:
            removed = reap()
            break
        except docker.errors.NotFound:
            time.sleep(0.2)
    else:
        pytest.fail("reap() kept racing with container removals")
    assert container_id[:12] in {r.id for r in removed}
    deadline = time.monotonic() + 15
    while _exists(container_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _exists(container_id)
    # The next server start also removes the dead owner's socket directory.
    env = gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="docker", schema="shop")
    env.reset(seed=0)
    env.close()
    assert not list(Path(tempfile.gettempdir()).glob(f"mtenvs-pgd-{owner.pid}-*"))


def test_backend_argument_errors():
    with pytest.raises(InvalidArgumentError, match="choose one of 'auto', 'docker', 'local'"):
        gym.make("mtenvs/Sql-v0", dialect="postgres", postgres_backend="podman")
    with pytest.raises(InvalidArgumentError, match="needs dialect='postgres'"):
        gym.make("mtenvs/Sql-v0", postgres_backend="docker")
