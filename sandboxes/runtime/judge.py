#!/usr/bin/env python3
"""The hidden-test judge of the sandbox runtime (standard library only).

Three processes, none of which the REPL server's user code or the solution can write to:

*template*
    Started with ``exec`` by the REPL server (a fresh interpreter: nothing the server ever
    received is in its memory), not dumpable. It imports what the judge and the solutions
    commonly use (:data:`WARM_MODULES`) once, then forks one judge per ``J`` byte the
    server sends on its socket and one solution process per ``S`` byte (one the server
    talks to itself, for answers whose tests are all literal calls), handing it the
    descriptor that came with the byte: a socket of its own, whose other end only the server
    holds. The server orders them ahead of use (spares) and only while nothing an answer
    started is alive.
*judge*
    Forked by the template before it has received anything, it first forks its *solution*
    process (so that process holds nothing of any request), tells the server it is ready,
    and waits for one request: the solution and all its tests. It sends the source to the
    solution process, runs the tests against it, answers with every verdict in one frame,
    kills the solution process and exits. Not dumpable: the solution, running as the same
    user, can neither open its ``/proc/<pid>/fd`` nor ptrace it or read its memory.
*solution*
    Closes every descriptor it inherited but its two call pipes, applies the rlimits, then
    waits for the source; it runs the source and the setup, then
    serves calls: pickled arguments in, the JSON of a plain value out (:mod:`plain_values`).
    A solution process that crashed, broke the call protocol or ran out of time is replaced
    by a *fresh interpreter* (``fork`` + ``exec`` of this file with ``--solution-fds``), so
    no solution process ever holds a test: the first was forked before the judge received
    them, and the others start from an empty memory.

A test that only calls the candidate with literal arguments (``candidate(3, [1, 2])``, most
value tests) is a *call*: the judge evaluates the arguments and sends a run of such calls in
one message (the first run with the source), and reads each reply under that test's own
alarm, as if it had made the calls one by one. Every other test (``assert`` tests, tests
that compute with trusted helpers) is evaluated in the judge, the candidate being a proxy
that calls the solution process; so nothing the solution patches (builtins, modules) touches
how a test is computed.

The comparisons run in the judge, on decoded plain values; value tests are
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
import gc
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
from plain_values import Call, decode_value, encode_value, literal_call

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
    """The solution process, as the judge sees it: prepare, start, batch, call, kill."""

    def __init__(self, limits: argparse.Namespace) -> None:
        self.limits = limits
        self.spec: dict[str, str] | None = None
        self.pid: int | None = None
        self.w = -1
        self.reader: FrameReader | None = None
        #: The spec was sent and its ``ready`` not read yet.
        self.loading = False

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

    def start(self, spec: dict[str, str], batch: list[Call] | None = None) -> None:
        """Send the source (and ``batch``, calls it makes once loaded) to the solution
        process, a fresh one if there is none; :meth:`loaded` waits for it."""
        self.spec = spec
        if self.pid is None:
            self._fork(fresh=True)
        self.loading = True
        with contextlib.suppress(OSError):  # one that died shows in loaded()
            _send(self.w, json.dumps(spec).encode())
            if batch is not None:
                _send(self.w, pickle.dumps(("batch", batch)))

    def loaded(self) -> None:
        """Wait until the solution process has run the source (``_LoadError`` with the
        reason when it could not)."""
        if not self.loading:
            return
        self.loading = False
        assert self.reader is not None
        try:
            first = self.reader.read()
        except BaseException as e:
            self.kill()
            raise _LoadError(f"the solution process was lost ({type(e).__name__})") from e
        if not (isinstance(first, list) and first and first[0] == "ready"):
            self.kill()
            why = first[1] if isinstance(first, list) and len(first) == 2 else "no answer"
            raise _LoadError(str(why)[:400])

    def restart(self, batch: list[Call] | None = None) -> None:
        """A fresh interpreter after a crash or a timeout (``_SolutionError`` if it fails)."""
        assert self.spec is not None
        try:
            self.start(self.spec, batch)
            self.loaded()
        except _LoadError as e:
            raise _SolutionError(f"the solution could not be restarted: {e}") from e

    def kill(self) -> None:
        self.loading = False
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

    def send(self, message: tuple[Any, ...]) -> None:
        payload = pickle.dumps(message)
        try:
            _send(self.w, payload)
        except BaseException:
            self.kill()
            raise

    def receive(self) -> Any:
        """The next reply: a plain value, or ``_SolutionError``."""
        assert self.reader is not None
        try:
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

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """``candidate(*args, **kwargs)`` in the solution process (for ``assert`` tests)."""
        if self.pid is None:  # the last one crashed or timed out: a fresh interpreter
            self.restart()
        self.send(("call", args, kwargs))
        return self.receive()


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
    write_frame(wfd, ["ready"])
    # Serving the server itself (a spec with ``cap``), replies are verdict items.
    opts = spec if "cap" in spec else None
    while True:
        message = pickle.loads(_read_message(rfd, MAX_SPEC))
        calls = [message[1:]] if message[0] == "call" else message[1]
        for args, kwargs in calls:
            _reply(wfd, opts, fn, *args, **kwargs)


def _reply(wfd: int, opts: dict[str, Any] | None, compute: Any, *args: Any, **kwargs: Any) -> None:
    """One reply of the solution process: ``["ok", plain value]`` (for the server: the
    verdict item of :func:`_verdict`) or ``["error", why]``."""
    try:
        value = compute(*args, **kwargs)
        out = ["ok", encode_value(value, False)] if opts is None else _verdict(value, opts)
    except BaseException as e:
        out = ["error", f"{type(e).__name__}: {str(e)[:200]}"]
    try:
        write_frame(wfd, out)
    except BaseException as e:
        write_frame(wfd, ["error", f"unsendable result: {str(e)[:100]}"])


def _verdict(value: Any, opts: dict[str, Any]) -> list[Any]:
    """A value test's verdict item: the value, or its digest when its JSON is over ``cap``."""
    enc = encode_value(value, bool(opts["lenient"]))
    text = json.dumps(enc, sort_keys=True)
    if len(text) <= int(opts["cap"]):
        return ["ok", enc]
    return ["digest", hashlib.sha256(text.encode()).hexdigest()]


def _failure(e: BaseException, per_test: float) -> list[Any]:
    if isinstance(e, _Timeout):
        return ["error", f"timed out after {per_test:g} s"]
    if isinstance(e, _SolutionError):
        return ["error", str(e)]
    return ["error", f"{type(e).__name__}: {str(e)[:200]}"]


def _leading_calls(calls: list[Call | None]) -> list[Call]:
    run: list[Call] = []
    for call in calls:
        if call is None:
            break
        run.append(call)
    return run


def run_test(
    solution: Solution, test_ns: dict[str, Any], kind: str, code: str, opts: dict[str, Any]
) -> list[Any]:
    """One test evaluated here, under its alarm, the candidate being the solution process:
    ``[status, body]``."""
    per_test = float(opts["per_test"])
    try:
        signal.setitimer(signal.ITIMER_REAL, per_test)
        try:
            if kind == "assert":
                exec(compile(code, "<test>", "exec"), dict(test_ns))
                return ["ok", None]
            return _verdict(eval(compile(code, "<test>", "eval"), dict(test_ns)), opts)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as e:
        if isinstance(e, _Timeout):
            solution.kill()
        return _failure(e, per_test)


def run_batch(
    solution: Solution, calls: list[Call], opts: dict[str, Any], sent: bool
) -> list[list[Any]]:
    """Calls sent to the solution process at once, each reply read here under its test's
    own alarm (``sent``: the batch went with the source). After a crash, a broken reply or
    a timeout the rest go to a fresh interpreter."""
    per_test = float(opts["per_test"])
    out: list[list[Any]] = []
    while len(out) < len(calls):
        rest = calls[len(out) :]
        try:
            signal.setitimer(signal.ITIMER_REAL, per_test)
            try:
                if not sent:
                    if solution.pid is None:
                        solution.restart(rest)
                    else:
                        solution.send(("batch", rest))
                sent = False
                while len(out) < len(calls):
                    try:
                        item = _verdict(solution.receive(), opts)
                    except _SolutionError as e:
                        if solution.pid is None:  # a broken reply: the process is gone
                            raise
                        item = ["error", str(e)]  # the call raised; the next replies follow
                    out.append(item)
                    signal.setitimer(signal.ITIMER_REAL, per_test)  # the next test's own
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as e:
            solution.kill()
            out.append(_failure(e, per_test))
    return out


def run_tests(
    solution: Solution, test_ns: dict[str, Any], req: dict[str, Any], calls: list[Call | None]
) -> list[Any]:
    """Every test in order: runs of literal calls (``calls``) as batches, the others one by
    one here."""
    tests, results, i = req["tests"], [], 0
    while i < len(tests):
        if calls[i] is None:
            results.append(run_test(solution, test_ns, tests[i][0], tests[i][1], req))
            i += 1
            continue
        run = _leading_calls(calls[i:])
        results += run_batch(solution, run, req, sent=i == 0)
        i += len(run)
    return results


def judge_main(sock: int, limits: argparse.Namespace) -> None:
    """One judge: the protocol of the module doc over ``sock``."""
    prctl(PR_SET_DUMPABLE, 0)
    solution = Solution(limits)
    solution.prepare()  # before anything is read: the solution process holds no request
    write_frame(sock, {"ready": os.getpid(), "solution": solution.pid})
    req = FrameReader(sock, MAX_SPEC).read()
    signal.signal(signal.SIGALRM, _alarm)
    entry = str(req["entry"])
    calls = [None if k == "assert" else literal_call(c, entry) for k, c in req["tests"]]
    first = _leading_calls(calls)
    solution.start({k: str(req[k]) for k in ("source", "setup", "entry")}, first or None)
    test_ns: dict[str, Any] = {"__name__": "__test__"}
    exec(compile(req["setup"], "<test setup>", "exec"), test_ns)
    exec(compile(req["test_setup"], "<test helpers>", "exec"), test_ns)
    test_ns["candidate"] = test_ns[entry] = solution.call
    try:
        solution.loaded()
    except _LoadError as e:
        write_frame(sock, {"load_error": str(e)})
        return
    write_frame(sock, {"results": run_tests(solution, test_ns, req, calls)})
    solution.kill()


def spare_solution_main(sock: int, limits: argparse.Namespace) -> None:
    """A solution process the server itself talks to over ``sock`` (answers whose tests
    are all literal calls): it greets with its pid, then serves as :func:`_serve_solution`."""
    write_frame(sock, {"ready": os.getpid()})
    _serve_solution(limits, sock, sock)


def template_main(sock: int, limits: argparse.Namespace) -> None:
    """Fork a judge per ``J`` byte on ``sock`` and a solution process per ``S`` byte,
    handing it the descriptor that came with the byte (its own channel to the server);
    exit when the REPL server goes away."""
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for name in WARM_MODULES:
        importlib.import_module(name)
    gc.freeze()  # the collector of a judge or solution never walks (so never copies) these
    control = socket.socket(fileno=sock)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            return
        if msg not in (b"J", b"S") or len(fds) != 1:
            return
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                close_fds_except(fds[0])
                if msg == b"J":
                    judge_main(fds[0], limits)
                else:
                    spare_solution_main(fds[0], limits)
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
