"""Isolated, persistent Python interpreters for agent code: Docker first, local fallback.

    from mtenvs.sandbox import make_sandbox

    with make_sandbox() as sb:              # "auto": Docker if usable, else local
        sb.run("x = 21")
        print(sb.run("x * 2").value)        # '42'

See docs/sandbox.md for the threat model, the limits and how to change them.
Heavy parts (the docker SDK) are imported only when Docker is used.
"""

from __future__ import annotations

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
from mtenvs.sandbox.docker_sandbox import DockerSandbox
from mtenvs.sandbox.local_sandbox import LocalSandbox
from mtenvs.sandbox.pool import PooledSandbox, SandboxPool

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
