"""The one hardened container configuration every mtenvs container is created from.

The code sandboxes (:mod:`mtenvs.sandbox.docker_sandbox`), the PostgreSQL server
(:mod:`mtenvs.envs.sql.pg_server`) and the web sites (:mod:`mtenvs.envs.web.site`) say
what they run in a :class:`ContainerSpec` (image, command, user, limits, mounts); what
locks it down is written here once and applies to all of them:

* no network (``--network none``, networking disabled) unless a sandbox's limits ask for it;
* a read-only root filesystem, writable only where the spec mounts a tmpfs;
* every capability dropped, ``no-new-privileges``, Docker's default seccomp profile;
* :data:`MASKED_PATHS` hidden under ``/proc`` and ``/sys``;
* memory with no swap beyond it, a pids limit, optionally a CPU quota;
* the owner labels of :mod:`mtenvs.sandbox.reaper` (which process owns it, from which
  session), removal when it stops (``--rm``), and its stdin attached to the owner, once
  (``StdinOnce``): when the owner's socket closes, even because the owner was killed, the
  server in the container reads end of file and exits, and the container goes with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mtenvs.sandbox.reaper import owner_labels

__all__ = [
    "MASKED_PATHS",
    "ContainerSpec",
    "Mount",
    "container_config",
    "create_attached",
    "host_config",
    "remove_container",
]

#: Docker's default masked paths, plus the kernel's symbol table and module list (readable
#: by any user in a container otherwise; addresses are zeroed, the names are not).
MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/kallsyms", "/proc/modules",
)  # fmt: skip


@dataclass(frozen=True)
class Mount:
    """A host directory or file bind-mounted into the container."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """What one container runs and within which limits; the hardening is not in here.

    ``tmpfs`` maps a mount point to its mount options (``rw,nosuid,nodev,size=16m``): on a
    read-only root these are the only writable places besides ``mounts``.
    """

    image: str
    #: Command line; ``None`` runs the image's entrypoint and command.
    command: tuple[str, ...] | None
    #: User inside the container (``uid:gid`` or a name the image knows); never root in
    #: mtenvs' own uses.
    user: str
    memory_bytes: int
    pids: int
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    #: Labels besides the owner labels (which every container gets, and which these
    #: cannot replace).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: CPUs (a CFS quota); ``None``: no quota.
    cpus: float | None = None
    #: Size of Docker's own ``/dev/shm`` (``"256m"``); ``None``: Docker's default, or a
    #: tmpfs of the spec's on ``/dev/shm``.
    shm_size: str | None = None
    hostname: str | None = None
    working_dir: str | None = None
    #: Docker's init as PID 1 (``None``: the engine's default).
    init: bool | None = None
    #: Network access: only a sandbox whose :class:`~mtenvs.sandbox.base.SandboxLimits`
    #: ask for it (``network=True``) gets one.
    network: bool = False
    #: Only a sandbox whose limits say ``read_only_root=False`` gets a writable root.
    read_only_root: bool = True
    #: Also attach stdout and stderr (the REPL server answers there); services answer on a
    #: socket or port, so only their stdin is attached.
    attach_output: bool = False


def host_config(spec: ContainerSpec, api_version: str) -> dict[str, Any]:
    """The hardened ``HostConfig`` of ``spec`` for an engine speaking ``api_version``."""
    from docker.types import HostConfig

    binds = {
        m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in spec.mounts
    }
    config = HostConfig(
        version=api_version,
        network_mode="bridge" if spec.network else "none",
        read_only=spec.read_only_root,
        tmpfs=dict(spec.tmpfs),
        binds=binds or None,
        mem_limit=spec.memory_bytes,
        memswap_limit=spec.memory_bytes,  # no swap
        pids_limit=spec.pids,
        nano_cpus=None if spec.cpus is None else int(spec.cpus * 1e9),
        shm_size=spec.shm_size,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],  # the default seccomp profile stays on
        auto_remove=True,
        init=spec.init,
    )
    config["MaskedPaths"] = list(MASKED_PATHS)
    return dict(config)


def container_config(spec: ContainerSpec, api_version: str) -> dict[str, Any]:
    """The full create request of ``spec``: its command, user, labels and host config."""
    from docker.types import ContainerConfig

    config = ContainerConfig(
        api_version,
        spec.image,
        list(spec.command) if spec.command is not None else None,
        hostname=spec.hostname,
        user=spec.user,
        stdin_open=True,
        tty=False,
        environment=dict(spec.environment),
        working_dir=spec.working_dir,
        labels={**spec.labels, **owner_labels()},  # the reaper trusts these: ours win
        network_disabled=not spec.network,
        host_config=host_config(spec, api_version),
    )
    # The owner's socket closing = the server's stdin at end of file = the container exits.
    config["StdinOnce"] = True
    config["AttachStdin"] = True
    return dict(config)


def create_attached(client: Any, spec: ContainerSpec, name: str | None = None) -> tuple[str, Any]:
    """Create ``spec``'s container and attach to it (not started yet, so no output is
    missed); returns its id and the attached socket. Nothing is left behind on failure."""
    api = client.api
    container_id: str = api.create_container_from_config(
        container_config(spec, api.api_version), name=name
    )["Id"]
    streams = {"stdin": 1, "stream": 1}
    if spec.attach_output:
        streams |= {"stdout": 1, "stderr": 1}
    try:
        sock = api.attach_socket(container_id, params=streams)
    except BaseException:
        remove_container(client, container_id)
        raise
    return container_id, sock


def remove_container(client: Any, container_id: str) -> None:
    """Remove a container by force; one already gone (or going: ``--rm``) is fine."""
    import docker.errors

    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if e.status_code != 409:  # 409: --rm removal already under way
            raise
