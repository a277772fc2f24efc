"""Sites in a container: ``site_backend="docker"`` with real Docker and Chromium.

The image is built here from ``sandboxes/web`` (tag ``mtenvs/web:test``, through
``MTENVS_WEB_IMAGE``) when missing, from a base image already on the machine: the tests
need no registry and leave ``mtenvs/web:<version>`` (what ``"auto"`` looks for) alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtenvs.envs.web.shop import WebShopEnv
from mtenvs.envs.web.shop_data import ASSET
from mtenvs.envs.web.site import WebSiteError, server_script, start_site
from mtenvs.error import InvalidArgumentError
from tests._support import require
from tests.envs.web._support import require_browser

TEST_IMAGE = "mtenvs/web:test"
_BASES = ("mtenvs/base:bookworm", "python:3.11-slim")


def _build(client: object) -> None:
    import docker.errors

    images = client.images  # type: ignore[attr-defined]
    for base in _BASES:
        try:
            images.get(base)
        except docker.errors.ImageNotFound:
            continue
        with tempfile.TemporaryDirectory() as ctx:
            shutil.copytree(server_script().parent, Path(ctx) / "web")
            images.build(
                path=ctx,
                dockerfile="web/Dockerfile",
                tag=TEST_IMAGE,
                buildargs={"BASE_IMAGE": base},
                rm=True,
                forcerm=True,
            )
        return
    pytest.fail(f"no base image to build {TEST_IMAGE} from (tried {', '.join(_BASES)})")


@pytest.fixture(scope="module")
def docker_image() -> Iterator[str]:
    """The site image's tag, built if missing; skip without Docker (fail under ``CI``)."""
    from mtenvs.sandbox.engine import engine_status

    up, why = engine_status()
    require(None if up else why, "Docker")
    import docker.errors

    from mtenvs.sandbox.engine import docker_client

    client = docker_client(timeout=600)
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        _build(client)
    saved = os.environ.get("MTENVS_WEB_IMAGE")
    os.environ["MTENVS_WEB_IMAGE"] = TEST_IMAGE
    yield TEST_IMAGE
    if saved is None:
        os.environ.pop("MTENVS_WEB_IMAGE", None)
    else:
        os.environ["MTENVS_WEB_IMAGE"] = saved


def test_bad_site_backend_names_the_allowed_ones():
    with pytest.raises(InvalidArgumentError, match=r"'podman'.*'auto', 'docker', 'local'"):
        WebShopEnv(site_backend="podman")
    with pytest.raises(InvalidArgumentError, match="site_backend"):
        start_site("shop", ASSET, "remote")


def test_local_backend_is_a_child_process():
    site = start_site("shop", ASSET, "local")
    try:
        assert site.backend == "local" and site.alive and site.state()["cart"] == []
    finally:
        site.close()


@pytest.mark.docker
def test_missing_image_is_a_clear_error(docker_image, monkeypatch):
    monkeypatch.setenv("MTENVS_WEB_IMAGE", "mtenvs/web:no-such-tag")
    with pytest.raises(WebSiteError, match="not built; run `mtenvs images build`"):
        start_site("shop", ASSET, "docker")


@pytest.mark.docker
@pytest.mark.xdist_group("web-site-docker")
def test_episode_on_a_site_in_a_container_without_network(docker_image):
    require_browser()
    from mtenvs.sandbox.engine import docker_client
    from mtenvs.sandbox.reaper import LABEL_OWNER

    env = WebShopEnv(site_backend="docker", page_load_timeout=3.0)
    try:
        obs, _ = env.reset(seed=0)
        site = env.site_server
        assert site.backend == "docker" and site.origin.startswith("http://127.0.0.1:")
        attrs = docker_client().api.inspect_container(site.container_id)
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"]
        assert host["CapDrop"] == ["ALL"] and attrs["Config"]["User"] == "1000:1000"
        assert attrs["Config"]["Labels"][LABEL_OWNER] == str(os.getpid())
        assert set(attrs["NetworkSettings"]["Networks"]) <= {"none"}
        # the container itself cannot open a connection anywhere
        probe = docker_client().api.exec_create(
            site.container_id,
            [
                "python3",
                "-c",
                "import socket\ntry:\n socket.create_connection(('10.255.255.1', 80), 2)\n"
                " print('connected')\nexcept OSError as e:\n print('refused', e)",
            ],
        )
        out = docker_client().api.exec_start(probe["Id"]).decode()
        assert out.startswith("refused"), out
        # the browser reaches it, actions change its state, a reset restores it
        obs, *_ = env.step("<action>goto(/product/102)</action>")
        button = next(
            e.id for e in env.unwrapped._view.elements.values() if e.name == "Add to cart"
        )
        env.step(f"<action>click({button})</action>")
        assert env.server_state()["cart"] == [{"product_id": 102, "qty": 1}]
        env.reset(seed=0)
        obs, *_ = env.step("<action>goto(/cart)</action>")
        assert "Your cart is empty" in obs and env.server_state()["cart"] == []
        start = time.perf_counter()
        site.reset()
        assert time.perf_counter() - start < 0.3
    finally:
        env.close()


@pytest.mark.docker
def test_container_goes_with_its_killed_owner(docker_image):
    from mtenvs.sandbox.engine import docker_client

    code = (
        "import os\n"
        "from mtenvs.envs.web.site import start_site\n"
        "from mtenvs.envs.web.shop_data import ASSET\n"
        "site = start_site('shop', ASSET, 'docker')\n"
        "print(site.container_id, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "MTENVS_WEB_IMAGE": docker_image},
    )
    container_id = out.stdout.split()[0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not docker_client().api.containers(all=True, filters={"id": container_id}):
            return
        time.sleep(0.2)
    raise AssertionError(f"site container {container_id[:12]} outlived its killed owner")
