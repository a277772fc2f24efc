"""The ``Sandbox`` protocol, its result type, its limits, its errors and the wire protocol.

Both backends talk to the same REPL server (``sandboxes/runtime/repl_server.py``) with
4-byte length-prefixed JSON frames; :class:`ServerConnection` is that client, over any
byte transport (a container's attached socket or a subprocess's pipes).
"""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol, runtime_checkable

from mtenvs.error import Error, InvalidArgumentError, UnavailableError

__all__ = [
    "DEFAULT_LIMITS",
    "SESSION_ID",
    "BackendName",
    "ExecResult",
    "JudgeReport",
    "JudgeRequest",
    "Sandbox",
    "SandboxDiedError",
    "SandboxError",
    "SandboxLimits",
    "SandboxProtocolError",
    "SandboxUnavailableError",
    "runtime_module",
    "runtime_server_path",
    "sandboxes_dir",
]

#: Identifies this host process's sandboxes (container label ``mtenvs.session``).
SESSION_ID = uuid.uuid4().hex[:12]
BackendName = Literal["docker", "local"]

HEADER = 4
MAX_FRAME = 96 * 1024 * 1024
#: Seconds the host waits beyond a call's timeout before it declares the server hung.
HOST_GRACE_S = 5.0


class SandboxError(Error, RuntimeError):
    """A sandbox could not be started, or its server broke the protocol."""


class SandboxUnavailableError(SandboxError, UnavailableError):
    """The requested backend cannot be used here (no engine, image not built, ...)."""


class SandboxDiedError(SandboxError):
    """The sandbox's server went away (container killed, process gone)."""


class SandboxProtocolError(SandboxDiedError):
    """The server sent a frame that is not a well-formed answer to the call: the sandbox is
    treated as crashed and replaced."""


#: Bytes a reply string may exceed the output cap by (truncation marks, the server's notes).
_MARK_ROOM = 1024
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "stdout": (str,),
    "stderr": (str,),
    "value": (str, type(None)),
    "error": (str, type(None)),
    "exit_code": (int,),
    "timed_out": (bool,),
    "duration_s": (int, float),
    "truncated": (bool,),
    "restarted": (bool,),
}


@dataclass(frozen=True)
class ExecResult:
    """What :meth:`Sandbox.run` returns for one piece of code."""

    #: Captured standard output (Python-level and fd-level), at most ``max_output_bytes``.
    stdout: str
    #: Captured standard error, same cap.
    stderr: str
    #: ``repr`` of the last expression, like a notebook cell (``None`` if absent or ``None``).
    value: str | None
    #: The trimmed traceback of an uncaught exception, or why the interpreter was lost.
    error: str | None
    #: 0 ok, 1 uncaught exception, ``n`` for ``sys.exit(n)`` / ``os._exit(n)``,
    #: 124 wall timeout, 128+signal when the interpreter was killed.
    exit_code: int
    #: The call hit its wall timeout (the interpreter was restarted).
    timed_out: bool
    #: Wall time of the call measured by the server (seconds).
    duration_s: float
    #: stdout or stderr was cut at ``max_output_bytes`` (the text says so too).
    truncated: bool = False
    #: The interpreter (or the whole sandbox) was restarted: variables and imports are gone.
    restarted: bool = False

    @property
    def ok(self) -> bool:
        """No exception, no timeout, exit code 0."""
        return self.error is None and not self.timed_out and self.exit_code == 0

    def text(self) -> str:
        """stdout, stderr, value and error joined: a ready-made observation for an agent."""
        parts = [self.stdout, self.stderr]
        if self.value is not None:
            parts.append(self.value + "\n")
        if self.error is not None:
            parts.append(self.error)
        return "".join(parts)

    @classmethod
    def from_wire(cls, msg: dict[str, Any], max_output_bytes: int) -> ExecResult:
        """The result in a server's answer, checked: the expected fields with their types,
        strings within the output cap (else :class:`SandboxProtocolError`)."""
        fields: dict[str, Any] = {}
        for key, types in _RESULT_TYPES.items():
            value = msg.get(key)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise SandboxProtocolError(
                    f"the REPL server's result has {key}={str(value)[:60]!r}"
                )
            room = max_output_bytes + _MARK_ROOM
            if (
                isinstance(value, str)
                and len(value) > room
                and len(value.encode("utf-8", "replace")) > room
            ):
                raise SandboxProtocolError(f"the REPL server's {key} is over the output cap")
            fields[key] = value
        if not -(2**31) <= fields["exit_code"] < 2**31 or not math.isfinite(fields["duration_s"]):
            raise SandboxProtocolError("the REPL server's result has out-of-range numbers")
        return cls(**fields)

    @classmethod
    def lost(cls, why: str, duration_s: float, *, timed_out: bool = False) -> ExecResult:
        """The result of a call whose sandbox died under it (a fresh one replaces it)."""
        return cls(
            stdout="",
            stderr="",
            value=None,
            error=f"SandboxLost: {why}; a fresh sandbox was started and its state was lost.",
            exit_code=124 if timed_out else 137,
            timed_out=timed_out,
            duration_s=duration_s,
            restarted=True,
        )


@dataclass(frozen=True)
class JudgeRequest:
    """Hidden tests to run against a solution in a sandbox's judge."""

    #: The solution's source.
    source: str
    #: The function the tests call as ``candidate``.
    entry: str
    #: ``(kind, code)`` per test: ``"value"`` expressions or ``"assert"`` statements.
    tests: tuple[tuple[str, str], ...]
    #: Code run before the tests, in the solution's namespace and in the tests'.
    setup: str = ""
    #: Code run in the tests' namespace only, after ``setup`` (trusted helpers the tests
    #: call, such as a HumanEval prompt's: the solution cannot redefine what they see).
    test_setup: str = ""
    #: Seconds one test may run.
    per_test_s: float = 2.0
    #: Tuples encoded as lists (the values compared leniently on the host).
    lenient: bool = False
    #: Longest JSON of a returned value sent back as is; longer ones come as a digest.
    cap: int = 2000
    #: Seconds for the whole run.
    timeout: float = 10.0


@dataclass(frozen=True)
class JudgeReport:
    """What :meth:`ServerSandbox.judge` returns: exactly one of the three is set."""

    #: One ``[status, body]`` per test: ``["ok", encoded value]``, ``["digest", sha256]``
    #: or ``["error", text]``.
    results: tuple[tuple[str, Any], ...] | None = None
    #: Why the solution could not be loaded (syntax error, exception, no entry point).
    load_error: str | None = None
    #: Why no verdict came back (time budget spent, judge or sandbox lost).
    problem: str | None = None


MiB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox. Defaults are the documented ones (docs/sandbox.md).

    ``LocalSandbox`` maps them to rlimits where it can (see each field).
    """

    #: Memory of the container (cgroup, no swap); LocalSandbox: RLIMIT_AS of the interpreter.
    memory_bytes: int = 512 * MiB
    #: Processes and threads in the container (cgroup pids); LocalSandbox: RLIMIT_NPROC.
    pids: int = 128
    #: CPUs the container may use (CFS quota); LocalSandbox: not enforced.
    cpus: float = 1.0
    #: Default wall-clock timeout of :meth:`Sandbox.run` (seconds).
    timeout_s: float = 10.0
    #: CPU seconds one interpreter may use over its life (RLIMIT_CPU; reset restores it).
    cpu_time_s: int = 600
    #: Largest file the code may write (RLIMIT_FSIZE).
    file_size_bytes: int = 64 * MiB
    #: Bytes kept per stream (stdout, stderr); the rest is dropped and marked truncated.
    max_output_bytes: int = 64 * 1024
    #: Size of the tmpfs mounted on /tmp (DockerSandbox).
    tmp_bytes: int = 64 * MiB
    #: Size of the tmpfs mounted on /workspace, the working directory (DockerSandbox).
    workspace_bytes: int = 128 * MiB
    #: Size of the private /dev/shm (noexec; DockerSandbox, and LocalSandbox as root).
    shm_bytes: int = 16 * MiB
    #: ``False`` gives the container no network at all (``--network none``).
    network: bool = False
    #: Read-only root filesystem (only /tmp and /workspace are writable).
    read_only_root: bool = True
    #: User the code runs as inside the container (never root by default).
    user: str = "1000:1000"

    def __post_init__(self) -> None:
        for name in (
            "memory_bytes",
            "pids",
            "cpu_time_s",
            "file_size_bytes",
            "max_output_bytes",
            "tmp_bytes",
            "workspace_bytes",
            "shm_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidArgumentError(
                    f"SandboxLimits.{name} must be a positive int, got {value!r}."
                )
        for name in ("cpus", "timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidArgumentError(
                    f"SandboxLimits.{name} must be a positive number, got {value!r}."
                )
        if self.memory_bytes < 64 * MiB:
            raise InvalidArgumentError(
                f"SandboxLimits.memory_bytes must be at least 64 MiB (the interpreter needs "
                f"it), got {self.memory_bytes!r}."
            )

    def server_args(self) -> list[str]:
        """Command-line flags of the REPL server that enforce these limits inside."""
        return [
            "--timeout", str(self.timeout_s),
            "--max-output", str(self.max_output_bytes),
            "--rlimit-cpu", str(self.cpu_time_s),
            "--rlimit-fsize", str(self.file_size_bytes),
        ]  # fmt: skip


DEFAULT_LIMITS = SandboxLimits()


@runtime_checkable
class Sandbox(Protocol):
    """An isolated, persistent Python interpreter.

    ``run`` keeps variables and imports between calls (like a notebook); ``reset`` gives a
    fresh interpreter in the same sandbox (files are kept). Also a context manager.
    """

    backend: BackendName
    limits: SandboxLimits

    def run(self, code: str, timeout: float | None = None) -> ExecResult: ...

    def reset(self) -> None: ...

    def judge(self, request: JudgeRequest) -> JudgeReport: ...

    def put_file(self, path: str, data: bytes | str) -> None: ...

    def get_file(self, path: str) -> bytes: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...


#: Where a wheel bundles the ``sandboxes/`` folder (``setup.py`` copies it in at build time).
BUNDLED_SANDBOXES = Path(__file__).resolve().parents[1] / "_sandboxes"


def sandboxes_dir() -> Path:
    """The ``sandboxes/`` folder: the Dockerfiles and their build context, the sandbox runtime
    (``runtime/``) and the web sites (``web/``). ``MTENVS_SANDBOXES_DIR`` overrides; an
    installed wheel has it as ``mtenvs/_sandboxes``; a source checkout at its root."""
    override = os.environ.get("MTENVS_SANDBOXES_DIR")
    candidates = (
        [Path(override)]
        if override
        else [BUNDLED_SANDBOXES, Path(__file__).resolve().parents[2] / "sandboxes"]
    )
    for path in candidates:
        if (path / "runtime" / "repl_server.py").is_file():
            return path
    raise SandboxUnavailableError(
        "The sandbox files (sandboxes/runtime/repl_server.py, the Dockerfiles, the web sites) "
        f"were not found in {', '.join(str(c) for c in candidates)}: reinstall mtenvs (its "
        "wheel bundles them) or set MTENVS_SANDBOXES_DIR to a checkout's sandboxes/ folder."
    )


def runtime_dir() -> Path:
    """The folder of the sandbox runtime (``sandboxes/runtime/``: the REPL server, the judge
    and the modules they share); ``MTENVS_RUNTIME`` (the REPL server's path) overrides."""
    override = os.environ.get("MTENVS_RUNTIME")
    if override:
        if not Path(override).is_file():
            raise SandboxUnavailableError(f"MTENVS_RUNTIME={override} is not a file.")
        return Path(override).parent
    return sandboxes_dir() / "runtime"


def runtime_server_path() -> Path:
    """Path of the REPL server file (``sandboxes/runtime/repl_server.py``)."""
    return runtime_dir() / "repl_server.py"


_runtime_modules: dict[str, ModuleType] = {}
_runtime_lock = threading.Lock()


def runtime_module(name: str) -> ModuleType:
    """A module of the sandbox runtime loaded on the host (``plain_values``: the host
    decodes with the very code the judge encodes with)."""
    import importlib.util

    with _runtime_lock:
        module = _runtime_modules.get(name)
        if module is None:
            path = runtime_dir() / f"{name}.py"
            spec = importlib.util.spec_from_file_location(f"mtenvs._runtime_{name}", path)
            if spec is None or spec.loader is None:
                raise SandboxUnavailableError(f"Cannot load the sandbox runtime module {path}.")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _runtime_modules[name] = module
        return module


# --------------------------------------------------------------------------- wire protocol


def encode_frame(obj: dict[str, Any]) -> bytes:
    data = json.dumps(obj).encode("utf-8")
    return len(data).to_bytes(HEADER, "big") + data


class ServerConnection:
    """Request/response client of the REPL server over a byte transport.

    Subclasses provide ``_send(bytes)`` and ``_recv(timeout) -> bytes`` (``b""`` at EOF,
    raise ``TimeoutError`` when nothing came in time). Calls are serialized by a lock.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._next_id = 1
        self._io_lock = threading.Lock()

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _recv(self, timeout: float) -> bytes:
        raise NotImplementedError

    def read_frame(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            if len(self._buf) >= HEADER:
                size = int.from_bytes(self._buf[:HEADER], "big")
                if size > MAX_FRAME:
                    raise SandboxProtocolError(
                        f"REPL server sent a frame of {size} bytes; broken stream."
                    )
                if len(self._buf) >= HEADER + size:
                    data = bytes(self._buf[HEADER : HEADER + size])
                    del self._buf[: HEADER + size]
                    try:
                        msg = json.loads(data)
                    except (ValueError, RecursionError) as e:
                        raise SandboxProtocolError(
                            f"REPL server sent a frame that is not JSON ({type(e).__name__})"
                        ) from e
                    if not isinstance(msg, dict):
                        raise SandboxProtocolError("REPL server sent a frame that is not an object")
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("REPL server did not answer in time")
            chunk = self._recv(left)
            if not chunk:
                raise SandboxDiedError("the REPL server closed its output (sandbox gone)")
            self._buf += chunk

    def request(self, op: str, wait: float, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its answer (``TimeoutError`` / ``SandboxDiedError``).

        Each request carries a fresh random nonce: an answer must echo it (a stale answer to
        an earlier, abandoned call is skipped by its id; one with this id but another nonce
        breaks the protocol)."""
        with self._io_lock:
            req_id = self._next_id
            self._next_id += 1
            nonce = secrets.token_hex(8)
            try:
                self._send(encode_frame({"id": req_id, "nonce": nonce, "op": op, **fields}))
            except OSError as e:
                raise SandboxDiedError(f"cannot write to the REPL server: {e}") from e
            while True:
                msg = self.read_frame(wait)
                if msg.get("id") == req_id:
                    if msg.get("nonce") != nonce:
                        raise SandboxProtocolError("REPL server answered with another nonce")
                    return msg

    def run(self, code: str, timeout: float, max_output_bytes: int) -> ExecResult:
        msg = self.request("run", timeout + HOST_GRACE_S, code=code, timeout=timeout)
        if not msg.get("ok", True):
            raise SandboxError(f"REPL server refused the code: {msg.get('error')}")
        return ExecResult.from_wire(msg, max_output_bytes)

    def judge(self, request: JudgeRequest) -> JudgeReport:
        msg = self.request(
            "judge",
            request.timeout + HOST_GRACE_S,
            source=request.source,
            setup=request.setup,
            test_setup=request.test_setup,
            entry=request.entry,
            tests=[list(t) for t in request.tests],
            per_test=request.per_test_s,
            lenient=request.lenient,
            cap=request.cap,
            timeout=request.timeout,
        )
        if not msg.get("ok"):
            raise SandboxError(f"REPL server refused the judge request: {msg.get('error')}")
        return _judge_report(msg, len(request.tests))

    def put_file(self, path: str, data: bytes | str) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        msg = self.request("put_file", 60.0, path=path, data=base64.b64encode(raw).decode())
        if not msg.get("ok"):
            raise SandboxError(f"put_file({path!r}) failed in the sandbox: {msg.get('error')}")

    def get_file(self, path: str) -> bytes:
        msg = self.request("get_file", 60.0, path=path)
        if not msg.get("ok"):
            raise SandboxError(f"get_file({path!r}) failed in the sandbox: {msg.get('error')}")
        return base64.b64decode(msg["data"])


def _judge_report(msg: dict[str, Any], n_tests: int) -> JudgeReport:
    """The judge's answer, checked (else :class:`SandboxProtocolError`)."""
    for key in ("load_error", "problem"):
        if key in msg:
            if not isinstance(msg[key], str):
                raise SandboxProtocolError(f"the judge's {key} is not a str")
            return JudgeReport(**{key: msg[key][:2000]})
    results = msg.get("results")
    if not isinstance(results, list) or len(results) != n_tests:
        raise SandboxProtocolError("the judge's results do not match the tests")
    items: list[tuple[str, Any]] = []
    for item in results:
        if not (isinstance(item, list) and len(item) == 2 and item[0] in ("ok", "digest", "error")):
            raise SandboxProtocolError("the judge sent a malformed verdict item")
        items.append((item[0], item[1]))
    return JudgeReport(results=tuple(items))


@dataclass
class _Counter:
    """Thread-safe counter used for sandbox names."""

    value: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> int:
        with self.lock:
            self.value += 1
            return self.value


class ServerSandbox:
    """What DockerSandbox and LocalSandbox share: the run/reset/file calls over a
    :class:`ServerConnection`, and transparent recovery when the server is gone.

    A subclass implements ``_start_server() -> ServerConnection``, ``_stop_server()`` and
    ``_server_gone() -> bool`` (a cheap check, no round trip).
    """

    backend: BackendName
    _names = _Counter()

    def __init__(self, limits: SandboxLimits | None) -> None:
        if limits is not None and not isinstance(limits, SandboxLimits):
            raise InvalidArgumentError(
                f"limits must be a SandboxLimits, got {type(limits).__name__}."
            )
        self.limits = limits or DEFAULT_LIMITS
        # The pid keeps names unique across forked workers (the counter is copied by fork).
        self.name = f"mtenvs-{self.backend}-{SESSION_ID}-{os.getpid()}-{self._names.next()}"
        self._lock = threading.RLock()
        self._conn: ServerConnection | None = None
        self._closed = False
        #: How many times the sandbox itself (container or process) was replaced.
        self.recoveries = 0

    # -- to implement
    def _start_server(self) -> ServerConnection:
        raise NotImplementedError

    def _stop_server(self) -> None:
        raise NotImplementedError

    def _server_gone(self) -> bool:
        raise NotImplementedError

    # -- lifecycle
    def _start(self) -> None:
        try:
            self._conn = self._start_server()
        except BaseException:
            self._stop_server()
            raise

    def _recover(self) -> None:
        self.recoveries += 1
        self._stop_server()
        self._conn = None
        self._start()

    def _ensure(self) -> bool:
        """Start or replace the server if it is gone; ``True`` when state was lost."""
        if self._closed:
            raise SandboxError(f"{self.name} is closed; create a new sandbox.")
        if self._conn is None or self._server_gone():
            self._recover()
            return True
        return False

    # -- the Sandbox protocol
    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run ``code`` in the persistent namespace; never raises for anything the code does."""
        if not isinstance(code, str):
            raise InvalidArgumentError(f"code must be a str, got {type(code).__name__}.")
        wall = self.limits.timeout_s if timeout is None else float(timeout)
        if wall <= 0:
            raise InvalidArgumentError(f"timeout must be > 0 seconds, got {timeout!r}.")
        with self._lock:
            lost = self._ensure()
            assert self._conn is not None
            start = time.monotonic()
            try:
                result = self._conn.run(code, wall, self.limits.max_output_bytes)
            except SandboxDiedError as e:
                self._recover()
                return ExecResult.lost(
                    f"the sandbox stopped during the call ({e})", time.monotonic() - start
                )
            except TimeoutError:
                self._recover()
                return ExecResult.lost(
                    f"the sandbox did not answer within {wall:g} s",
                    time.monotonic() - start,
                    timed_out=True,
                )
            if lost and not result.restarted:
                result = ExecResult(**{**result.__dict__, "restarted": True})
            return result

    def judge(self, request: JudgeRequest) -> JudgeReport:
        """Run hidden tests against a solution in the judge of this sandbox
        (sandboxes/runtime/judge.py): a process that never runs the solution and shares no
        descriptor with it. Never raises for anything the solution does."""
        with self._lock:
            self._ensure()
            assert self._conn is not None
            try:
                return self._conn.judge(request)
            except SandboxDiedError as e:
                self._recover()
                return JudgeReport(problem=f"the sandbox was lost during the tests ({e})")
            except TimeoutError:
                self._recover()
                return JudgeReport(problem="the sandbox did not answer in time")

    def reset(self) -> None:
        """A fresh interpreter (variables, imports and background processes gone; files kept)."""
        with self._lock:
            if self._ensure():
                return
            assert self._conn is not None
            try:
                self._conn.request("reset", 30.0)
            except (SandboxDiedError, TimeoutError):
                self._recover()

    def ping(self) -> bool:
        """``True`` when the server answers (a health check; does not recover)."""
        with self._lock:
            if self._closed or self._conn is None or self._server_gone():
                return False
            try:
                return bool(self._conn.request("ping", 10.0).get("worker_alive", True))
            except (SandboxError, TimeoutError, OSError):
                return False

    def put_file(self, path: str, data: bytes | str) -> None:
        """Write a file; a relative ``path`` is under the working directory (/workspace)."""
        with self._lock:
            self._ensure()
            assert self._conn is not None
            self._conn.put_file(path, data)

    def get_file(self, path: str) -> bytes:
        """Read a file; a relative ``path`` is under the working directory (/workspace)."""
        with self._lock:
            self._ensure()
            assert self._conn is not None
            return self._conn.get_file(path)

    def close(self) -> None:
        """Stop the sandbox and remove everything it left (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_server()
            self._conn = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ServerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:  # interpreter shutdown: the reaper cleans up what is left
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.name} {state}>"
