"""Labels that tie every mtenvs container to its owner process, and the reaper.

Each container carries ``mtenvs.owner`` (host pid), ``mtenvs.owner_start`` (that process's
start time, so a recycled pid is not mistaken for the owner), ``mtenvs.host`` (boot id and
pid namespace: pids only mean something there) and ``mtenvs.session``. The reaper removes
every container of this host whose owner process is gone. Containers also die by
themselves when their owner does (the server exits on stdin EOF, and they run with
``--rm``); the reaper catches what that misses (a paused or wedged container, a daemon
restart).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from mtenvs.sandbox.base import SESSION_ID
from mtenvs.sandbox.engine import docker_client

__all__ = [
    "LABEL_HOST",
    "LABEL_OWNER",
    "LABEL_SESSION",
    "ReapedContainer",
    "host_id",
    "list_containers",
    "owner_labels",
    "reap",
]

LABEL_OWNER = "mtenvs.owner"
LABEL_OWNER_START = "mtenvs.owner_start"
LABEL_HOST = "mtenvs.host"
LABEL_SESSION = "mtenvs.session"


def process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (``None`` if there is no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[19].decode()


@cache
def host_id() -> str:
    """This machine boot and pid namespace: where ``mtenvs.owner`` pids are meaningful."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = os.uname().nodename
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = "0"
    return f"{boot}/{pidns}"


def owner_labels() -> dict[str, str]:
    """The labels a new container of this process gets."""
    pid = os.getpid()
    return {
        LABEL_OWNER: str(pid),
        LABEL_OWNER_START: process_start(pid) or "",
        LABEL_HOST: host_id(),
        LABEL_SESSION: SESSION_ID,
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """Whether the process that created a container (per its labels) still runs."""
    try:
        pid = int(labels.get(LABEL_OWNER, ""))
    except ValueError:
        return False
    start = process_start(pid)
    if start is None:
        return False
    expected = labels.get(LABEL_OWNER_START)
    return not expected or expected == start


@dataclass(frozen=True)
class ReapedContainer:
    """One container the reaper removed (or would remove, with ``dry_run``)."""

    id: str
    name: str
    owner: str
    session: str
    status: str
    reason: str


def list_containers(client: Any = None, **label_filters: str) -> list[Any]:
    """Every mtenvs container (running or not), optionally filtered by more labels."""
    client = client or docker_client()
    labels = [LABEL_OWNER] + [f"{k}={v}" for k, v in label_filters.items()]
    return list(client.containers.list(all=True, filters={"label": labels}, ignore_removed=True))


def reap(
    client: Any = None, *, all_hosts: bool = False, dry_run: bool = False, everything: bool = False
) -> list[ReapedContainer]:
    """Remove mtenvs containers whose owner process is gone; return what was removed.

    ``all_hosts`` also removes containers started from another machine or pid namespace
    that shares this engine (their owners cannot be checked from here); ``everything``
    removes every mtenvs container, owners alive or not.
    """
    import docker.errors

    client = client or docker_client()
    here = host_id()
    removed: list[ReapedContainer] = []
    for container in list_containers(client):
        labels = container.labels or {}
        if everything:
            reason = "removing every mtenvs container"
        elif labels.get(LABEL_HOST) != here:
            if not all_hosts:
                continue
            reason = "owner on another host or pid namespace"
        elif owner_alive(labels):
            continue
        else:
            reason = f"owner process {labels.get(LABEL_OWNER)} is gone"
        removed.append(
            ReapedContainer(
                id=container.short_id,
                name=container.name,
                owner=labels.get(LABEL_OWNER, "?"),
                session=labels.get(LABEL_SESSION, "?"),
                status=container.status,
                reason=reason,
            )
        )
        if dry_run:
            continue
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: removal already in progress (--rm)
                raise
    if not dry_run:
        _wait_gone(client, [r.id for r in removed])
    return removed


def _wait_gone(client: Any, ids: list[str], timeout: float = 15.0) -> None:
    """Wait until auto-removal in progress has finished, so callers see zero leftovers."""
    import docker.errors

    deadline = time.monotonic() + timeout
    for cid in ids:
        while time.monotonic() < deadline:
            try:
                client.containers.get(cid)
            except docker.errors.NotFound:
                break
            time.sleep(0.05)
