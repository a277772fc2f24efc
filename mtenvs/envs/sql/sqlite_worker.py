"""The agent's SQLite statements run in a small worker process, killed at the time limit.

SQLite consults its progress handler (and ``interrupt``) only where a statement loops, so
one row's evaluation cannot be stopped from inside: a row of a few dozen ``LIKE`` calls on
the largest strings (0.8 s each), or an expression copied thousands of times by subquery
flattening, runs for minutes with nothing to check the clock. So each env owns a
:class:`SqliteWorker`: a child Python process that imports only ``sqlite3`` and the
engine's guards (:mod:`~mtenvs.envs.sql.engine`, :mod:`~mtenvs.envs.sql.limits`; not the
``mtenvs`` package), started once per env and reused by every episode (a statement costs a
pipe round trip). It

* runs each statement with :func:`~mtenvs.envs.sql.engine.execute` (authorizer, limits,
  progress handler) and sends the bounded rows back as one JSON line;
* is killed by the host when no reply came :data:`KILL_GRACE_S` after the statement's time
  limit, and replaced by a fresh one at once;
* keeps each episode database in a file of its own temporary folder (``PRAGMA synchronous =
  OFF``: only the process, never the machine, may die). SQLite commits every statement
  atomically through its rollback journal, so a worker killed mid-statement leaves the file
  as it was before that statement: the next worker rolls a half-done write back when it
  opens the file. Nothing is copied or replayed after a kill, and a write costs no
  snapshot;
* is limited to :data:`WORKER_MEMORY_BYTES` of address space (``RLIMIT_AS``); a worker that
  dies (memory) is a failed statement, also followed by a fresh worker;
* leaves no orphan: it exits (and removes its folder) when its stdin closes (``close``,
  garbage collection, the owner exiting or killed) and a watchdog thread exits it within
  :data:`_WATCHDOG_S` seconds of its parent dying. After ``fork`` the child process starts
  its own worker (and copies its databases) instead of sharing the parent's; a pickled
  worker is a new one.

:class:`WorkerDatabase` is one database file served by a worker: ``execute`` (in the
worker), ``conn`` (a host connection for trusted reads: the tables' rows for grading,
``PRAGMA`` for ``describe``), ``snapshot``/``restore`` (the file's bytes) and ``close``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Final

from mtenvs.envs.sql.engine import COUNT_CAP, QueryResult, execute
from mtenvs.envs.sql.limits import MAX_VALUE_BYTES

__all__ = [
    "KILL_GRACE_S",
    "WORKER_MEMORY_BYTES",
    "SqliteWorker",
    "SqliteWorkerError",
    "WorkerDatabase",
]

#: Seconds past a statement's time limit the host waits for its reply before the kill (the
#: worker stops statements that loop by itself; this is for one row that does not).
KILL_GRACE_S: Final = 0.5
#: Address space of a worker process: the episode's 512 MiB of bounds (SQLite's statement
#: heap, a batch of rows, the result, the growth), the reply's JSON (up to twice the result:
#: a dataset's gold result may hold 256 MiB) and the interpreter.
WORKER_MEMORY_BYTES: Final = 2 << 30
#: Seconds a new worker may take to start and say it is ready.
START_TIMEOUT_S: Final = 30.0
#: How often a worker looks whether its parent is still alive.
_WATCHDOG_S: Final = 0.2
_BYTES_KEY: Final = "\x00b"

# The worker imports the engine's modules without running ``mtenvs/__init__.py`` (which
# registers every env and imports gymnasium): the packages are empty modules on the paths.
_CHILD_CODE = (
    "import sys, types\n"
    "root = sys.argv[1]\n"
    "for name, sub in (('mtenvs', ''), ('mtenvs.envs', '/envs'), "
    "('mtenvs.envs.sql', '/envs/sql')):\n"
    "    m = types.ModuleType(name); m.__path__ = [root + sub]; sys.modules[name] = m\n"
    "from mtenvs.envs.sql.sqlite_worker import _child_main\n"
    "_child_main(sys.argv[2])\n"
)
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[2])


class SqliteWorkerError(RuntimeError):
    """A worker process cannot be started (the message says why)."""


def _encode(value: object) -> object:
    if isinstance(value, bytes):
        return {_BYTES_KEY: base64.b64encode(value).decode()}
    raise TypeError(f"cannot send a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and _BYTES_KEY in obj:
        return base64.b64decode(obj[_BYTES_KEY])
    return obj


def _killed(timeout_s: float, allow_writes: bool) -> QueryResult:
    what = "the write was rolled back; " if allow_writes else ""
    return QueryResult(
        error=(
            f"query stopped: it was still running at the time limit of {timeout_s:g} s (one "
            "row's evaluation alone can take that long), so the process running it was "
            f"stopped. The database is as it was before this statement ({what}earlier "
            "changes are kept)."
        ),
        elapsed_s=timeout_s + KILL_GRACE_S,
        limit="time",
    )


def _died(allow_writes: bool) -> QueryResult:
    what = " (a write was rolled back)" if allow_writes else ""
    return QueryResult(
        error=(
            f"out of memory: the process running the statement died (it may use "
            f"{WORKER_MEMORY_BYTES >> 20} MiB) and was replaced. The database is as it was "
            f"before this statement{what}."
        ),
        limit="memory",
    )


class SqliteWorker:
    """A child process that runs agent statements on database files (see the module doc).

    One statement at a time (a lock); started on first use, replaced after a kill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._dir: str | None = None
        self._files = itertools.count()
        self._chunks: list[bytes] = []
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a copy gets its own process and folder

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    @property
    def pid(self) -> int | None:
        """Pid of the worker process while one runs (tests use it)."""
        proc = self._proc
        return proc.pid if proc is not None and self._owner_pid == os.getpid() else None

    def new_file(self) -> Path:
        """A path for a new database file in this worker's folder."""
        with self._lock:
            self._forked_check()
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="mtenvs-sql-")
                self._finalizer = weakref.finalize(self, _cleanup, None, self._dir, self._owner_pid)
            return Path(self._dir) / f"db{next(self._files)}.sqlite"

    def execute(
        self,
        path: Path,
        sql: str,
        *,
        allow_writes: bool,
        timeout_s: float,
        count_cap: int = COUNT_CAP,
        lenient: bool = False,
    ) -> QueryResult:
        """:func:`~mtenvs.envs.sql.engine.execute` on the database file ``path``, in the
        worker; past ``timeout_s`` plus :data:`KILL_GRACE_S` the worker is killed."""
        request = {
            "op": "execute",
            "db": str(path),
            "lenient": lenient,
            "sql": sql,
            "allow_writes": allow_writes,
            "timeout_s": timeout_s,
            "count_cap": count_cap,
        }
        reply = self._call(request, timeout_s + KILL_GRACE_S)
        if reply is None:
            return _killed(timeout_s, allow_writes)
        if reply.get("dead"):
            return _died(allow_writes)
        try:
            return QueryResult(
                columns=tuple(map(str, reply["columns"])),
                rows=tuple(map(tuple, reply["rows"])),
                capped=bool(reply["capped"]),
                changes=int(reply["changes"]),
                error=None if reply["error"] is None else str(reply["error"]),
                elapsed_s=float(reply["elapsed_s"]),
                limit=None if reply["limit"] is None else str(reply["limit"]),
            )
        except (KeyError, TypeError, ValueError):  # not the worker's own reply
            with self._lock:
                self._stop()
            return _died(allow_writes)

    def forget(self, path: Path) -> None:
        """Close the worker's connection to ``path`` (the file is the caller's)."""
        with self._lock:
            if self._proc is not None and self._owner_pid == os.getpid():
                with contextlib.suppress(OSError, TimeoutError):
                    self._send({"op": "forget", "db": str(path)})
                    self._read(time.monotonic() + 5.0)

    def close(self) -> None:
        """Stop the worker and remove its folder (a later use starts afresh)."""
        with self._lock:
            self._stop()
            if self._finalizer is not None:
                self._finalizer()
            self._finalizer, self._dir = None, None

    # ------------------------------------------------------------------ process

    def _forked_check(self) -> None:
        if self._owner_pid != os.getpid():
            # Forked: the process, pipe and folder are the parent's; leave them alone.
            if self._finalizer is not None:
                self._finalizer.detach()
            self._proc, self._finalizer, self._dir, self._chunks = None, None, None, []
            self._owner_pid = os.getpid()

    def _call(self, request: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
        """The worker's reply to ``request``; None when it ran past ``wait_s`` (killed);
        ``{"dead": True}`` when the worker died on it."""
        with self._lock:
            for attempt in range(2):
                self._ensure_started()
                try:
                    self._send(request)
                except OSError:  # found dead while idle: replaced once
                    self._stop()
                    if attempt == 0:
                        continue
                    return {"dead": True}
                try:
                    reply = self._read(time.monotonic() + wait_s)
                except TimeoutError:
                    self._stop()
                    self._ensure_started()  # the next worker rolls back a half-done write
                    return None
                if reply is None:
                    self._stop()
                    return {"dead": True}
                return reply
        raise AssertionError("unreachable")

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        self._forked_check()
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="mtenvs-sql-")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CHILD_CODE, _PACKAGE_ROOT, self._dir],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,  # no terminal signals (Ctrl-C) mid-statement
            )
        except OSError as e:
            raise SqliteWorkerError(
                f"Cannot start the SQLite worker ({sys.executable}): {e}."
            ) from e
        self._proc, self._chunks = proc, []
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, proc, self._dir, os.getpid())
        try:
            hello = self._read(time.monotonic() + START_TIMEOUT_S)
        except TimeoutError:
            hello = None
        if hello is None or not hello.get("ready"):
            self._stop()
            raise SqliteWorkerError(
                f"The SQLite worker did not start within {START_TIMEOUT_S:g} s; check that "
                f"`{sys.executable} -c 'import sqlite3'` works."
            )
        return proc

    def _send(self, request: dict[str, Any]) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON line from the worker; None if it closed its end (died);
        ``TimeoutError`` past ``deadline``."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks = self._chunks
        while not chunks or b"\n" not in chunks[-1]:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            chunks.append(chunk)
        data = b"".join(chunks)
        line, _, rest = data.partition(b"\n")
        self._chunks = [rest] if rest else []
        try:
            reply = json.loads(line, object_hook=_decode)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def _stop(self) -> None:
        """Kill and reap the process (its folder stays for the next one)."""
        proc, self._proc, self._chunks = self._proc, None, []
        if proc is not None:
            _kill(proc, self._owner_pid)


def _kill(proc: subprocess.Popen[bytes], owner_pid: int) -> None:
    """Kill and reap ``proc`` if this process started it (not in a forked copy)."""
    if os.getpid() != owner_pid:
        return
    with contextlib.suppress(OSError):
        proc.kill()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)


def _cleanup(proc: subprocess.Popen[bytes] | None, folder: str, owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return
    if proc is not None:
        _kill(proc, owner_pid)
    shutil.rmtree(folder, ignore_errors=True)


class WorkerDatabase:
    """One database file served by a :class:`SqliteWorker` (see the module doc).

    ``image`` is the database's content (a ``serialize`` image); ``worker`` the env's
    (None: a worker of its own, stopped on ``close``); ``lenient`` reads text that is not
    UTF-8 with replacement characters."""

    def __init__(self, image: bytes, worker: SqliteWorker | None, *, lenient: bool = False) -> None:
        self._own = worker is None
        self.worker = SqliteWorker() if worker is None else worker
        self.lenient = lenient
        self._pid = os.getpid()
        self.path = self.worker.new_file()
        self.path.write_bytes(image)
        self._conn: sqlite3.Connection | None = None

    def _local(self) -> None:
        if self._pid != os.getpid():  # forked: work on a copy, not the parent's file
            self._pid, self._conn = os.getpid(), None
            if self._own:
                self.worker = SqliteWorker()
            old, self.path = self.path, self.worker.new_file()
            shutil.copyfile(old, self.path)

    def execute(
        self, sql: str, *, allow_writes: bool, timeout_s: float, count_cap: int = COUNT_CAP
    ) -> QueryResult:
        self._local()
        return self.worker.execute(
            self.path,
            sql,
            allow_writes=allow_writes,
            timeout_s=timeout_s,
            count_cap=count_cap,
            lenient=self.lenient,
        )

    @property
    def conn(self) -> sqlite3.Connection:
        """A host connection to the file, for trusted reads only (never agent SQL)."""
        self._local()
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            if self.lenient:
                conn.text_factory = _lenient_text
            self._conn = conn
        return self._conn

    def snapshot(self) -> bytes:
        """The database file's bytes (a ``serialize`` image)."""
        self._local()
        return self.path.read_bytes()

    def restore(self, image: bytes) -> None:
        """Replace the content with ``image``."""
        self._local()
        self._drop()
        self.path.write_bytes(image)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.worker.forget(self.path)

    def close(self) -> None:
        if self._pid != os.getpid():
            return  # the parent's file
        self._drop()
        for suffix in ("", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")
        if self._own:
            self.worker.close()


def _lenient_text(data: bytes) -> str:
    # Some Spider databases hold text that is not valid UTF-8.
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------- worker side


def _open(path: str, lenient: bool) -> sqlite3.Connection:
    from mtenvs.envs.sql.engine import GuardedConnection

    conn = sqlite3.connect(
        path, check_same_thread=False, isolation_level=None, factory=GuardedConnection
    )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = OFF")  # a killed process, never a lost machine
    conn.execute("PRAGMA journal_mode = PERSIST")  # kill-safe, no file created per write
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    if lenient:
        conn.text_factory = _lenient_text
    return conn


def _child_main(folder: str) -> None:
    """The worker: JSON requests on stdin, JSON replies on stdout, one a line."""
    import resource

    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # a stray print cannot corrupt the replies
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def leave() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(0)

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCHDOG_S)
        leave()

    threading.stack_size(256 * 1024)  # thread stacks count against RLIMIT_AS
    threading.Thread(target=watchdog, daemon=True).start()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = (
        WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(hard, WORKER_MEMORY_BYTES)
    )
    with contextlib.suppress(ValueError, OSError):  # not enforced everywhere (macOS)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    conns: dict[str, sqlite3.Connection] = {}
    out.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            path = str(request["db"])
            if request["op"] == "forget":
                conn = conns.pop(path, None)
                if conn is not None:
                    conn.close()
                out.write(b"{}\n")
                continue
            conn = conns.get(path) or conns.setdefault(path, _open(path, request["lenient"]))
            result = execute(
                conn,
                request["sql"],
                allow_writes=bool(request["allow_writes"]),
                timeout_s=float(request["timeout_s"]),
                count_cap=int(request["count_cap"]),
            )
            reply = json.dumps(
                {
                    "columns": result.columns,
                    "rows": result.rows,
                    "capped": result.capped,
                    "changes": result.changes,
                    "error": result.error,
                    "elapsed_s": result.elapsed_s,
                    "limit": result.limit,
                },
                default=_encode,
            ).encode()
        except MemoryError:
            os._exit(1)  # the heap may be in a poor state: the host starts a fresh worker
        except Exception as e:  # a bug must not leave the host waiting
            reply = json.dumps(
                {
                    "columns": [],
                    "rows": [],
                    "capped": False,
                    "changes": 0,
                    "error": f"internal error of the SQLite worker: {type(e).__name__}: {e}",
                    "elapsed_s": 0.0,
                    "limit": None,
                }
            ).encode()
        out.write(reply + b"\n")
    leave()
