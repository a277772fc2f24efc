"""A child Python process that answers JSON lines, for work on agent input that must stay
bounded in time and memory outside the host process (math answer checks, SQLite statements).

Host side, :class:`JsonWorker`: started lazily, one request at a time, read with a deadline
(``TimeoutError`` past it: the caller kills the process and decides what that means), killed
and reaped by :meth:`JsonWorker.stop`, by garbage collection and at exit (a finalizer), and
never touched from a forked copy (the copy starts its own). It is a plain subprocess, not
``multiprocessing``, so it also works inside daemonic ``AsyncVectorEnv`` workers, and it runs
in a session of its own (no terminal signals such as Ctrl-C mid-request).

Child side (standard library only: the SQLite worker imports this without the ``mtenvs``
package): :func:`child_channel` keeps the reply stream away from stray prints and ignores
Ctrl-C, :func:`exit_with_parent` exits when the parent dies, even mid-request
(``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that started the child exits,
which would kill a healthy worker under a thread pool), :func:`limit_address_space` caps its
memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import IO, Any

__all__ = [
    "JsonWorker",
    "WorkerDied",
    "child_channel",
    "exit_with_parent",
    "limit_address_space",
]

#: How often a child looks whether its parent is still alive.
WATCHDOG_S = 0.2


class WorkerDied(Exception):
    """The child died on a request (``sent``), or was found dead twice before it got it."""

    def __init__(self, returncode: int | None, *, sent: bool) -> None:
        super().__init__(f"the worker died (return code {returncode})")
        self.returncode = returncode
        self.sent = sent


class JsonWorker:
    """The host's handle on one child process (see the module doc).

    Arguments:
        argv: the child's command line after the interpreter (``["-c", code, ...]``).
        name: what the child is, for error messages (``"the SQLite worker"``).
        error: raised (with the reason and ``hint``) when no child can be started.
        hint: what to check when the child does not start (a command to run).
        start_timeout_s: how long the child may take to send ``{"ready": true}``.
        env: its environment (this process's by default).
        max_line_bytes: longest reply line accepted (a longer one counts as a dead child).
        object_hook: ``json.loads`` hook for the replies.
        cleanup: called with the process when it is killed by the finalizer (GC, exit).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        error: type[Exception],
        hint: str,
        start_timeout_s: float,
        env: dict[str, str] | None = None,
        max_line_bytes: int | None = None,
        object_hook: Callable[[dict[str, Any]], Any] | None = None,
        cleanup: Callable[[subprocess.Popen[bytes] | None, int], None] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name, self.error, self.hint = name, error, hint
        self.start_timeout_s = start_timeout_s
        self.env = env
        self.max_line_bytes = max_line_bytes
        self.object_hook = object_hook
        self.cleanup = cleanup or kill
        self.proc: subprocess.Popen[bytes] | None = None
        self.owner_pid = os.getpid()
        self._chunks: list[bytes] = []
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and self.owner_pid == os.getpid() else None

    def forked(self) -> bool:
        """In a forked copy, forget the parent's process (leaving it alone); ``True`` then."""
        if self.owner_pid == os.getpid():
            return False
        if self._finalizer is not None:
            self._finalizer.detach()  # this copy of it would kill the parent's process
        self.proc, self._finalizer, self._chunks = None, None, []
        self.owner_pid = os.getpid()
        return True

    def start(self) -> None:
        """Start the child if none runs; ``error`` when it cannot be started or does not say
        it is ready in time (it is stopped then)."""
        self.forked()
        if self.proc is not None and self.proc.poll() is None:
            return
        self.stop()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, *self.argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as e:
            raise self.error(f"Cannot start {self.name} ({sys.executable}): {e}.") from e
        self._finalizer = weakref.finalize(self, self.cleanup, self.proc, os.getpid())
        try:
            hello = self.read(time.monotonic() + self.start_timeout_s)
        except TimeoutError:
            hello = None
        if hello is None or not hello.get("ready"):
            self.stop()
            raise self.error(
                f"{self.name[0].upper()}{self.name[1:]} did not start within "
                f"{self.start_timeout_s:g} s; check that {self.hint} works."
            )

    def call(self, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
        """Send ``request`` and return the reply, starting a child if none runs (``error``
        when none can start). A child found dead when the request is sent (killed from
        outside while idle) is replaced once; past ``wait_s`` the child is stopped and
        ``TimeoutError`` raised; a child that dies on the request, or a second dead one, is
        stopped and :class:`WorkerDied` raised."""
        for attempt in range(2):
            self.start()
            try:
                self.send(request)
            except OSError:
                returncode = self.stop()
                if attempt == 0:
                    continue
                raise WorkerDied(returncode, sent=False) from None
            try:
                reply = self.read(time.monotonic() + wait_s)
            except TimeoutError:
                self.stop()
                raise
            if reply is None:
                raise WorkerDied(self.stop(), sent=True)
            return reply
        raise AssertionError("unreachable")

    def send(self, request: dict[str, Any]) -> None:
        """Write one request line (``OSError`` when the child is gone)."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()

    def read(self, deadline: float) -> dict[str, Any] | None:
        """The next reply; ``None`` if the child closed its end (died) or sent something
        that is not a JSON object line; ``TimeoutError`` past ``deadline``."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks, size = self._chunks, sum(map(len, self._chunks))
        while not chunks or b"\n" not in chunks[-1]:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            chunks.append(chunk)
            size += len(chunk)
            if self.max_line_bytes is not None and size > self.max_line_bytes:
                return None
        line, _, rest = b"".join(chunks).partition(b"\n")
        self._chunks = [rest] if rest else []
        try:
            reply = json.loads(line, object_hook=self.object_hook)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def stop(self) -> int | None:
        """Kill and reap the child; its return code (``None`` if there was none)."""
        proc, self.proc, self._chunks = self.proc, None, []
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        return None if proc is None else kill(proc, self.owner_pid)


def kill(proc: subprocess.Popen[bytes] | None, owner_pid: int) -> int | None:
    """Kill and reap ``proc`` if this process started it (not in a forked copy)."""
    if proc is None or os.getpid() != owner_pid:
        return None
    with contextlib.suppress(OSError):
        proc.kill()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        return proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered
        return None


# ---------------------------------------------------------------------- child side


def child_channel() -> IO[bytes]:
    """The reply stream (the original stdout); fd 1 becomes stderr, so a stray print cannot
    corrupt the replies; Ctrl-C is ignored."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return out


def exit_with_parent(leave: Callable[[], None] | None = None) -> None:
    """A daemon thread that calls ``leave`` (default: exit) once the parent is gone."""
    parent = os.getppid()

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_S)
        if leave is not None:
            leave()
        os._exit(0)

    threading.stack_size(256 * 1024)  # thread stacks count against RLIMIT_AS
    threading.Thread(target=watchdog, daemon=True).start()


def limit_address_space(limit_bytes: int) -> None:
    """``RLIMIT_AS`` of this process, never above an inherited hard limit."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = limit_bytes if hard == resource.RLIM_INFINITY else min(hard, limit_bytes)
    with contextlib.suppress(ValueError, OSError):  # not enforced everywhere (macOS)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
