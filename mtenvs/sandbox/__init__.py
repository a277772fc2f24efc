"""Isolated, persistent Python interpreters for agent code: Docker first, local fallback.

    from mtenvs.sandbox import make_sandbox

    with make_sandbox() as sb:              # "auto": Docker if usable, else local
        sb.run("x = 21")
        print(sb.run("x * 2").value)        # '42'

See docs/sandbox.md for the threat model, the limits and how to change them.
Heavy parts (the docker SDK) are imported only when a Docker sandbox is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtenvs.sandbox.backend import (
    BACKENDS,
    ENV_VAR,
    BackendChoice,
    SandboxKind,
    make_sandbox,
    resolve_backend,
)
from mtenvs.sandbox.base import (
    DEFAULT_LIMITS,
    SESSION_ID,
    ExecResult,
    JudgeReport,
    JudgeRequest,
    Sandbox,
    SandboxDiedError,
    SandboxError,
    SandboxLimits,
    SandboxProtocolError,
    SandboxUnavailableError,
)
from mtenvs.sandbox.local_sandbox import LocalSandbox
from mtenvs.sandbox.pool import PooledSandbox, SandboxPool

if TYPE_CHECKING:
    from mtenvs.sandbox.docker_sandbox import DockerSandbox

__all__ = [
    "BACKENDS",
    "DEFAULT_LIMITS",
    "ENV_VAR",
    "SESSION_ID",
    "BackendChoice",
    "DockerSandbox",
    "ExecResult",
    "JudgeReport",
    "JudgeRequest",
    "LocalSandbox",
    "PooledSandbox",
    "Sandbox",
    "SandboxDiedError",
    "SandboxError",
    "SandboxKind",
    "SandboxLimits",
    "SandboxPool",
    "SandboxProtocolError",
    "SandboxUnavailableError",
    "make_sandbox",
    "resolve_backend",
]


def __getattr__(name: str) -> Any:
    if name == "DockerSandbox":
        from mtenvs.sandbox.docker_sandbox import DockerSandbox

        return DockerSandbox
    raise AttributeError(f"module 'mtenvs.sandbox' has no attribute {name!r}")
