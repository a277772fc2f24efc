"""``SandboxPool``: warm sandboxes handed out on env reset, reset in the background on release.

``acquire()`` pops a ready sandbox (no cold start); when none is ready it starts one
synchronously rather than blocking. ``release()`` (or closing the lease) queues the
sandbox for a background ``reset()`` and health check, and it goes back to the idle set;
a dead or broken one is closed and replaced. A refill thread keeps ``size`` sandboxes
warm. All methods are thread-safe.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Any

from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.sandbox.backend import SandboxKind, resolve_backend
from mtenvs.sandbox.base import (
    ExecResult,
    JudgeReport,
    JudgeRequest,
    Sandbox,
    SandboxError,
    SandboxLimits,
)
from mtenvs.sandbox.docker_sandbox import DockerSandbox
from mtenvs.sandbox.local_sandbox import LocalSandbox
from mtenvs.sandbox.reaper import reap

__all__ = ["PooledSandbox", "SandboxPool"]


class PooledSandbox:
    """A sandbox leased from a pool; ``close()`` gives it back instead of destroying it."""

    def __init__(self, pool: SandboxPool, inner: Sandbox) -> None:
        self._pool = pool
        self.inner = inner
        self.backend = inner.backend
        self.limits = inner.limits
        self._released = False

    def _live(self) -> Sandbox:
        if self._released:
            raise SandboxError("This pooled sandbox was released; acquire another one.")
        return self.inner

    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        return self._live().run(code, timeout)

    def reset(self) -> None:
        self._live().reset()

    def judge(self, request: JudgeRequest) -> JudgeReport:
        return self._live().judge(request)

    def put_file(self, path: str, data: bytes | str) -> None:
        self._live().put_file(path, data)

    def get_file(self, path: str) -> bytes:
        return self._live().get_file(path)

    def ping(self) -> bool:
        return not self._released and self.inner.ping()

    def close(self) -> None:
        """Return the sandbox to the pool (reset happens in the background)."""
        if not self._released:
            self._released = True
            self._pool._give_back(self.inner)

    def __enter__(self) -> PooledSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SandboxPool:
    """Keeps ``size`` warm sandboxes of one backend.

    Arguments:
        size: sandboxes kept ready.
        backend: ``"auto"``, ``"docker"`` or ``"local"`` (``MTENVS_SANDBOX`` overrides auto).
        limits: limits of every sandbox.
        image: Docker image (default ``mtenvs/python:<version>``).
        health_interval_s: how often idle sandboxes are pinged.
        wait: block in the constructor until ``size`` sandboxes are warm.
    """

    def __init__(
        self,
        size: int = 4,
        *,
        backend: SandboxKind | str | None = None,
        limits: SandboxLimits | None = None,
        image: str | None = None,
        health_interval_s: float = 30.0,
        wait: bool = True,
    ) -> None:
        self.size = check_int_range("size", size, 0, 1024)
        if health_interval_s <= 0:
            raise InvalidArgumentError(f"health_interval_s must be > 0, got {health_interval_s}.")
        self.choice = resolve_backend(backend, image=image)
        self.backend = self.choice.backend
        self.limits = limits
        self.image = image
        self.health_interval_s = health_interval_s
        self._idle: deque[Sandbox] = deque()
        self._dirty: deque[Sandbox] = deque()
        self._leased = 0
        self._starting = 0
        self._closed = False
        self._cond = threading.Condition()
        #: Counters for monitoring: cold starts in acquire, replaced sandboxes, resets.
        self.stats = {"cold_acquires": 0, "replaced": 0, "resets": 0, "created": 0}
        if self.backend == "docker":
            reap()  # leftovers of dead processes go before we add ours
        self._threads = [
            threading.Thread(target=self._refill_loop, name="mtenvs-pool-refill", daemon=True),
            threading.Thread(target=self._reset_loop, name="mtenvs-pool-reset", daemon=True),
        ]
        for t in self._threads:
            t.start()
        if wait:
            self.wait_ready()

    # -- public
    def acquire(self) -> PooledSandbox:
        """A ready sandbox: a warm one when there is one, else a fresh (cold) one."""
        while True:
            with self._cond:
                self._check_open()
                sb = self._idle.popleft() if self._idle else None
                self._leased += 1
                self._cond.notify_all()
            if sb is None:
                try:
                    sb = self._new()
                except BaseException:
                    with self._cond:
                        self._leased -= 1
                    raise
                self.stats["cold_acquires"] += 1
                return PooledSandbox(self, sb)
            if not getattr(sb, "closed", False):
                return PooledSandbox(self, sb)
            with self._cond:  # closed under us (dead at health check): try the next
                self._leased -= 1

    def release(self, sandbox: PooledSandbox) -> None:
        """Give a sandbox back (same as ``sandbox.close()``)."""
        sandbox.close()

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until ``size`` sandboxes are warm (or raise ``TimeoutError``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self._idle)}/{self.size} sandboxes warm")
                self._cond.wait(min(left, 0.5))

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def leased(self) -> int:
        return self._leased

    def close(self) -> None:
        """Close every sandbox of the pool, leased ones included once they come back."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            victims = list(self._idle) + list(self._dirty)
            self._idle.clear()
            self._dirty.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=30)
        for sb in victims:
            with contextlib.suppress(Exception):
                sb.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<SandboxPool {self.backend} size={self.size} idle={self.idle} leased={self.leased}>"
        )

    # -- internals
    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("The SandboxPool is closed.")

    def _new(self) -> Sandbox:
        sb: Any
        if self.backend == "docker":
            sb = DockerSandbox(image=self.image, limits=self.limits)
        else:
            sb = LocalSandbox(limits=self.limits)
        self.stats["created"] += 1
        return sb

    def _give_back(self, sb: Sandbox) -> None:
        with self._cond:
            self._leased -= 1
            if self._closed:
                closing = True
            else:
                closing = False
                self._dirty.append(sb)
                self._cond.notify_all()
        if closing:
            sb.close()

    def _reset_loop(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                sb = self._dirty.popleft()
            try:
                sb.reset()
                healthy = sb.ping()
            except Exception:
                healthy = False
            self.stats["resets"] += 1
            if not healthy:
                self.stats["replaced"] += 1
                with contextlib.suppress(Exception):
                    sb.close()
                continue  # the refill loop starts a replacement
            with self._cond:
                if self._closed:
                    sb.close()
                    return
                self._idle.append(sb)
                self._cond.notify_all()

    def _refill_loop(self) -> None:
        last_check = time.monotonic()
        while True:
            with self._cond:
                while not self._closed:
                    missing = self.size - len(self._idle) - len(self._dirty) - self._starting
                    if missing > 0 or time.monotonic() - last_check > self.health_interval_s:
                        break
                    self._cond.wait(timeout=1.0)
                if self._closed:
                    return
                if missing > 0:
                    self._starting += 1
            if missing > 0:
                try:
                    sb = self._new()
                except Exception:  # engine hiccup: try again shortly
                    time.sleep(1.0)
                    sb = None
                with self._cond:
                    self._starting -= 1
                    if sb is not None:
                        if self._closed:
                            sb.close()
                            return
                        self._idle.append(sb)
                    self._cond.notify_all()
            else:
                last_check = time.monotonic()
                self._health_check()

    def _health_check(self) -> None:
        with self._cond:
            candidates = list(self._idle)
        for sb in candidates:
            with self._cond:
                if sb not in self._idle:
                    continue  # leased meanwhile
                self._idle.remove(sb)
            healthy = sb.ping()
            with self._cond:
                if healthy and not self._closed:
                    self._idle.append(sb)
                    self._cond.notify_all()
                    continue
            self.stats["replaced"] += 1
            with contextlib.suppress(Exception):
                sb.close()
