#!/usr/bin/env python3
"""mtenvs REPL server: a persistent Python namespace behind framed JSON on stdin/stdout.

Standard library only (with its siblings frames.py, judge.py, judge_client.py and
plain_values.py), so the same files run as PID 1 of a ``mtenvs/python`` container
(``DockerSandbox``) and as a plain subprocess of the host (``LocalSandbox``).

Processes
    The *supervisor* (this process) owns the protocol channel (fd 0 / fd 1) and never runs
    user code. It forks a *worker* that holds the namespace and executes cells. On a wall
    timeout, a crash (``os._exit``, segfault, OOM kill) or ``reset`` the supervisor kills the
    worker and everything it started, and forks a fresh one (about a millisecond: no exec).
    User code cannot reach the host channel: the worker's fd 0 is /dev/null, fd 1 and fd 2
    are capture files, and the supervisor is not dumpable (so ``/proc/1/fd`` and ptrace are
    closed).

    The worker's reply to a cell is written by the process that runs the user's code, so
    the supervisor treats it as untrusted input: exactly the expected keys and types, every
    string within the output cap, the random nonce of this call, nothing written outside a
    reply. Anything else is a broken interpreter: it is killed and replaced, and the call
    says so. A cell can make its own result say anything it could have printed, and no
    more; no grade is ever read from a cell.

    Hidden tests are judged by ``judge.py`` (op ``judge``): a template started with
    ``exec`` keeps a spare judge forked, which runs the tests against a solution process of
    its own. No descriptor the supervisor reads is held by, inherited by or reachable from
    the solution (see judge.py). The reply goes to the host first; then everything the
    answer started is killed and only after that is the next spare judge forked.

Framing
    Each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON
    (frames.py). Requests carry ``id``, ``nonce`` and ``op``; every response echoes ``id``
    and ``nonce`` and has ``ok``.

    ``{"op": "ping"}`` → ``{"ok": true, "pid": …}``
    ``{"op": "run", "code": str, "timeout": float}`` → ``stdout``, ``stderr``, ``value``,
    ``error``, ``exit_code``, ``timed_out``, ``duration_s``, ``truncated``, ``restarted``
    ``{"op": "judge", "source", "setup", "test_setup", "entry", "tests": [[kind, code], …],
    "timeout", "per_test", "lenient", "cap"}`` → ``results`` (one ``[status, body]`` per test),
    ``load_error`` or ``problem``
    ``{"op": "reset"}`` → fresh interpreter (background processes killed; files kept)
    ``{"op": "put_file", "path": str, "data": base64}`` / ``{"op": "get_file", "path": str}``
    ``{"op": "shutdown"}``

The server exits when its stdin closes, so a container started with ``--rm`` and
``StdinOnce`` disappears together with the host process that attached to it.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import contextlib
import io
import linecache
import os
import secrets
import select
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

sys.path.append(os.path.dirname(os.path.realpath(__file__)))

from frames import (
    MAX_FRAME,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    FrameReader,
    ProtocolError,
    apply_rlimits,
    children_of,
    close_fds_except,
    prctl,
    write_frame,
)
from judge_client import JudgeClient

EXIT_TIMEOUT = 124
TRUNCATED_MARK = "\n[... output truncated: more than {limit} bytes on {stream}]\n"
CELL_PREFIX = "<cell-"
STALE_NOTE = (
    "[The interpreter had written to its result channel outside a reply, which only "
    "tampering does: it was replaced before this code ran, and its state was lost.]\n"
)
#: Bytes a reply string may exceed the output cap by (the truncation mark).
_MARK_ROOM = 256
#: The keys and types of the worker's reply to a cell; anything else is a broken worker.
REPLY_TYPES: dict[str, tuple[type, ...]] = {
    "nonce": (str,),
    "stdout": (str,),
    "stderr": (str,),
    "value": (str, type(None)),
    "error": (str, type(None)),
    "exit_code": (int,),
    "truncated": (bool,),
}


def clean_text(text: str) -> str:
    """Drop lone surrogates so the text always encodes as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes, and whether it was cut."""
    if len(text) * 4 <= limit:
        return text, False
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", "ignore"), True


# --------------------------------------------------------------------------- worker


class CappedWriter(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of the worker: keeps the first ``limit`` bytes."""

    def __init__(self, fd: int, limit: int) -> None:
        self._fd = fd
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self.truncated or not s:
            return len(s)
        room = self.limit - self.size
        chunk, cut = cap_text(s[:room], room)
        self.parts.append(chunk)
        self.size += len(chunk.encode("utf-8", "replace"))
        self.truncated = cut or len(s) > room
        return len(s)

    def getvalue(self) -> str:
        return "".join(self.parts)

    @property
    def buffer(self) -> _BytesAdapter:
        return _BytesAdapter(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def flush(self) -> None:
        pass


class _BytesAdapter:
    def __init__(self, writer: CappedWriter) -> None:
        self._writer = writer

    def write(self, b: bytes) -> int:
        self._writer.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self) -> None:
        pass


class Worker:
    """Runs in the forked child: the persistent namespace and the cell loop."""

    def __init__(self, ctl_in: int, ctl_out: int, args: argparse.Namespace) -> None:
        self.ctl_in = FrameReader(ctl_in)
        self.ctl_out = ctl_out
        self.limit = args.max_output
        self.pid = os.getpid()
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.cell = 0
        self.capture = {1: tempfile.TemporaryFile(), 2: tempfile.TemporaryFile()}  # noqa: SIM115
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for fd, f in self.capture.items():
            os.dup2(f.fileno(), fd)
        self.out = CappedWriter(1, self.limit)
        self.err = CappedWriter(2, self.limit)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - reads EOF, like a notebook
        sys.stdout, sys.stderr = self.out, self.err

    def _drain(self, fd: int, used: int) -> tuple[str, bool]:
        f = self.capture[fd]
        f.seek(0)
        room = max(self.limit - used, 0)
        data = f.read(room + 1)
        f.seek(0)
        f.truncate()
        return data[:room].decode("utf-8", "replace"), len(data) > room

    def _finish_stream(self, writer: CappedWriter, fd: int, name: str) -> tuple[str, bool]:
        extra, cut = self._drain(fd, writer.size)
        text = clean_text(writer.getvalue() + extra)
        truncated = writer.truncated or cut
        if truncated:
            text += TRUNCATED_MARK.format(limit=self.limit, stream=name)
        return text, truncated

    def run_cell(self, code: str) -> dict:
        self.cell += 1
        filename = f"{CELL_PREFIX}{self.cell}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        value = error = None
        exit_code = 0
        self.out.reset()
        self.err.reset()
        try:
            tree = ast.parse(code, filename, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, filename, "exec"), self.namespace)
            if last is not None:
                result = eval(compile(last, filename, "eval"), self.namespace)
                if result is not None:
                    self.namespace["_"] = result
                    value = cap_text(clean_text(repr(result)), self.limit)[0]
        except SystemExit as e:
            exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if e.code is not None and not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
        except BaseException as e:  # the user's exception is the result, whatever it is
            exit_code = 1
            error = cap_text(clean_text(format_user_exception(e)), self.limit)[0]
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        stdout, t_out = self._finish_stream(self.out, 1, "stdout")
        stderr, t_err = self._finish_stream(self.err, 2, "stderr")
        return {
            "stdout": stdout,
            "stderr": stderr,
            "value": value,
            "error": error,
            "exit_code": exit_code,
            "truncated": t_out or t_err,
        }

    def loop(self) -> None:
        while True:
            try:
                req = self.ctl_in.read()
            except EOFError:
                os._exit(0)
            assert req is not None
            reply = self.run_cell(req["code"])
            if os.getpid() != self.pid:  # a child the code forked came back here: not ours
                os._exit(0)
            sys.stdout, sys.stderr = self.out, self.err  # user code may have replaced them
            reply["nonce"] = req["nonce"]
            write_frame(self.ctl_out, reply)


def format_user_exception(e: BaseException) -> str:
    """The traceback without the server's own frames (starts at the user's cell)."""
    tb = e.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(CELL_PREFIX):
        tb = tb.tb_next
    if isinstance(e, SyntaxError) or tb is None:
        return "".join(traceback.format_exception_only(type(e), e))
    return "".join(traceback.format_exception(type(e), e, tb))


def worker_main(ctl_in: int, ctl_out: int, args: argparse.Namespace) -> None:
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 1)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # under memory pressure the user's process dies, not the server
    except OSError:
        pass
    apply_rlimits(args)
    Worker(ctl_in, ctl_out, args).loop()


# --------------------------------------------------------------------------- supervisor


def check_reply(reply: object, nonce: str, limit: int) -> str | None:
    """Why the worker's ``reply`` to the cell with ``nonce`` is not a well-formed one, or
    ``None``. User code runs in the worker, so its reply is untrusted input: exactly the
    keys of :data:`REPLY_TYPES` with their types, strings within the output cap, this
    call's nonce."""
    if not isinstance(reply, dict):
        return "not an object"
    if set(reply) != set(REPLY_TYPES):
        return "unexpected fields"
    for key, types in REPLY_TYPES.items():
        value = reply[key]
        if not isinstance(value, types) or (key != "truncated" and isinstance(value, bool)):
            return f"{key} of type {type(value).__name__}"
        room = limit + _MARK_ROOM
        if (
            isinstance(value, str)
            and len(value) > room
            and len(value.encode("utf-8", "replace")) > room
        ):
            return f"{key} over the output cap"
    if reply["nonce"] != nonce:
        return "a reply to another call"
    if not -(2**31) <= reply["exit_code"] < 2**31:
        return "an exit code out of range"
    return None


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stdin = FrameReader(0)
        self.worker_pid = 0
        self.worker_status: int | None = None
        self.to_worker = -1
        self.from_worker: FrameReader | None = None
        self.pid1 = os.getpid() == 1
        # Four strings at the cap, each JSON-escaped at worst 6 bytes a byte, and the keys.
        self.max_reply = 24 * (args.max_output + _MARK_ROOM) + 4096
        self.judge = JudgeClient(args, self.host_gone, self.reap)
        #: Work done after the current reply has been written (the clean-up of a judge run).
        self.after_reply: Callable[[], None] | None = None

    # -- worker lifecycle
    def spawn(self) -> None:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                close_fds_except(req_r, res_w)
                worker_main(req_r, res_w, self.args)
            finally:
                os._exit(70)
        os.close(req_r)
        os.close(res_w)
        self.worker_pid, self.worker_status = pid, None
        self.to_worker, self.from_worker = req_w, FrameReader(res_r, self.max_reply)

    def reap(self) -> None:
        """Collect exited children (orphans are re-parented to us) and the worker's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.worker_pid:
                self.worker_status = status
            self.judge.reaped(pid)

    def kill_all(self, *, keep_template: bool = True) -> None:
        """Kill the worker and everything it started, then reap them (the judge template,
        which never runs user code, is kept unless ``keep_template`` is false)."""
        template = self.judge.template_pid if keep_template else None
        if not keep_template:
            self.judge.stop()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if self.pid1 and template is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, signal.SIGKILL)  # everything in the container but us
            # The template and its spare judge run no user code (whatever a judge run
            # started was killed right after it), and no orphan is ever re-parented to them.
            spare = set() if template is None else {template, *children_of(template)}
            victims = [p for p in children_of(os.getpid()) if p not in spare]
            for pid in victims:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.reap()
            if not victims:
                break
            time.sleep(0.002)
        for fd in (self.to_worker, self.from_worker.fd if self.from_worker else -1):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.to_worker, self.from_worker = -1, None

    def restart(self) -> None:
        self.kill_all()
        self.spawn()

    def _worker_exit(self) -> tuple[int, str]:
        deadline = time.monotonic() + 1.0
        while self.worker_status is None and time.monotonic() < deadline:
            self.reap()
            if self.worker_status is None:
                time.sleep(0.001)
        status = self.worker_status
        if status is None:
            return 137, "the interpreter stopped answering"
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
            hint = " (out of memory?)" if sig == signal.SIGKILL else ""
            return 128 + sig, f"the interpreter was killed by {name}{hint}"
        code = os.WEXITSTATUS(status)
        return code, f"the interpreter exited with code {code}"

    def host_gone(self) -> None:
        """Called while waiting on a child: the host closed our stdin, nobody wants the answer."""
        self.stdin.fill()
        if self.stdin.eof:
            self.shutdown()

    # -- ops
    def op_run(self, req: dict) -> dict:
        timeout = float(req.get("timeout") or self.args.timeout)
        start = time.monotonic()
        if self.from_worker is None:
            self.spawn()
        assert self.from_worker is not None
        replaced = self.from_worker.pending()
        if replaced:  # written outside a reply: by user code, not the loop
            self.restart()
        assert self.from_worker is not None
        nonce = secrets.token_hex(16)
        with contextlib.suppress(OSError):  # a dead worker shows up as EOF below
            write_frame(self.to_worker, {"code": req["code"], "nonce": nonce})
        deadline = start + timeout
        reply = None
        timed_out = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready = select.select([self.from_worker.fd, 0], [], [], left)[0]
            if 0 in ready:
                self.host_gone()
            if self.from_worker.fd in ready:
                try:
                    reply = self.from_worker.read(timeout=0)
                except EOFError:
                    break
                except ProtocolError as e:
                    return self._broken(f"it sent {e}", start)
                if reply is not None:
                    break
        duration = time.monotonic() - start
        if reply is not None:
            why = check_reply(reply, nonce, self.args.max_output)
            if why is not None:
                return self._broken(f"its reply was malformed ({why})", start)
            del reply["nonce"]
            reply.update(timed_out=False, duration_s=duration, restarted=replaced)
            if replaced:
                reply["stderr"] = STALE_NOTE + reply["stderr"]
            self.reap()
            return reply
        if timed_out:
            self.restart()
            msg = (
                f"TimeoutError: the code ran longer than {timeout:g} s and was stopped; "
                "the interpreter was restarted and its state (variables, imports) was lost."
            )
            return _failed(msg, EXIT_TIMEOUT, duration, timed_out=True)
        code, why = self._worker_exit()
        self.restart()
        msg = f"{why}; a fresh interpreter was started and its state (variables, imports) was lost."
        return _failed(f"InterpreterDied: {msg}", code, duration)

    def _broken(self, why: str, start: float) -> dict:
        """The worker broke the protocol: it is treated as crashed (killed and replaced)."""
        self.restart()
        msg = (
            f"InterpreterDied: the interpreter broke the result protocol ({why}); a fresh "
            "interpreter was started and its state (variables, imports) was lost."
        )
        return _failed(msg, 137, time.monotonic() - start)

    def op_judge(self, req: dict) -> dict:
        """Hidden tests of a solution, in a spare judge (see judge.py). Once the reply is
        out, whatever the answer left running (an orphan comes back to us) is killed, and
        then the next spare judge is forked."""
        result = self.judge.run(req)
        self.after_reply = self._judge_clean_up
        return {"ok": True, **result}

    def _judge_clean_up(self) -> None:
        self.judge.clean_up(self.worker_pid)

    def op_put_file(self, req: dict) -> dict:
        path = self._path(req["path"])
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(req["data"]))
        if "mode" in req:
            os.chmod(path, int(req["mode"]))
        return {"ok": True}

    def op_get_file(self, req: dict) -> dict:
        with open(self._path(req["path"]), "rb") as f:
            data = f.read(MAX_FRAME // 2)
        return {"ok": True, "data": base64.b64encode(data).decode("ascii")}

    def _path(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.args.workdir, path)

    def shutdown(self) -> None:
        self.kill_all(keep_template=False)
        os._exit(0)

    def handle(self, req: dict) -> dict:
        op = req.get("op")
        if op == "run":
            return self.op_run(req)
        if op == "judge":
            return self.op_judge(req)
        if op == "ping":
            self.reap()
            alive = self.from_worker is not None and self.worker_status is None
            return {"ok": True, "pid": os.getpid(), "worker_alive": alive}
        if op == "reset":
            start = time.monotonic()
            self.restart()
            return {"ok": True, "duration_s": time.monotonic() - start}
        if op == "put_file":
            return self.op_put_file(req)
        if op == "get_file":
            return self.op_get_file(req)
        if op == "shutdown":
            write_frame(1, {"id": req.get("id"), "nonce": req.get("nonce"), "ok": True})
            self.shutdown()
        return {"ok": False, "error": f"unknown op {op!r}"}

    def serve(self) -> None:
        self.spawn()
        write_frame(1, {"id": 0, "ok": True, "ready": True, "pid": os.getpid()})
        while True:
            try:
                req = self.stdin.read()
            except EOFError:
                self.shutdown()
            except ProtocolError:  # the host is ours: a broken stream cannot be resynced
                self.shutdown()
            if not isinstance(req, dict):
                self.shutdown()
            try:
                reply = self.handle(req)
            except Exception as e:  # a bad request must not take the server down
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            reply["id"] = req.get("id")
            reply["nonce"] = req.get("nonce")
            try:
                write_frame(1, reply)
            except OSError:  # the host is gone
                self.shutdown()
            after, self.after_reply = self.after_reply, None
            if after is not None:
                after()


def _failed(error: str, exit_code: int, duration: float, *, timed_out: bool = False) -> dict:
    return {
        "stdout": "",
        "stderr": "",
        "value": None,
        "error": error,
        "exit_code": exit_code,
        "timed_out": timed_out,
        "duration_s": duration,
        "truncated": False,
        "restarted": True,
    }


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", default=os.getcwd())
    p.add_argument("--timeout", type=float, default=10.0, help="default wall timeout (s)")
    p.add_argument("--max-output", type=int, default=64 * 1024, help="bytes kept per stream")
    p.add_argument("--rlimit-as", type=int, default=0, help="address space of the worker (B)")
    p.add_argument("--rlimit-nproc", type=int, default=0, help="processes of the user")
    p.add_argument("--rlimit-cpu", type=int, default=0, help="CPU seconds per interpreter")
    p.add_argument("--rlimit-fsize", type=int, default=0, help="largest file written (B)")
    p.add_argument("--sys-path", action="append", default=[], help="extra import path")
    p.add_argument("--uid", type=int, default=-1, help="drop to this uid (when root)")
    p.add_argument("--gid", type=int, default=-1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the host decides when we stop
    if args.uid >= 0 and os.getuid() == 0:
        drop_privileges(args.uid, args.gid if args.gid >= 0 else args.uid)
    prctl(PR_SET_DUMPABLE, 0)  # no /proc/<pid>/fd or ptrace into the channel for user code
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of user code come back to us to be killed
    if args.sys_path:  # the host's packages, after the standard library
        sites = [
            i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))
        ]
        at = sites[0] if sites else len(sys.path)
        sys.path[at:at] = args.sys_path
    os.chdir(args.workdir)
    Supervisor(args).serve()


if __name__ == "__main__":
    main()
