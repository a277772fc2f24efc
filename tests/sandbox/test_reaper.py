"""No leftovers: labels, the reaper, and kill -9 of the host process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mtenvs.sandbox.reaper import (
    LABEL_HOST,
    LABEL_OWNER,
    LABEL_OWNER_START,
    LABEL_SESSION,
    host_id,
    list_containers,
    owner_alive,
    owner_labels,
    reap,
)

pytestmark = pytest.mark.xdist_group("sandbox")

OWNER = textwrap.dedent(
    """
    import sys, time
    from mtenvs.sandbox import SESSION_ID, SandboxPool
    from mtenvs.sandbox.docker_sandbox import DockerSandbox
    boxes = [DockerSandbox(), DockerSandbox()]
    pool = SandboxPool(1, backend="docker")
    boxes[0].run("x = 1")
    print(SESSION_ID, flush=True)
    time.sleep(600)
    """
)


def test_owner_labels_describe_this_process():
    labels = owner_labels()
    assert labels[LABEL_OWNER] == str(os.getpid())
    assert labels[LABEL_HOST] == host_id()
    assert owner_alive(labels)
    assert not owner_alive({**labels, LABEL_OWNER_START: "1"})  # recycled pid
    assert not owner_alive({**labels, LABEL_OWNER: "999999999"})


@pytest.mark.docker
def test_kill_9_then_one_reap_leaves_zero_containers(docker_engine):
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        session = proc.stdout.readline().strip()
        assert session, "owner process did not start its sandboxes"
        assert len(list_containers(docker_engine, **{LABEL_SESSION: session})) == 3
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    removed = reap(docker_engine)
    assert not list_containers(docker_engine, **{LABEL_SESSION: session})
    assert all(r.session == session for r in removed)


@pytest.mark.docker
def test_reap_spares_live_owners(docker_sandbox, docker_engine):
    reap(docker_engine)
    assert docker_sandbox.run("1+1").value == "2"
    assert docker_sandbox.container_id in {c.id for c in list_containers(docker_engine)}
