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
  0.2 s of its parent dying (:mod:`mtenvs.sandbox.json_worker`). After ``fork`` the child process starts
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
import shutil
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
from mtenvs.sandbox.json_worker import (
    JsonWorker,
    WorkerDied,
    child_channel,
    exit_with_parent,
    kill,
    limit_address_space,
)

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
_BYTES_KEY: Final = "\x00b"

# The worker imports the engine's modules without running ``mtenvs/__init__.py`` (which
# registers every env and imports gymnasium): the packages are empty modules on the paths.
_CHILD_CODE = (
    "import sys, types\n"
    "root = sys.argv[1]\n"
    "for name, sub in (('mtenvs', ''), ('mtenvs.envs', '/envs'), "
    "('mtenvs.envs.sql', '/envs/sql'), ('mtenvs.sandbox', '/sandbox')):\n"
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
        self._dir: str | None = None
        self._files = itertools.count()
        self._worker: JsonWorker | None = None
        self._folder_owner = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a copy gets its own process and folder

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    @property
    def pid(self) -> int | None:
        """Pid of the worker process while one runs (tests use it)."""
        return None if self._worker is None else self._worker.pid

    def new_file(self) -> Path:
        """A path for a new database file in this worker's folder."""
        with self._lock:
            return Path(self._folder()) / f"db{next(self._files)}.sqlite"

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
                if self._worker is not None:
                    self._worker.stop()
            return _died(allow_writes)

    def forget(self, path: Path) -> None:
        """Close the worker's connection to ``path`` (the file is the caller's)."""
        with self._lock:
            worker = self._worker
            if worker is not None and not worker.forked() and worker.pid is not None:
                with contextlib.suppress(OSError, TimeoutError):
                    worker.send({"op": "forget", "db": str(path)})
                    worker.read(time.monotonic() + 5.0)

    def close(self) -> None:
        """Stop the worker and remove its folder (a later use starts afresh)."""
        with self._lock:
            if self._worker is not None and not self._worker.forked():
                self._worker.stop()
            self._worker = None
            if self._dir is not None and self._folder_owner == os.getpid():
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # ------------------------------------------------------------------ process

    def _folder(self) -> str:
        if self._folder_owner != os.getpid():
            # Forked: the process and folder are the parent's; leave them alone.
            self._dir, self._worker, self._folder_owner = None, None, os.getpid()
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="mtenvs-sql-")
            weakref.finalize(self, _cleanup, None, self._dir, os.getpid())
        return self._dir

    def _started(self) -> JsonWorker:
        folder = self._folder()
        if self._worker is None:
            self._worker = JsonWorker(
                ["-I", "-S", "-c", _CHILD_CODE, _PACKAGE_ROOT, folder],
                name="the SQLite worker",
                error=SqliteWorkerError,
                hint=f"`{sys.executable} -c 'import sqlite3'`",
                start_timeout_s=START_TIMEOUT_S,
                object_hook=_decode,
                cleanup=lambda proc, owner: _cleanup(proc, folder, owner),
            )
        self._worker.start()
        return self._worker

    def _call(self, request: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
        """The worker's reply to ``request``; None when it ran past ``wait_s`` (killed);
        ``{"dead": True}`` when the worker died on it."""
        with self._lock:
            worker = self._started()
            try:
                return worker.call(request, wait_s)
            except TimeoutError:
                self._started()  # the next worker rolls back a half-done write
                return None
            except WorkerDied:
                return {"dead": True}


def _cleanup(proc: subprocess.Popen[bytes] | None, folder: str, owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return
    kill(proc, owner_pid)
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

    out = child_channel()

    def leave() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(0)

    exit_with_parent(leave)
    limit_address_space(WORKER_MEMORY_BYTES)
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
