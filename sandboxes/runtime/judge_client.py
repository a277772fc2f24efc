"""The REPL server's side of the hidden-test judge (standard library only).

The server starts the judge *template* (:mod:`judge`) with ``exec``, over a socket pair only
the two of them hold, and orders processes from it ahead of use: a ``J`` byte (a judge, which
forks its solution process at once) or an ``S`` byte (a solution process alone), each with
one end of a fresh socket pair as its own channel. So an answer costs no fork and no import:

* when every test is a literal call of the candidate (:func:`plain_values.literal_call`),
  the server talks to a spare solution process itself: the source and all the calls in one
  go, one verdict item back per call, each read within its test's own time limit and size
  cap and checked (:meth:`JudgeClient._run_direct`); after a crash, a broken reply or a
  timeout the rest go to another spare;
* otherwise a spare judge gets the solution and every test in one frame, and its verdicts
  come back in one frame, checked (schema, sizes).

A spare is used only once the server has checked that it (and a judge's solution process) is
alive, not stopped, with no signal it has not acted on yet, and the child it must be; the
clean-up after each answer checks every waiting spare so, and replaces a template whose
spares an answer stopped before the next answer comes. Anything unexpected (a lost judge, a
malformed frame, the time budget spent) stops the template; a fresh one is started right
after the reply.

After the reply has gone to the host, :meth:`JudgeClient.clean_up` kills every process the
answer started (what it was handed, the trees under them and the orphans: the server is
their subreaper), and only then orders new spares. So a spare is forked only while no
process of any answer is alive; a spare that waited through an answer is used only after
that answer's processes are dead and its state checked (the answer's code, same uid, could
only signal it: it cannot ptrace a process that is not dumpable, open its descriptors or
read its memory, and the spare holds nothing of any request anyway).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from frames import (
    FrameReader,
    ProtocolError,
    children_of,
    close_fds_except,
    null_stdio,
    proc_stat,
    signal_waiting,
    write_frame,
)
from plain_values import Call, literal_call

JUDGE_PATH = os.path.join(os.path.dirname(os.path.realpath(__file__)), "judge.py")
#: Longest error text of one test the host is shown.
MAX_ERROR = 2000
#: Largest solution + setup the server passes on (characters of each, and of all the
#: tests together).
MAX_SOURCE = 4 * 1024 * 1024
#: Seconds the clean-up after an answer may spend killing what the answer started.
CLEAN_UP_S = 3.0
#: Spares kept ready, by kind: judges (``J``) and solution processes the server talks to
#: itself (``S``, for answers whose tests are all literal calls). The second of each lets an
#: answer that follows at once (an eval loop), or a restart, find one forked already.
SPARES = {"J": 2, "S": 2}
#: Seconds a spare judge may take to greet before it is given up for a fresh template.
HELLO_S = 2.0
#: Process states of a spare judge that can serve (``/proc/<pid>/stat``): sleeping or running.
_SERVING = (b"S", b"R", b"D")


@dataclass
class Spare:
    """A judge (``kind`` ``J``) or a solution process (``S``) forked ahead of use, with its
    own socket."""

    kind: str
    sock: socket.socket
    reader: FrameReader
    #: From its ``ready`` frame: the judge's and its solution process's pids (``J``), the
    #: solution process's pid (``S``).
    pids: tuple[int, ...] | None = None


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
    if sum(len(code) for _, code in tests) > MAX_SOURCE:
        raise ValueError(f"judge: the tests must total at most {MAX_SOURCE} characters")
    for key in ("timeout", "per_test"):
        if not isinstance(req.get(key), (int, float)) or req[key] <= 0:
            raise ValueError(f"judge: {key} must be a positive number")


class JudgeClient:
    """Owns the judge template and its spare judges; runs one judge per request."""

    def __init__(
        self,
        args: argparse.Namespace,
        host_gone: Callable[[], None],
        reap: Callable[[], None],
    ) -> None:
        self.args = args
        #: Called while waiting on the judge when the host's channel is readable.
        self.host_gone = host_gone
        #: Collects the server's exited children (the server's own reaper).
        self.reap = reap
        self.template_pid: int | None = None
        self.sock: socket.socket | None = None
        self.spares: dict[str, list[Spare]] = {kind: [] for kind in SPARES}
        #: The pids of the spares the last answer used, until its clean-up.
        self.used: list[int] = []
        #: Whether a spare of this template has greeted (until then it may still be
        #: starting: its first spares get the whole time budget).
        self.greeted = False

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
        self.greeted = False
        self._order()

    def _order(self) -> None:
        """Order spares from the template until :data:`SPARES` of each kind wait."""
        assert self.sock is not None
        for kind, want in SPARES.items():
            while len(self.spares[kind]) < want:
                ours, theirs = socket.socketpair()
                try:
                    socket.send_fds(self.sock, [kind.encode()], [theirs.fileno()])
                finally:
                    theirs.close()
                reader = FrameReader(ours.fileno(), 8 * self.args.max_output + (1 << 20))
                self.spares[kind].append(Spare(kind, ours, reader))

    def reaped(self, pid: int) -> None:
        """The server collected ``pid``; forget the template if it was that."""
        if pid == self.template_pid:
            self.template_pid = None
            self.stop()

    def stop(self) -> None:
        """Kill the template and every judge it forked; close the sockets."""
        pid, self.template_pid = self.template_pid, None
        if pid is not None:
            for victim in [pid, *children_of(pid)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(victim, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
        for spares in self.spares.values():
            for spare in spares:
                spare.sock.close()
        if self.sock is not None:
            self.sock.close()
        self.sock, self.spares = None, {kind: [] for kind in SPARES}

    def _template_state(self) -> bytes:
        fields = None if self.template_pid is None else proc_stat(self.template_pid)
        return b"X" if fields is None else fields[0]

    def recover(self) -> None:
        """After a run: the solution (same uid) may have stopped or killed the template.
        A dead one is forgotten (replaced by the caller); a live one is sent ``SIGCONT``,
        which continues it if stopped and discards a stop signal it has not acted on yet
        (its state does not show that one)."""
        state = self._template_state()
        if self.template_pid is not None and state in (b"Z", b"X"):
            self.stop()
        elif self.template_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.template_pid, signal.SIGCONT)

    def _intact(self, spare: Spare, deadline: float) -> bool:
        """The spare (its pids from its ``ready`` frame) is alive, not stopped and no signal
        waits for it (:func:`serving`), and so is a judge's solution process and the
        template; each is the child it must be, of the template or of the judge (a pid taken
        over by another process is not)."""
        keys = {"ready", "solution"} if spare.kind == "J" else {"ready"}
        if spare.pids is None:
            try:
                hello = self._read(spare.reader, deadline)
            except JudgeLost:
                return False
            if not (
                isinstance(hello, dict)
                and set(hello) == keys
                and all(type(v) is int for v in hello.values())
            ):
                return False
            spare.pids = (hello["ready"], *([hello["solution"]] if spare.kind == "J" else []))
        parent = self.template_pid
        for pid in spare.pids:
            if not serving(pid, parent):
                return False
            parent = pid
        return self.template_pid is not None and serving(self.template_pid, os.getpid())

    def clean_up(self, worker: int) -> None:
        """After an answer's reply went out: kill what the answer started, until nothing is
        left; then order new spares (or start a fresh template).

        What an answer starts is the judge it used and its descendants, and orphans: the
        server is the subreaper, so a process whose parent died becomes a child of the
        server. So the victims are that judge's tree and the tree of every child of the
        server but the template and ``worker`` (the REPL's interpreter); the template and
        the spares it forked are never among them, whatever their state."""
        self.recover()
        me = os.getpid()
        deadline = time.monotonic() + CLEAN_UP_S
        dead: set[int] = set()
        while True:
            tree = process_tree()
            roots = [
                pid
                for pid, (parent, _) in tree.items()
                if parent == me and pid not in (self.template_pid, worker)
            ]
            # (a used pid the template has reaped may be a new spare's by now)
            waiting = {pid for kind in self.spares.values() for sp in kind for pid in sp.pids or ()}
            roots += [
                pid
                for pid in self.used
                if tree.get(pid, (0, b""))[0] == self.template_pid and pid not in waiting
            ]
            trees = [pid for root in roots for pid in (root, *descendants(tree, root))]
            victims = [pid for pid in trees if tree[pid][1] != b"Z"]
            # /proc is listed before each process is read: one that forked after the listing
            # and died before it was read shows as a zombie, and its child only in the next
            # listing. So the clean-up ends on a listing with no victim and no new zombie.
            was_dead, dead = dead, {pid for pid in trees if tree[pid][1] == b"Z"}
            for pid in victims:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.reap()
            if not victims and dead <= was_dead:
                break
            if time.monotonic() > deadline:  # still forking: no judge beside it
                self.stop()
                return
        self.used = []
        self.recover()
        if not self._all_serve(tree):  # the last listing: it found nothing to kill
            self.stop()  # a fresh template now, not within the next answer's time budget
        try:
            if self.template_pid is None:
                self._spawn()
            else:
                self._order()
        except OSError:
            self.stop()

    def _all_serve(self, tree: dict[int, tuple[int, bytes]]) -> bool:
        """Every live process the template forked (the waiting spares, and the spare
        judges' solution processes) can serve (:func:`serving`). Run by the clean-up, once
        the answer's processes are dead: a spare the answer stopped (same uid) is found
        here, even one that has not greeted yet, and the template replaced before the next
        answer comes."""
        if self.template_pid is None:
            return True
        return all(
            serving(pid, tree[pid][0])
            for pid in descendants(tree, self.template_pid)
            if tree[pid][1] != b"Z"
        )

    def _read(self, reader: FrameReader, deadline: float) -> Any:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JudgeLost("the tests timed out")
            frame = reader.read(timeout=0) if reader.buf else None
            if frame is not None:
                return frame
            ready = select.select([reader.fd, 0], [], [], left)[0]
            if 0 in ready:
                self.host_gone()
            if reader.fd in ready:
                try:
                    frame = reader.read(timeout=0)
                except (EOFError, OSError, ProtocolError) as e:
                    raise JudgeLost(f"the judge was lost ({type(e).__name__})") from e
                if frame is not None:
                    return frame

    def _take(self, kind: str, deadline: float) -> Spare:
        """An intact spare of ``kind`` (from a fresh template if need be); ``JudgeLost``
        when none can be had."""
        for attempt in range(2):
            fresh = self.template_pid is None
            try:
                if fresh:
                    self._spawn()
                self._order()
            except OSError as e:
                self.stop()
                raise JudgeLost(f"no judge could be started ({e})") from e
            spare = self.spares[kind].pop(0)
            # A spare waiting since the last clean-up has greeted long ago; one that has not
            # within HELLO_S was stopped (or the machine is swamped): a fresh template then.
            # The first spares of a fresh template (started now, or by the last clean-up)
            # get the whole time budget.
            hurry = not (fresh or attempt) and self.greeted
            wait = min(deadline, time.monotonic() + HELLO_S) if hurry else deadline
            if self._intact(spare, wait):
                assert spare.pids is not None
                self.greeted = True
                self.used.append(spare.pids[0])
                return spare
            spare.sock.close()
            self.stop()
            if attempt or time.monotonic() >= deadline:
                break
        raise JudgeLost("no intact judge could be had")

    def _run_direct(
        self, req: dict[str, Any], calls: list[Call], deadline: float
    ) -> dict[str, Any]:
        """Tests that are all literal calls, served by a spare solution process that the
        server talks to itself: the source and the calls in one go, each reply read under
        its test's own time limit, the rest sent to another spare after a crash, a broken
        reply or a timeout. The replies are verdict items, checked as a judge's are."""
        per_test = float(req["per_test"])
        cap = int(req.get("cap", 2000))
        spec = {
            **{k: req[k] for k in ("source", "setup", "entry")},
            "lenient": bool(req.get("lenient", False)),
            "cap": cap,
        }
        results: list[list[Any]] = []
        first = True
        try:
            while len(results) < len(calls):
                rest = calls[len(results) :]
                window = deadline if first else min(deadline, time.monotonic() + per_test)
                try:
                    spare = self._take("S", window)
                except JudgeLost as e:
                    if first:
                        raise
                    results.append(["error", f"the solution could not be restarted ({e})"])
                    continue
                try:
                    with contextlib.suppress(OSError):  # one that died shows as EOF
                        write_frame(spare.sock.fileno(), spec)
                        payload = pickle.dumps(("batch", rest))
                        spare.sock.sendall(len(payload).to_bytes(4, "big") + payload)
                    spare.reader.max_frame = 4 * max(MAX_ERROR, cap) + 1024
                    why = self._loaded(spare, window, deadline)
                    if why is not None:
                        if first:
                            return {"load_error": why}
                        results.append(["error", f"the solution could not be restarted: {why}"])
                        continue
                    first = False
                    while len(results) < len(calls):
                        item, lost = self._reply(spare, per_test, deadline)
                        results.append(item)
                        if lost:
                            break  # the process is gone: the rest go to another
                finally:
                    _closed(spare)
            return {"results": results}
        except JudgeLost as e:
            self.stop()
            return {"problem": str(e)}

    def _loaded(self, spare: Spare, window: float, deadline: float) -> str | None:
        """``None`` once the solution process has run the source, else why not."""
        try:
            first = self._read(spare.reader, window)
        except JudgeLost as e:
            if time.monotonic() >= deadline:
                raise
            cause = type(e.__cause__).__name__ if e.__cause__ else "TimeoutError"
            return f"the solution process was lost ({cause})"
        if first == ["ready"]:
            return None
        if isinstance(first, list) and len(first) == 2 and first[0] == "load_error":
            return str(first[1])[:400]
        return "no answer"

    def _reply(self, spare: Spare, per_test: float, deadline: float) -> tuple[list[Any], bool]:
        """The next verdict item of a solution process, within ``per_test`` seconds, and
        whether the process is lost (crashed, timed out, broke the protocol)."""
        try:
            item = self._read(spare.reader, min(deadline, time.monotonic() + per_test))
        except JudgeLost as e:
            if time.monotonic() >= deadline:
                raise
            if e.__cause__ is None:
                return ["error", f"timed out after {per_test:g} s"], True
            cause = e.__cause__
            return ["error", f"{type(cause).__name__}: {str(cause)[:200]}"], True
        try:
            return _check_item(item), False
        except JudgeLost:
            return ["error", "the solution sent a malformed reply"], True

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        """``{"results": [...]}``, ``{"load_error": str}`` or ``{"problem": str}``."""
        _check_request(req)
        deadline = time.monotonic() + float(req["timeout"])
        entry = req["entry"]
        calls = [None if k == "assert" else literal_call(c, entry) for k, c in req["tests"]]
        direct = [c for c in calls if c is not None]
        if req["tests"] and len(direct) == len(calls):
            return self._run_direct(req, direct, deadline)
        spare = None
        try:
            spare = self._take("J", deadline)
            try:
                write_frame(
                    spare.sock.fileno(),
                    {
                        **{k: req[k] for k in ("source", "setup", "entry", "test_setup", "tests")},
                        "per_test": req["per_test"],
                        "lenient": bool(req.get("lenient", False)),
                        "cap": int(req.get("cap", 2000)),
                    },
                )
            except OSError as e:
                raise JudgeLost(f"the judge was lost ({e})") from e
            # Each item is an error (MAX_ERROR characters), a digest or a value of at most
            # ``cap`` characters: UTF-8 at 4 bytes a character, and room for the framing.
            per_item = 4 * max(MAX_ERROR, int(req.get("cap", 2000))) + 64
            spare.reader.max_frame = (1 << 16) + per_item * len(req["tests"])
            reply = self._read(spare.reader, deadline)
            if (
                isinstance(reply, dict)
                and set(reply) == {"load_error"}
                and isinstance(reply["load_error"], str)
            ):
                return {"load_error": reply["load_error"][:MAX_ERROR]}
            if not (isinstance(reply, dict) and set(reply) == {"results"}):
                raise JudgeLost("a malformed verdict")
            results = reply["results"]
            if not (isinstance(results, list) and len(results) == len(req["tests"])):
                raise JudgeLost("a verdict for another number of tests")
            return {"results": [_check_item(item) for item in results]}
        except JudgeLost as e:
            self.stop()
            return {"problem": str(e)}
        finally:
            if spare is not None:
                spare.sock.close()


def _closed(spare: Spare) -> None:
    """Kill a solution process the server talked to itself and close its socket (its pid
    was checked a child of the template when taken; dead, it stays a zombie, so its pid
    is not reused, until the template reaps it at its next order)."""
    assert spare.pids is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(spare.pids[0], signal.SIGKILL)
    spare.sock.close()


def serving(pid: int, parent: int | None) -> bool:
    """``pid`` is a child of ``parent``, sleeping or running, with no signal it has not
    acted on yet.

    A process woken by a stop signal shows as running until it is next scheduled (which a
    busy machine or a spent CPU quota can put off for long), so the state alone would take
    it for one that can serve. The waiting signals are read first, the state after: a
    signal sent before is then seen either still waiting or already acted on."""
    if signal_waiting(pid) is not False:
        return False
    fields = proc_stat(pid)
    return fields is not None and fields[0] in _SERVING and int(fields[1]) == parent


def process_tree() -> dict[int, tuple[int, bytes]]:
    """Every process in /proc: its parent and its state."""
    tree: dict[int, tuple[int, bytes]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = proc_stat(name)
            if fields is not None:
                tree[int(name)] = (int(fields[1]), fields[0])
    return tree


def descendants(tree: dict[int, tuple[int, bytes]], root: int) -> list[int]:
    """Every descendant of ``root`` in ``tree``."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in tree.items():
        children.setdefault(parent, []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
