#!/usr/bin/env python3
"""The hidden-test judge of the sandbox runtime (standard library only).

Three processes, none of which the REPL server's user code or the solution can write to:

*template*
    Started with ``exec`` by the REPL server (a fresh interpreter: nothing the server ever
    received is in its memory), not dumpable. On each ``J`` byte on its socket it forks a
    judge and waits for it; the judge owns the socket until it exits.
*judge*
    Receives the solution (source, setup, entry point), forks the *solution* process, then
    receives the tests **one at a time** and answers each with a verdict item. So a solution
    process (forked again after a crash or a timeout) holds in memory only the tests that
    already ran, never the ones to come. Not dumpable: the solution, running as the same
    user, can neither open its ``/proc/<pid>/fd`` nor ptrace it or read its memory.
*solution*
    Closes every descriptor it inherited but its two call pipes, applies the rlimits, runs
    the source and the setup, then serves calls: pickled arguments in, the JSON of a plain
    value out (:mod:`plain_values`).

The tests and the comparisons run in the judge, on decoded plain values; value tests are
compared on the host, where the expected values stay. The solution can lie only about its
own return values, and lying right is solving the task.

Judge protocol (frames of :mod:`frames` on the socket), after the ``J`` byte:
``→ {"pid": int}``; ``← {"source", "setup", "entry", "test_setup"}`` (``test_setup`` runs
in the tests' namespace only); ``→ {"loaded": true}`` or
``{"load_error": str}``; then per test ``← {"kind", "code", "per_test", "lenient", "cap"}``
``→ [status, body]`` with status ``ok`` / ``digest`` / ``error``; ``← {"done": true}``
``→ {"bye": true}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import signal
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

#: Largest reply the solution may send for one call (bytes of JSON).
MAX_MESSAGE = 64 * 1024 * 1024
#: Largest frame the judge accepts from the REPL server (a solution and its setup).
MAX_SPEC = 8 * 1024 * 1024


class _Timeout(BaseException):
    pass


class _LoadError(Exception):
    pass


class _SolutionError(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout()


class Solution:
    """The solution process, as the judge sees it: start, call, kill."""

    def __init__(self, spec: dict[str, str], limits: argparse.Namespace) -> None:
        self.spec = spec
        self.limits = limits
        self.pid: int | None = None
        self.w = -1
        self.reader: FrameReader | None = None

    def start(self) -> None:
        child_r, parent_w = os.pipe()
        parent_r, child_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                close_fds_except(child_r, child_w)
                null_stdio()
                _serve_solution(self.spec, self.limits, child_r, child_w)
            finally:
                os._exit(0)
        os.close(child_r)
        os.close(child_w)
        self.pid, self.w, self.reader = pid, parent_w, FrameReader(parent_r, MAX_MESSAGE)
        first = self.reader.read()
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
        if self.pid is None:
            self.start()
        assert self.reader is not None
        try:
            view = memoryview(len(payload).to_bytes(4, "big") + payload)
            while view:
                view = view[os.write(self.w, view) :]
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


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("the judge went away")
        buf += chunk
    return buf


def _serve_solution(spec: dict[str, str], limits: argparse.Namespace, rfd: int, wfd: int) -> None:
    """The solution process: load the source, then answer calls until killed."""
    os.setpgid(0, 0)
    apply_rlimits(limits)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
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
    write_frame(wfd, ["ready"])
    while True:
        size = int.from_bytes(_read_exact(rfd, 4), "big")
        args, kwargs = pickle.loads(_read_exact(rfd, size))
        try:
            out = ["ok", encode_value(fn(*args, **kwargs), False)]
        except BaseException as e:
            out = ["error", f"{type(e).__name__}: {str(e)[:200]}"]
        try:
            write_frame(wfd, out)
        except BaseException as e:
            write_frame(wfd, ["error", f"unsendable result: {str(e)[:100]}"])


def run_test(solution: Solution, test_ns: dict[str, Any], test: dict[str, Any]) -> list[Any]:
    """One test, under its alarm: ``[status, body]``."""
    kind, code = test["kind"], test["code"]
    try:
        signal.setitimer(signal.ITIMER_REAL, float(test["per_test"]))
        try:
            if kind == "assert":
                exec(compile(code, "<test>", "exec"), dict(test_ns))
                return ["ok", None]
            value = eval(compile(code, "<test>", "eval"), dict(test_ns))
            enc = encode_value(value, bool(test["lenient"]))
            text = json.dumps(enc, sort_keys=True)
            if len(text) <= int(test["cap"]):
                return ["ok", enc]
            return ["digest", hashlib.sha256(text.encode()).hexdigest()]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        solution.kill()
        return ["error", f"timed out after {float(test['per_test']):g} s"]
    except _SolutionError as e:
        return ["error", str(e)]
    except BaseException as e:
        return ["error", f"{type(e).__name__}: {str(e)[:200]}"]


def judge_main(sock: int, limits: argparse.Namespace) -> None:
    """One judge: the protocol of the module doc over ``sock``."""
    prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGALRM, _alarm)
    reader = FrameReader(sock, MAX_SPEC)
    write_frame(sock, {"pid": os.getpid()})
    spec = reader.read()
    solution = Solution({k: str(spec[k]) for k in ("source", "setup", "entry")}, limits)
    try:
        solution.start()
    except _LoadError as e:
        write_frame(sock, {"load_error": str(e)})
        return
    except BaseException as e:
        write_frame(sock, {"load_error": f"{type(e).__name__}: {str(e)[:300]}"})
        return
    write_frame(sock, {"loaded": True})
    test_ns: dict[str, Any] = {"__name__": "__test__"}
    exec(compile(spec["setup"], "<test setup>", "exec"), test_ns)
    exec(compile(spec["test_setup"], "<test helpers>", "exec"), test_ns)
    test_ns["candidate"] = test_ns[spec["entry"]] = solution.call
    del spec
    while True:
        test = reader.read()
        if not isinstance(test, dict) or test.get("done"):
            solution.kill()
            write_frame(sock, {"bye": True})  # the server sends nothing more until it reads this
            return
        write_frame(sock, run_test(solution, test_ns, test))


def template_main(sock: int, limits: argparse.Namespace) -> None:
    """Fork a judge per ``J`` byte on ``sock``; exit when the REPL server goes away."""
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    while True:
        try:
            if os.read(sock, 1) != b"J":
                return
        except OSError:
            return
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                judge_main(sock, limits)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.waitpid(pid, 0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", type=int, required=True, help="fd of the REPL server's socket")
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
    template_main(args.socket, args)


if __name__ == "__main__":
    main()
