"""Fixtures shared by tests/sandbox and tests/security (imported by both conftests).

Docker tests are marked ``docker`` and use :func:`docker_engine`: it skips when no engine
is reachable, unless ``CI`` is set, where a missing engine fails (CI must exercise Docker;
``make test`` starts one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mtenvs.sandbox import LocalSandbox, SandboxLimits
from mtenvs.sandbox.local_sandbox import local_isolation

#: Short wall timeout for the tests that hit it (the default is 10 s).
TEST_LIMITS = SandboxLimits(timeout_s=5.0)
SHORT_TIMEOUT = 2.0


def _docker_problem() -> str | None:
    try:
        from mtenvs.sandbox.docker_sandbox import docker_client, engine_status
        from mtenvs.sandbox.images import image_present, image_tag
    except ImportError as e:  # pragma: no cover - docker extra missing
        return f"docker SDK missing ({e})"
    ok, detail = engine_status()
    if not ok:
        return detail
    if not image_present(docker_client(), image_tag("python")):
        return f"image {image_tag('python')} not built (run `mtenvs images build`)"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> object:
    """The docker client; skip without an engine, but fail when ``CI`` is set."""
    problem = _docker_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but Docker sandboxes are unusable: {problem}")
        pytest.skip(f"Docker sandboxes unusable: {problem}")
    from mtenvs.sandbox.docker_sandbox import docker_client

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
