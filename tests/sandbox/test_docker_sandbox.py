"""DockerSandbox: the container's configuration, labels, recovery and cleanup."""

from __future__ import annotations

import os

import pytest

from mtenvs.sandbox import SandboxLimits
from mtenvs.sandbox.reaper import LABEL_OWNER, LABEL_SESSION, list_containers
from tests.sandbox._support import TEST_LIMITS

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("sandbox")]


def test_container_is_locked_down(docker_sandbox, docker_engine):
    attrs = docker_engine.api.inspect_container(docker_sandbox.container_id)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == TEST_LIMITS.memory_bytes == 512 * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == 128
    assert host["NanoCpus"] == 1_000_000_000
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert not any("seccomp" in opt for opt in host["SecurityOpt"])  # default profile
    assert host["Privileged"] is False
    assert set(host["Tmpfs"]) == {"/tmp", "/workspace", "/dev/shm"}
    assert "/proc/kallsyms" in host["MaskedPaths"] and "/proc/kcore" in host["MaskedPaths"]
    assert attrs["Config"]["User"] == "1000:1000"
    labels = attrs["Config"]["Labels"]
    assert labels[LABEL_OWNER] == str(os.getpid())
    r = docker_sandbox.run("import os; os.getuid(), os.getcwd()")
    assert r.value == "(1000, '/workspace')"


def test_numeric_stack_is_installed(docker_sandbox):
    r = docker_sandbox.run("import numpy, sympy, pandas\nint(numpy.arange(5).sum())", timeout=60)
    assert r.value == "10", r


def test_round_trip_is_fast(docker_sandbox):
    import time

    docker_sandbox.run("1")
    start = time.perf_counter()
    for _ in range(50):
        docker_sandbox.run("print(1+1)")
    assert (time.perf_counter() - start) / 50 < 0.02  # docker exec costs ~70 ms


def test_killed_container_recovers_transparently(docker_engine):
    from mtenvs.sandbox.docker_sandbox import DockerSandbox

    with DockerSandbox(limits=TEST_LIMITS) as sb:
        sb.run("x = 1")
        first = sb.container_id
        sb.kill_container()
        r = sb.run("1+1")  # the kill happened between calls: recovered before running
        assert r.value == "2" and r.restarted
        assert sb.container_id != first and sb.recoveries == 1
        assert "NameError" in sb.run("x").error


def test_close_removes_the_container(docker_engine):
    from mtenvs.sandbox.docker_sandbox import DockerSandbox

    sb = DockerSandbox(limits=SandboxLimits(memory_bytes=256 * 1024 * 1024))
    cid = sb.container_id
    assert any(c.id == cid for c in list_containers(docker_engine))
    sb.close()
    sb.close()  # idempotent
    assert not any(c.id == cid for c in list_containers(docker_engine))
    with pytest.raises(Exception, match="closed"):
        sb.run("1")


def test_labels_name_this_session(docker_sandbox, docker_engine):
    from mtenvs.sandbox import SESSION_ID

    ours = list_containers(docker_engine, **{LABEL_SESSION: SESSION_ID})
    assert docker_sandbox.container_id in {c.id for c in ours}
