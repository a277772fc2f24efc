"""ServiceContainer (the PostgreSQL server's and the web sites' container) against a fake
engine: what it asks Docker for, readiness, and cleanup. The real containers are tested in
tests/envs/sql/test_postgres_docker.py and tests/envs/web/test_site_docker.py."""

from __future__ import annotations

from typing import Any

import pytest

from mtenvs.sandbox.container import ContainerSpec
from mtenvs.sandbox.service import ServiceContainer, ServiceNotReadyError

pytest.importorskip("docker")

SPEC = ContainerSpec(
    image="mtenvs/test:1", command=("serve",), user="1000:1000", memory_bytes=64 * 2**20,
    pids=16, tmpfs={"/tmp": "rw,nosuid,nodev,size=1m"},
)  # fmt: skip


class _Socket:
    closed = False

    def close(self) -> None:
        self.closed = True


class _API:
    api_version = "1.43"

    def __init__(self, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.created: list[tuple[dict[str, Any], str | None]] = []
        self.attached: dict[str, int] = {}
        self.started: list[str] = []
        self.removed: list[str] = []
        self.state: dict[str, Any] = {"Running": True, "Status": "running"}
        self.sock = _Socket()

    def create_container_from_config(self, config: dict[str, Any], name: str | None = None):
        self.created.append((config, name))
        return {"Id": "c0ffee"}

    def attach_socket(self, cid: str, params: dict[str, int]) -> _Socket:
        self.attached = params
        return self.sock

    def start(self, cid: str) -> None:
        if self.fail_start:
            raise RuntimeError("engine said no")
        self.started.append(cid)

    def inspect_container(self, cid: str) -> dict[str, Any]:
        return {"State": self.state}

    def logs(self, cid: str, tail: int) -> bytes:
        return b"FATAL: out of cheese\n"

    def remove_container(self, cid: str, force: bool) -> None:
        self.removed.append(cid)


class _Client:
    def __init__(self, **kw: bool) -> None:
        self.api = _API(**kw)


def test_starts_a_hardened_container_with_only_stdin_attached() -> None:
    client = _Client()
    service = ServiceContainer(SPEC, name="svc", client=client)
    ((config, name),) = client.api.created
    assert name == "svc" and service.container_id == "c0ffee"
    assert config["HostConfig"]["NetworkMode"] == "none"
    assert config["HostConfig"]["CapDrop"] == ["ALL"] and config["StdinOnce"]
    assert client.api.attached == {"stdin": 1, "stream": 1}
    assert client.api.started == ["c0ffee"] and service.exit_reason() is None


def test_wait_ready_polls_until_ready() -> None:
    service = ServiceContainer(SPEC, client=_Client())
    answers = iter([False, False, True])
    service.wait_ready(lambda: next(answers), timeout=5, poll_s=0)


def test_an_exited_server_fails_at_once_with_its_output() -> None:
    client = _Client()
    service = ServiceContainer(SPEC, client=client)
    client.api.state = {"Running": False, "Status": "exited", "ExitCode": 3}
    with pytest.raises(ServiceNotReadyError, match=r"status exited, code 3.*out of cheese"):
        service.wait_ready(lambda: False, timeout=60)


def test_a_server_never_ready_times_out() -> None:
    service = ServiceContainer(SPEC, client=_Client())
    with pytest.raises(ServiceNotReadyError, match=r"not ready within 0\.05 s"):
        service.wait_ready(lambda: False, timeout=0.05, poll_s=0.01)


def test_stop_closes_stdin_and_removes_the_container_once() -> None:
    client = _Client()
    service = ServiceContainer(SPEC, client=client)
    service.stop()
    service.stop()
    assert client.api.sock.closed and client.api.removed == ["c0ffee"]


def test_a_failed_start_leaves_nothing_behind() -> None:
    client = _Client(fail_start=True)
    with pytest.raises(RuntimeError, match="engine said no"):
        ServiceContainer(SPEC, client=client)
    assert client.api.sock.closed and client.api.removed == ["c0ffee"]
