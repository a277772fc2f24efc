"""Fixtures shared by tests/sandbox and tests/security (imported by both conftests).

Docker tests are marked ``docker`` and use :func:`docker_engine`: it skips when no engine
is reachable, unless ``CI`` is set, where a missing engine fails (CI must exercise Docker;
``make test`` starts one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtenvs.sandbox import LocalSandbox, SandboxLimits
from mtenvs.sandbox.local_sandbox import local_isolation
from tests._support import require

#: Short wall timeout for the tests that hit it (the default is 10 s).
TEST_LIMITS = SandboxLimits(timeout_s=5.0)
SHORT_TIMEOUT = 2.0


@pytest.fixture(scope="session")
def docker_engine() -> object:
    """The docker client; skip without an engine, but fail when ``CI`` is set."""
    from mtenvs.sandbox.images import image_status

    usable, why = image_status("python")
    require(None if usable else why, "Docker sandboxes")
    from mtenvs.sandbox.engine import docker_client

    return docker_client()


@pytest.fixture(scope="session")
def docker_sandbox(docker_engine: object) -> Iterator[object]:
    from mtenvs.sandbox.docker_sandbox import DockerSandbox

    sb = DockerSandbox(limits=TEST_LIMITS)
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def local_sandbox() -> Iterator[LocalSandbox]:
    sb = LocalSandbox(limits=TEST_LIMITS)
    yield sb
    sb.close()


BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> object:
    """The shared sandbox of each backend (tests must leave it usable)."""
    return request.getfixturevalue(f"{request.param}_sandbox")


def require_local(guarantee: str) -> None:
    """Skip a LocalSandbox test whose guarantee does not hold on this machine."""
    if not local_isolation()[guarantee]:
        reasons = {
            "network_namespace": "LocalSandbox has no network namespace here (needs root and "
            "`unshare -n`): the code shares the host network",
            "pid_namespace": "LocalSandbox has no pid namespace here (needs root and "
            "`unshare -p`): host processes and their /proc entries are visible",
            "private_uid": "LocalSandbox runs as the calling user here (a private uid needs "
            "root): host files of that user are readable and writable",
        }
        pytest.skip(reasons[guarantee])
