"""The REPL server's side of the hidden-test judge (standard library only).

The server starts the judge *template* (:mod:`judge`) with ``exec``, over a socket pair only
the two of them hold, and plays the judge protocol for each ``judge`` request: the solution,
then the tests one at a time, each answer checked (schema, sizes). Anything unexpected (a
lost judge, a malformed frame, the time budget spent) stops the template; the next request
starts a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from frames import (
    FrameReader,
    ProtocolError,
    children_of,
    close_fds_except,
    null_stdio,
    proc_stat,
    write_frame,
)

JUDGE_PATH = os.path.join(os.path.dirname(os.path.realpath(__file__)), "judge.py")
#: Longest error text of one test the host is shown.
MAX_ERROR = 2000
#: Largest solution + setup the server passes on (bytes of each).
MAX_SOURCE = 4 * 1024 * 1024


class JudgeLost(Exception):
    """The judge went away, broke the protocol or ran out of time."""


def _check_item(item: Any) -> list[Any]:
    """One test's verdict item from the judge, or ``JudgeLost``."""
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        raise JudgeLost("a malformed verdict")
    status, body = item
    if status == "error" and isinstance(body, str) and len(body) <= MAX_ERROR:
        return item
    if status == "digest" and isinstance(body, str) and len(body) == 64:
        return item
    if status == "ok":
        return item
    raise JudgeLost("a malformed verdict")


def _check_request(req: dict[str, Any]) -> None:
    for key in ("source", "setup", "entry", "test_setup"):
        if not isinstance(req.get(key), str) or len(req[key]) > MAX_SOURCE:
            raise ValueError(f"judge: {key} must be a str of at most {MAX_SOURCE} characters")
    tests = req.get("tests")
    if not isinstance(tests, list) or not all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in tests
    ):
        raise ValueError("judge: tests must be a list of [kind, code] strings")
    for key in ("timeout", "per_test"):
        if not isinstance(req.get(key), (int, float)) or req[key] <= 0:
            raise ValueError(f"judge: {key} must be a positive number")


class JudgeClient:
    """Owns the judge template and runs one judge per request."""

    def __init__(self, args: argparse.Namespace, host_gone: Callable[[], None]) -> None:
        self.args = args
        self.host_gone = host_gone
        self.template_pid: int | None = None
        self.sock: socket.socket | None = None
        self.reader: FrameReader | None = None

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                fd = theirs.fileno()
                close_fds_except(fd)
                null_stdio()
                os.set_inheritable(fd, True)
                a = self.args
                argv = [
                    sys.executable, "-I", "-u", JUDGE_PATH, "--socket", str(fd),
                    "--rlimit-as", str(a.rlimit_as), "--rlimit-cpu", str(a.rlimit_cpu),
                    "--rlimit-fsize", str(a.rlimit_fsize), "--rlimit-nproc", str(a.rlimit_nproc),
                    *(arg for p in a.sys_path for arg in ("--sys-path", p)),
                ]  # fmt: skip
                os.execv(sys.executable, argv)
            finally:
                os._exit(70)
        theirs.close()
        self.template_pid, self.sock = pid, ours
        self.reader = FrameReader(ours.fileno(), 8 * self.args.max_output + (1 << 20))

    def reaped(self, pid: int) -> None:
        """The server collected ``pid``; forget the template if it was that."""
        if pid == self.template_pid:
            self.template_pid = None
            self.stop()

    def stop(self) -> None:
        """Kill the template and any judge it runs; close the socket."""
        pid, self.template_pid = self.template_pid, None
        if pid is not None:
            for victim in [pid, *children_of(pid)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(victim, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
        if self.sock is not None:
            self.sock.close()
        self.sock, self.reader = None, None

    def recover(self) -> None:
        """After a run: the solution (same uid) may have stopped or killed the template,
        which serves the next answers. A stopped one is continued; a dead one is replaced
        on the next run."""
        pid = self.template_pid
        if pid is None:
            return
        fields = proc_stat(pid)
        state = b"X" if fields is None else fields[0]
        if state in (b"Z", b"X"):
            self.stop()
        elif state in (b"T", b"t"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)

    def _read(self, deadline: float) -> Any:
        assert self.reader is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JudgeLost("the tests timed out")
            frame = self.reader.read(timeout=0) if self.reader.buf else None
            if frame is not None:
                return frame
            ready = select.select([self.reader.fd, 0], [], [], left)[0]
            if 0 in ready:
                self.host_gone()
            if self.reader.fd in ready:
                try:
                    frame = self.reader.read(timeout=0)
                except (EOFError, ProtocolError) as e:
                    raise JudgeLost(f"the judge was lost ({type(e).__name__})") from e
                if frame is not None:
                    return frame

    def _send(self, obj: Any) -> None:
        assert self.sock is not None
        try:
            write_frame(self.sock.fileno(), obj)
        except OSError as e:
            raise JudgeLost(f"the judge was lost ({e})") from e

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        """``{"results": [...]}``, ``{"load_error": str}`` or ``{"problem": str}``."""
        _check_request(req)
        deadline = time.monotonic() + float(req["timeout"])
        if self.template_pid is None:
            self._spawn()
        assert self.sock is not None
        try:
            try:
                self.sock.sendall(b"J")
            except OSError as e:
                raise JudgeLost(f"the judge template was lost ({e})") from e
            hello = self._read(deadline)
            if not (isinstance(hello, dict) and isinstance(hello.get("pid"), int)):
                raise JudgeLost("a malformed greeting")
            self._send({k: req[k] for k in ("source", "setup", "entry", "test_setup")})
            loaded = self._read(deadline)
            if isinstance(loaded, dict) and isinstance(loaded.get("load_error"), str):
                return {"load_error": loaded["load_error"][:MAX_ERROR]}
            if loaded != {"loaded": True}:
                raise JudgeLost("a malformed load report")
            results = []
            cap = int(req.get("cap", 2000))
            for kind, code in req["tests"]:
                self._send(
                    {
                        "kind": kind,
                        "code": code,
                        "per_test": req["per_test"],
                        "lenient": bool(req.get("lenient", False)),
                        "cap": cap,
                    }
                )
                results.append(_check_item(self._read(deadline)))
            self._send({"done": True})
            if self._read(deadline) != {"bye": True}:
                raise JudgeLost("a malformed goodbye")
            return {"results": results}
        except JudgeLost as e:
            self.stop()
            return {"problem": str(e)}
