"""Choosing the backend: ``sandbox="auto"|"docker"|"local"`` and ``MTENVS_SANDBOX``.

``auto`` (the default) uses Docker when an engine is reachable and the image is built,
otherwise the local fallback, and says why (:func:`resolve_backend`, ``mtenvs doctor``).
An explicit ``"docker"`` never falls back: it raises with the command that fixes it.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from typing import Literal

from mtenvs.error import check_choice
from mtenvs.sandbox.base import Sandbox, SandboxLimits, SandboxUnavailableError
from mtenvs.sandbox.docker_sandbox import DockerSandbox
from mtenvs.sandbox.images import image_status, image_tag
from mtenvs.sandbox.local_sandbox import LocalSandbox

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "BackendChoice",
    "SandboxKind",
    "make_sandbox",
    "resolve_backend",
]

SandboxKind = Literal["auto", "docker", "local"]
BACKENDS: tuple[str, ...] = ("auto", "docker", "local")
#: Environment variable that overrides ``sandbox="auto"``.
ENV_VAR = "MTENVS_SANDBOX"
_cache: dict[tuple[str, str], BackendChoice] = {}
_lock = threading.Lock()
_warned = False


@dataclass(frozen=True)
class BackendChoice:
    """The backend a sandbox request resolves to, and why."""

    backend: Literal["docker", "local"]
    requested: str
    reason: str

    @property
    def weaker_isolation(self) -> bool:
        return self.backend == "local"


def _requested(kind: str | None) -> str:
    value = kind if kind not in (None, "auto") else os.environ.get(ENV_VAR, "").strip() or "auto"
    check_choice("sandbox", value, BACKENDS)
    return value


def _docker_usable(image: str) -> tuple[bool, str]:
    return image_status(image)


def resolve_backend(
    kind: str | None = None, *, image: str | None = None, refresh: bool = False
) -> BackendChoice:
    """Which backend ``kind`` (or ``MTENVS_SANDBOX``) gives here, and why. Cached."""
    requested = _requested(kind)
    image = image or image_tag("python")
    with _lock:
        if not refresh and (requested, image) in _cache:
            return _cache[(requested, image)]
        source = "MTENVS_SANDBOX" if kind in (None, "auto") and requested != "auto" else "argument"
        if requested == "local":
            choice = BackendChoice("local", requested, f"local requested ({source})")
        else:
            ok, detail = _docker_usable(image)
            if ok:
                choice = BackendChoice("docker", requested, detail)
            elif requested == "docker":
                raise SandboxUnavailableError(
                    f"sandbox='docker' requested ({source}) but {detail}. Run "
                    "`scripts/ensure_docker.sh` (root: installs and starts Docker, builds the "
                    "images) or use sandbox='local' (weaker isolation)."
                )
            else:
                choice = BackendChoice(
                    "local",
                    requested,
                    f"auto: {detail}; using the local fallback "
                    "(weaker isolation, see docs/sandbox.md)",
                )
        _cache[(requested, image)] = choice
        return choice


def make_sandbox(
    kind: SandboxKind | str | None = None,
    *,
    limits: SandboxLimits | None = None,
    image: str | None = None,
) -> Sandbox:
    """A new sandbox of the resolved backend (see :func:`resolve_backend`)."""
    global _warned
    choice = resolve_backend(kind, image=image)
    if choice.backend == "docker":
        return DockerSandbox(image=image, limits=limits)
    if choice.requested == "auto" and not _warned:
        _warned = True
        warnings.warn(f"mtenvs sandbox: {choice.reason}", RuntimeWarning, stacklevel=2)
    return LocalSandbox(limits=limits)
