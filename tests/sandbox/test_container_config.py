"""The one hardened container configuration (mtenvs.sandbox.container), as each of its three
users gets it: the code sandbox, the PostgreSQL server and the web sites.

The create requests are built without an engine (the docker SDK's config types only need
an API version); the tests with real containers (test_docker_sandbox, the postgres and site
Docker tests) inspect what the engine made of them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mtenvs.envs.sql.pg_server import MEMORY_LIMIT, postgres_spec
from mtenvs.envs.web.shop_data import ASSET
from mtenvs.envs.web.site import site_spec
from mtenvs.sandbox import DEFAULT_LIMITS, SESSION_ID, SandboxLimits
from mtenvs.sandbox.container import (
    MASKED_PATHS,
    ContainerSpec,
    Mount,
    container_config,
    host_config,
)
from mtenvs.sandbox.docker_sandbox import sandbox_spec
from mtenvs.sandbox.reaper import LABEL_HOST, LABEL_OWNER, LABEL_SESSION, host_id

pytest.importorskip("docker")

API_VERSION = "1.43"
ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20


def _specs(tmp_path: Path) -> dict[str, ContainerSpec]:
    return {
        "sandbox": sandbox_spec("mtenvs/python:test", DEFAULT_LIMITS),
        "postgres": postgres_spec(tmp_path / "sockets"),
        "web": site_spec("shop", "mtenvs/web:test", str(tmp_path / "sock"), ASSET, "t0ken"),
    }


@pytest.mark.parametrize("user", ["sandbox", "postgres", "web"])
def test_every_container_is_hardened(user: str, tmp_path: Path) -> None:
    config = container_config(_specs(tmp_path)[user], API_VERSION)
    host = config["HostConfig"]
    assert host["NetworkMode"] == "none" and config["NetworkDisabled"] is True
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and "CapAdd" not in host
    assert host["SecurityOpt"] == ["no-new-privileges"]  # default seccomp profile kept
    assert not host.get("Privileged")
    assert host["PidsLimit"] > 0
    assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]  # no swap
    assert host["MaskedPaths"] == list(MASKED_PATHS)
    assert {"/proc/kallsyms", "/proc/kcore", "/proc/modules"} <= set(host["MaskedPaths"])
    assert host["AutoRemove"] is True
    assert host["Tmpfs"] and all("nosuid" in o and "nodev" in o for o in host["Tmpfs"].values())
    assert config["User"] and not re.fullmatch(r"(0|root)(:.*)?", config["User"])
    # stdin attached once: the container goes when its owner's socket closes
    assert config["OpenStdin"] and config["StdinOnce"] and config["AttachStdin"]
    assert not config["Tty"]
    labels = config["Labels"]
    assert labels[LABEL_OWNER] == str(os.getpid())
    assert labels[LABEL_SESSION] == SESSION_ID and labels[LABEL_HOST] == host_id()


def test_code_sandbox_limits_are_unchanged() -> None:
    spec = sandbox_spec("mtenvs/python:test", DEFAULT_LIMITS)
    config = container_config(spec, API_VERSION)
    host = config["HostConfig"]
    assert host["Memory"] == 512 * MiB and host["PidsLimit"] == 128
    assert host["NanoCpus"] == 1_000_000_000 and host["Init"] is False
    assert host["Tmpfs"] == {
        "/tmp": f"rw,nosuid,nodev,size={64 * MiB},mode=1777",
        "/workspace": f"rw,nosuid,nodev,size={128 * MiB},uid=1000,gid=1000",
        "/dev/shm": f"rw,nosuid,nodev,noexec,size={16 * MiB},mode=1777",
    }
    assert "Binds" not in host and "ShmSize" not in host
    assert config["User"] == "1000:1000" and config["Hostname"] == "sandbox"
    assert config["WorkingDir"] == "/workspace"
    assert config["Cmd"] == DEFAULT_LIMITS.server_args()
    assert config["Env"] == ["HOME=/workspace", "TMPDIR=/tmp"]
    assert spec.attach_output  # the REPL answers on the attached stdout


def test_code_sandbox_opt_outs_still_apply() -> None:
    """Network and a writable root stay what a user's SandboxLimits ask for; the rest of
    the hardening does not move."""
    limits = SandboxLimits(network=True, read_only_root=False, user="1234")
    config = container_config(sandbox_spec("img", limits), API_VERSION)
    host = config["HostConfig"]
    assert host["NetworkMode"] == "bridge" and config.get("NetworkDisabled") is not True
    assert host["ReadonlyRootfs"] is False
    assert "uid=1234,gid=1234" in host["Tmpfs"]["/workspace"]
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]


def test_postgres_server_limits_are_unchanged(tmp_path: Path) -> None:
    spec = postgres_spec(tmp_path / "sockets")
    config = container_config(spec, API_VERSION)
    host = config["HostConfig"]
    assert host["Memory"] == MEMORY_LIMIT == 8 * 2**30 and host["PidsLimit"] == 1024
    assert host["ShmSize"] == 256 * MiB and "Init" not in host and "NanoCpus" not in host
    assert host["Tmpfs"] == {
        "/tmp": "rw,nosuid,nodev,size=64m",
        "/var/lib/mtenvs-pg": "rw,nosuid,nodev,size=8g,uid=999,gid=999",
    }
    assert host["Binds"] == [f"{tmp_path / 'sockets'}:/sockets:rw"]
    assert config["User"] == "postgres" and config["Cmd"] is None  # the image's entrypoint
    assert config["Env"] == ["MTENVS_EXIT_ON_EOF=1"]
    assert config["Labels"]["mtenvs.image"] == "postgres"
    assert not spec.attach_output


def test_web_site_limits_are_unchanged(tmp_path: Path) -> None:
    spec = site_spec("shop", "mtenvs/web:test", str(tmp_path / "sock"), ASSET, "t0ken")
    config = container_config(spec, API_VERSION)
    host = config["HostConfig"]
    assert host["Memory"] == 256 * MiB and host["PidsLimit"] == 64
    assert host["Tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=16m,mode=1777"}
    assert sorted(host["Binds"]) == sorted(
        [
            f"{tmp_path / 'sock'}:/sock:rw",
            f"{ROOT / 'sandboxes' / 'web'}:/opt/mtenvs/web:ro",
            f"{Path(ASSET).resolve()}:/data/site.json:ro",
        ]
    )
    assert config["User"] == "1000:1000" and config["Cmd"] == ["shop"]
    assert config["Env"] == ["MTENVS_WEB_TOKEN=t0ken"]
    assert config["Labels"]["mtenvs.web_site"] == "shop"


def test_spec_labels_cannot_replace_the_owner_labels() -> None:
    """The reaper trusts the owner labels: a spec's own labels never overwrite them."""
    spec = ContainerSpec(
        image="img", command=None, user="1000", memory_bytes=MiB, pids=8,
        labels={LABEL_OWNER: "1", "mtenvs.extra": "x"},
    )  # fmt: skip
    labels = container_config(spec, API_VERSION)["Labels"]
    assert labels[LABEL_OWNER] == str(os.getpid()) and labels["mtenvs.extra"] == "x"


def test_mounts_are_read_only_unless_asked() -> None:
    spec = ContainerSpec(
        image="img", command=None, user="1000", memory_bytes=MiB, pids=8,
        mounts=(Mount("/a", "/in"), Mount("/b", "/out", read_only=False)),
    )  # fmt: skip
    assert sorted(host_config(spec, API_VERSION)["Binds"]) == ["/a:/in:ro", "/b:/out:rw"]


# The three users get their config from mtenvs.sandbox.container and nowhere else.
_HARDENING = re.compile(
    r"create_host_config|create_container_config|HostConfig\(|cap_drop|security_opt|"
    r"MaskedPaths|network_mode|create_container_from_config"
)


def test_the_hardened_config_is_written_once() -> None:
    writers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "mtenvs").rglob("*.py")
        if _HARDENING.search(path.read_text())
    )
    assert writers == ["mtenvs/sandbox/container.py"]
