#!/usr/bin/env python3
"""The hidden-test judge of the sandbox runtime (standard library only).

Three processes, none of which the REPL server's user code or the solution can write to:

*template*
    Started with ``exec`` by the REPL server (a fresh interpreter: nothing the server ever
    received is in its memory), not dumpable. It imports what the judge and the solutions
    commonly use (:data:`WARM_MODULES`) once, then forks one judge per ``J`` byte the
    server sends on its socket, handing it the descriptor that came with the byte: a socket
    of that judge's own, whose other end only the server holds. The server orders judges
    ahead of use (spares) and only while nothing an answer started is alive.
*judge*
    Forked by the template before it has received anything, it first forks its *solution*
    process (so that process holds nothing of any request), tells the server it is ready,
    and waits for one request: the solution and all its tests. It sends the source to the
    solution process, runs the tests against it one at a time, answers with every verdict in
    one frame, kills the solution process and exits. Not dumpable: the solution, running as
    the same user, can neither open its ``/proc/<pid>/fd`` nor ptrace it or read its memory.
*solution*
    Closes every descriptor it inherited but its two call pipes, applies the rlimits, then
    waits for the source; it runs the source and the setup, then serves calls: pickled
    arguments in, the JSON of a plain value out (:mod:`plain_values`). A solution process
    that crashed, broke the call protocol or ran out of time is replaced by a *fresh
    interpreter* (``fork`` + ``exec`` of this file with ``--solution-fds``), so no solution
    process ever holds a test: the first was forked before the judge received them, and the
    others start from an empty memory.

The tests and the comparisons run in the judge, on decoded plain values; value tests are
compared on the host, where the expected values stay. The solution can lie only about its
own return values, and lying right is solving the task.

Judge protocol (frames of :mod:`frames` on the judge's own socket): ``→ {"ready": judge pid,
"solution": solution pid}``; ``← {"source", "setup", "entry", "test_setup", "tests":
[[kind, code], …], "per_test", "lenient", "cap"}`` (``test_setup`` runs in the tests'
namespace only); ``→ {"results": [[status, body], …]}`` (status ``ok`` / ``digest`` /
``error``, one per test) or ``{"load_error": str}``; the judge then exits.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import pickle
import signal
import socket
import sys
from typing import Any

sys.path.append(os.path.dirname(os.path.realpath(__file__)))


from frames import (
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    FrameReader,
    apply_rlimits,
    close_fds_except,
    null_stdio,
    prctl,
    write_frame,
)
from plain_values import decode_value, encode_value

JUDGE_PATH = os.path.realpath(__file__)
#: Largest reply the solution may send for one call (bytes of JSON).
MAX_MESSAGE = 64 * 1024 * 1024
#: Largest frame the judge accepts from the REPL server (a solution, its setup and tests).
MAX_SPEC = 128 * 1024 * 1024
#: Standard-library modules the template imports once, so that neither the judge nor a
#: solution pays for them per answer. Only modules without state drawn at import time
#: (``random`` seeds itself on import: every solution would share one sequence).
WARM_MODULES = (
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",
    "re",
    "resource",
    "string",
    "typing",
)


class _Timeout(BaseException):
    pass


class _LoadError(Exception):
    pass


class _SolutionError(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout()


class Solution:
    """The solution process, as the judge sees it: prepare, load, call, kill."""

    def __init__(self, limits: argparse.Namespace) -> None:
        self.limits = limits
        self.spec: dict[str, str] | None = None
        self.pid: int | None = None
        self.w = -1
        self.reader: FrameReader | None = None

    def _fork(self, fresh: bool) -> None:
        """A solution process waiting for its spec: forked from this judge (``fresh``
        false: only before the judge has received anything) or a fresh interpreter."""
        child_r, parent_w = os.pipe()
        parent_r, child_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                close_fds_except(child_r, child_w)
                null_stdio()
                if fresh:
                    os.set_inheritable(child_r, True)
                    os.set_inheritable(child_w, True)
                    os.execv(sys.executable, _solution_argv(self.limits, child_r, child_w))
                _serve_solution(self.limits, child_r, child_w)
            finally:
                os._exit(0)
        os.close(child_r)
        os.close(child_w)
        self.pid, self.w, self.reader = pid, parent_w, FrameReader(parent_r, MAX_MESSAGE)

    def prepare(self) -> None:
        """Fork the first solution process now, while this judge holds no request."""
        self._fork(fresh=False)

    def load(self, spec: dict[str, str]) -> None:
        """Send the source to the solution process (a fresh one if there is none) and wait
        until it has run it (``_LoadError`` with the reason when it could not)."""
        self.spec = spec
        if self.pid is None:
            self._fork(fresh=True)
        assert self.reader is not None
        try:
            _send(self.w, json.dumps(spec).encode())
            first = self.reader.read()
        except BaseException as e:
            self.kill()
            raise _LoadError(f"the solution process was lost ({type(e).__name__})") from e
        if not (isinstance(first, list) and first and first[0] == "ready"):
            self.kill()
            why = first[1] if isinstance(first, list) and len(first) == 2 else "no answer"
            raise _LoadError(str(why)[:400])

    def kill(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.w)
        if self.reader is not None:
            os.close(self.reader.fd)
        self.pid, self.reader = None, None

    def call(self, *args: Any, **kwargs: Any) -> Any:
        payload = pickle.dumps((args, kwargs))
        if self.pid is None:  # the last one crashed or timed out: a fresh interpreter
            assert self.spec is not None
            try:
                self.load(self.spec)
            except _LoadError as e:
                raise _SolutionError(f"the solution could not be restarted: {e}") from e
        assert self.reader is not None
        try:
            _send(self.w, payload)
            reply = self.reader.read()
        except BaseException:
            self.kill()
            raise
        if isinstance(reply, list) and len(reply) == 2 and reply[0] == "error":
            raise _SolutionError(str(reply[1])[:300])
        if not (isinstance(reply, list) and len(reply) == 2 and reply[0] == "ok"):
            self.kill()
            raise _SolutionError("the solution sent a malformed reply")
        return decode_value(reply[1])


def _solution_argv(limits: argparse.Namespace, rfd: int, wfd: int) -> list[str]:
    return [
        sys.executable, "-I", "-u", JUDGE_PATH, "--solution-fds", f"{rfd},{wfd}",
        "--rlimit-as", str(limits.rlimit_as), "--rlimit-cpu", str(limits.rlimit_cpu),
        "--rlimit-fsize", str(limits.rlimit_fsize), "--rlimit-nproc", str(limits.rlimit_nproc),
        *(arg for p in limits.sys_path for arg in ("--sys-path", p)),
    ]  # fmt: skip


def _send(fd: int, payload: bytes) -> None:
    view = memoryview(len(payload).to_bytes(4, "big") + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("the judge went away")
        buf += chunk
    return buf


def _read_message(fd: int, limit: int) -> bytes:
    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > limit:
        raise EOFError("an oversized message")
    return _read_exact(fd, size)


def _serve_solution(limits: argparse.Namespace, rfd: int, wfd: int) -> None:
    """The solution process: wait for the source, load it, then answer calls until killed."""
    os.setpgid(0, 0)
    apply_rlimits(limits)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    spec = json.loads(_read_message(rfd, MAX_SPEC))
    entry = spec["entry"]
    ns: dict[str, Any] = {"__name__": "__solution__"}
    try:
        exec(compile(spec["source"], "<solution>", "exec"), ns)
        exec(compile(spec["setup"], "<test setup>", "exec"), ns)
        fn = ns.get(entry)
        if not callable(fn):
            raise NameError(f"the solution does not define a function {entry}")
    except BaseException as e:
        write_frame(wfd, ["load_error", f"{type(e).__name__}: {str(e)[:300]}"])
        return
    del spec
    write_frame(wfd, ["ready"])
    while True:
        args, kwargs = pickle.loads(_read_message(rfd, MAX_SPEC))
        try:
            out = ["ok", encode_value(fn(*args, **kwargs), False)]
        except BaseException as e:
            out = ["error", f"{type(e).__name__}: {str(e)[:200]}"]
        try:
            write_frame(wfd, out)
        except BaseException as e:
            write_frame(wfd, ["error", f"unsendable result: {str(e)[:100]}"])


def run_test(
    solution: Solution, test_ns: dict[str, Any], kind: str, code: str, opts: dict[str, Any]
) -> list[Any]:
    """One test, under its alarm: ``[status, body]``."""
    per_test = float(opts["per_test"])
    try:
        signal.setitimer(signal.ITIMER_REAL, per_test)
        try:
            if kind == "assert":
                exec(compile(code, "<test>", "exec"), dict(test_ns))
                return ["ok", None]
            value = eval(compile(code, "<test>", "eval"), dict(test_ns))
            enc = encode_value(value, bool(opts["lenient"]))
            text = json.dumps(enc, sort_keys=True)
            if len(text) <= int(opts["cap"]):
                return ["ok", enc]
            return ["digest", hashlib.sha256(text.encode()).hexdigest()]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        solution.kill()
        return ["error", f"timed out after {per_test:g} s"]
    except _SolutionError as e:
        return ["error", str(e)]
    except BaseException as e:
        return ["error", f"{type(e).__name__}: {str(e)[:200]}"]


def judge_main(sock: int, limits: argparse.Namespace) -> None:
    """One judge: the protocol of the module doc over ``sock``."""
    prctl(PR_SET_DUMPABLE, 0)
    solution = Solution(limits)
    solution.prepare()  # before anything is read: the solution process holds no request
    write_frame(sock, {"ready": os.getpid(), "solution": solution.pid})
    req = FrameReader(sock, MAX_SPEC).read()
    signal.signal(signal.SIGALRM, _alarm)
    try:
        solution.load({k: str(req[k]) for k in ("source", "setup", "entry")})
    except _LoadError as e:
        write_frame(sock, {"load_error": str(e)})
        return
    test_ns: dict[str, Any] = {"__name__": "__test__"}
    exec(compile(req["setup"], "<test setup>", "exec"), test_ns)
    exec(compile(req["test_setup"], "<test helpers>", "exec"), test_ns)
    test_ns["candidate"] = test_ns[req["entry"]] = solution.call
    results = [run_test(solution, test_ns, kind, code, req) for kind, code in req["tests"]]
    write_frame(sock, {"results": results})
    solution.kill()


def template_main(sock: int, limits: argparse.Namespace) -> None:
    """Fork a judge per ``J`` byte on ``sock``, handing it the descriptor that came with the
    byte (its own channel to the server); exit when the REPL server goes away."""
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for name in WARM_MODULES:
        importlib.import_module(name)
    control = socket.socket(fileno=sock)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            return
        if msg != b"J" or len(fds) != 1:
            return
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                close_fds_except(fds[0])
                judge_main(fds[0], limits)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.close(fds[0])
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--socket", type=int, help="fd of the REPL server's socket (template)")
    role.add_argument("--solution-fds", help="'r,w': a restarted solution process's pipes")
    p.add_argument("--rlimit-as", type=int, default=0)
    p.add_argument("--rlimit-cpu", type=int, default=0)
    p.add_argument("--rlimit-fsize", type=int, default=0)
    p.add_argument("--rlimit-nproc", type=int, default=0)
    p.add_argument("--sys-path", action="append", default=[])
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.sys_path:
        sites = [
            i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))
        ]
        at = sites[0] if sites else len(sys.path)
        sys.path[at:at] = args.sys_path
    if args.solution_fds is not None:
        rfd, wfd = (int(fd) for fd in args.solution_fds.split(","))
        try:
            _serve_solution(args, rfd, wfd)
        finally:
            os._exit(0)
    template_main(args.socket, args)


if __name__ == "__main__":
    main()
