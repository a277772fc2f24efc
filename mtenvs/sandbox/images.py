"""Building the sandbox images (``mtenvs images build``).

Tags carry the package version (``mtenvs/python:0.1.0``), so an upgraded package never
runs an old REPL server, and a label carries a hash of the files the image is built from
(``mtenvs.source``), so an edited source (in a checkout) is never served by a stale image:
``build_images`` rebuilds an image whose label no longer matches.

The base image is chosen automatically:

1. ``MTENVS_BASE_IMAGE`` when set (``debootstrap`` forces the offline path);
2. ``python:3.11-slim`` when it is present or a registry can be reached (pip installs);
3. otherwise an offline Debian base: ``debootstrap --variant=minbase --include=python3
   bookworm`` imported as ``mtenvs/base:bookworm`` (needs root and debootstrap; packages
   then come from Debian: python3-numpy, python3-sympy, python3-pandas).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtenvs._version import __version__
from mtenvs.sandbox.base import SandboxUnavailableError, sandboxes_dir
from mtenvs.sandbox.engine import docker_client, engine_status

__all__ = [
    "IMAGES",
    "BaseChoice",
    "ImageSpec",
    "build_images",
    "choose_base",
    "image_current",
    "image_present",
    "image_status",
    "image_tag",
    "require_image",
    "sandboxes_dir",
    "source_hash",
]

ONLINE_BASE = "python:3.11-slim"
OFFLINE_BASE = "mtenvs/base:bookworm"
DEBIAN_SUITE = "bookworm"
REGISTRY_HOST = ("registry-1.docker.io", 443)


@dataclass(frozen=True)
class ImageSpec:
    """One image: its short name (``python``), Dockerfile under ``sandboxes/`` and the
    files (globs under ``sandboxes/``) its Dockerfile copies in."""

    name: str
    dockerfile: str
    description: str
    sources: tuple[str, ...] = ()


IMAGES: dict[str, ImageSpec] = {
    "python": ImageSpec(
        "python",
        "python/Dockerfile",
        "Python REPL with numpy, sympy, pandas",
        ("runtime/*.py",),
    ),
    "postgres": ImageSpec(
        "postgres", "postgres/Dockerfile", "PostgreSQL 15 server for Sql envs (dialect=postgres)"
    ),
    "web": ImageSpec(
        "web",
        "web/Dockerfile",
        "Web envs' site server (shop, wiki, admin); no network",
        ("web/*.py",),
    ),
}
#: Image label holding :func:`source_hash`.
SOURCE_LABEL = "mtenvs.source"


def image_tag(name: str) -> str:
    """``mtenvs/<name>:<package version>``."""
    return f"mtenvs/{name}:{__version__}"


def source_hash(spec: ImageSpec) -> str | None:
    """A hash of the Dockerfile and source files of ``spec`` (``None`` without the
    ``sandboxes/`` folder, as in an installed wheel: nothing to compare with)."""
    try:
        root = sandboxes_dir()
    except SandboxUnavailableError:
        return None
    files = {root / spec.dockerfile}
    for pattern in spec.sources:
        files.update(p for p in root.glob(pattern) if p.is_file())
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_current(client: Any, spec: ImageSpec) -> bool:
    """Whether ``spec``'s image is built from the sources as they are now."""
    import docker.errors

    try:
        image = client.images.get(image_tag(spec.name))
    except docker.errors.ImageNotFound:
        return False
    wanted = source_hash(spec)
    return wanted is None or (image.labels or {}).get(SOURCE_LABEL) == wanted


def image_present(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def require_image(client: Any, tag: str, alternative: str = "") -> None:
    """Raise :class:`SandboxUnavailableError` with the fix when image ``tag`` is not built
    (``alternative``: another way out, named after the fix)."""
    if not image_present(client, tag):
        also = f" ({alternative})" if alternative else ""
        raise SandboxUnavailableError(
            f"Docker image {tag!r} is not built; run `mtenvs images build`{also}."
        )


def image_status(image: str) -> tuple[bool, str]:
    """``(usable, why)``: whether containers of ``image`` can start here, i.e. the Docker
    engine answers and the image is built, without raising.

    ``image`` is a short name of :data:`IMAGES` (``"python"``, ``"postgres"``, ``"web"``),
    its tag, or any other tag. One of ours built from older sources than the checkout's is
    usable, with a warning that says how to rebuild it.
    """
    ok, detail = engine_status()
    if not ok:
        return False, detail
    spec = IMAGES.get(image) or next(
        (s for s in IMAGES.values() if image_tag(s.name) == image), None
    )
    tag = image_tag(spec.name) if spec else image
    client = docker_client()
    if not image_present(client, tag):
        build = f"mtenvs images build {spec.name}" if spec else "docker build"
        return False, f"{detail}, but image {tag} is not built (run `{build}`)"
    if spec is not None and not image_current(client, spec):
        warnings.warn(
            f"image {tag} was built from older sources than this checkout's; run "
            f"`mtenvs images build {spec.name}` to rebuild it",
            stacklevel=2,
        )
    return True, f"{detail}, image {tag} built"


@dataclass(frozen=True)
class BaseChoice:
    """The base image a build starts from, how packages get installed, and why."""

    image: str
    install_with: str  # "pip" | "apt"
    reason: str


def _registry_reachable(timeout: float = 2.0) -> bool:
    try:
        socket.create_connection(REGISTRY_HOST, timeout=timeout).close()
    except OSError:
        return False
    return True


def choose_base(client: Any, log: Callable[[str], None] = print) -> BaseChoice:
    """Pick the base image (see the module doc), pulling or bootstrapping it if needed."""
    forced = os.environ.get("MTENVS_BASE_IMAGE", "").strip()
    if forced and forced != "debootstrap":
        install = "apt" if forced == OFFLINE_BASE else "pip"
        return BaseChoice(forced, install, "MTENVS_BASE_IMAGE")
    if not forced:
        if image_present(client, ONLINE_BASE):
            return BaseChoice(ONLINE_BASE, "pip", f"{ONLINE_BASE} present locally")
        if _registry_reachable():
            log(f"pulling {ONLINE_BASE} ...")
            try:
                client.images.pull(ONLINE_BASE)
                return BaseChoice(ONLINE_BASE, "pip", "registry reachable")
            except Exception as e:  # a failed pull falls back to the offline base
                log(f"pull failed ({type(e).__name__}: {e}); building offline")
    if image_present(client, OFFLINE_BASE):
        return BaseChoice(OFFLINE_BASE, "apt", "no registry; offline Debian base present")
    bootstrap_base(client, log)
    return BaseChoice(OFFLINE_BASE, "apt", "no registry; Debian base bootstrapped offline")


def bootstrap_base(client: Any, log: Callable[[str], None] = print) -> None:
    """``debootstrap`` a minimal Debian with python3 and ``docker import`` it."""
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailableError(
            "No registry is reachable and debootstrap is missing, so no base image can be "
            "made; run `apt-get install debootstrap` (or scripts/ensure_docker.sh as root)."
        )
    if os.geteuid() != 0:
        raise SandboxUnavailableError(
            "No registry is reachable; building the offline base needs root (debootstrap). "
            "Run `sudo scripts/ensure_docker.sh` once, or point MTENVS_BASE_IMAGE at a base."
        )
    with tempfile.TemporaryDirectory(prefix="mtenvs-rootfs-") as root:
        log(f"debootstrap {DEBIAN_SUITE} (minbase + python3) into {root} ...")
        cmd = ["debootstrap", "--variant=minbase", "--include=python3", DEBIAN_SUITE, root]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SandboxUnavailableError(
                f"debootstrap failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        log(f"importing as {OFFLINE_BASE} ...")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        repo, tag = OFFLINE_BASE.split(":")
        client.api.import_image_from_stream(tar.stdout, repository=repo, tag=tag)
        tar.wait()


def build_images(
    names: list[str] | None = None,
    *,
    force: bool = False,
    client: Any = None,
    console: Any = None,
) -> list[str]:
    """Build the images (all by default) unless already present; returns their tags.

    Shows a rich progress display with the current build step.
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    client = client or docker_client(timeout=600)
    console = console or Console(stderr=True)
    specs = [IMAGES[n] for n in (names or list(IMAGES))]
    todo = [s for s in specs if force or not image_current(client, s)]
    for spec in specs:
        tag = image_tag(spec.name)
        if spec not in todo:
            console.print(f"[green]✓[/] {tag} already built")
        elif not force and image_present(client, tag):
            console.print(f"[yellow]↻[/] {tag} is older than its sources: rebuilding")
    if not todo:
        return [image_tag(s.name) for s in specs]
    context = sandboxes_dir()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[tag]}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        base_task = progress.add_task("choosing the base image", tag="base")
        base = choose_base(client, log=lambda msg: progress.update(base_task, description=msg))
        progress.update(
            base_task, description=f"{base.image} ({base.reason})", completed=1, total=1
        )
        for spec in todo:
            tag = image_tag(spec.name)
            task = progress.add_task("starting", tag=tag, total=None)
            start = time.monotonic()

            def show(line: str, task: Any = task) -> None:
                progress.update(task, description=line[:90])

            _build_one(client, context, spec, tag, base, show)
            progress.update(
                task, description=f"built in {time.monotonic() - start:.0f} s", total=1, completed=1
            )
    return [image_tag(s.name) for s in specs]


def _build_one(
    client: Any,
    context: Path,
    spec: ImageSpec,
    tag: str,
    base: BaseChoice,
    on_line: Callable[[str], None],
) -> None:
    stream = client.api.build(
        path=str(context),
        dockerfile=spec.dockerfile,
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        buildargs={
            "BASE_IMAGE": base.image,
            "INSTALL_WITH": base.install_with,
            "MTENVS_VERSION": __version__,
        },
        labels={
            "mtenvs.image": spec.name,
            "mtenvs.version": __version__,
            SOURCE_LABEL: source_hash(spec) or "",
        },
    )
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            raise SandboxUnavailableError(
                f"Building {tag} failed: {chunk['error'].strip()}\n" + "".join(tail[-20:])
            )
        line = str(chunk.get("stream") or chunk.get("status") or "").strip()
        if line:
            tail.append(line + "\n")
            on_line(line)
