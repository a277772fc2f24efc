"""``LocalSandbox``: the same REPL server as a host subprocess, with rlimits.

The embedded fallback when no Docker engine is reachable. It is **weaker isolation** (see
docs/sandbox.md): the code runs on the host kernel, sees the host filesystem with the
permissions of its user, and shares the machine's CPUs. What it does:

* rlimits on the interpreter: address space (``memory_bytes``), processes (``pids``),
  CPU seconds, file size;
* a scrubbed environment (no host variables) and a private temporary working directory;
* as root: ``unshare -n -p -f --mount-proc`` (no network but a down loopback, its own pid
  namespace and /proc, so the host's processes are invisible) and a private unprivileged
  uid per sandbox (so host files are read-only or unreadable, and the process limit
  counts only this sandbox).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from functools import cache
from pathlib import Path

from mtenvs.sandbox.base import (
    BackendName,
    SandboxDiedError,
    SandboxLimits,
    ServerConnection,
    ServerSandbox,
    runtime_server_path,
)

__all__ = ["LocalSandbox", "local_isolation"]

#: Private uids of root-run local sandboxes come from this range (no /etc/passwd entry).
UID_BASE = 1_900_000_000
_uids = itertools.count()
_uid_lock = threading.Lock()
START_TIMEOUT_S = 30.0


def _is_root() -> bool:
    return os.geteuid() == 0


@cache
def _unshare_works() -> bool:
    if not _is_root() or shutil.which("unshare") is None:
        return False
    try:
        proc = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def local_isolation() -> dict[str, bool]:
    """Which of LocalSandbox's optional guarantees hold on this machine."""
    ns = _unshare_works()
    return {
        "network_namespace": ns,
        "pid_namespace": ns,
        "private_uid": _private_uid(sys.executable),
    }


def _private_uid(python: str) -> bool:
    return _is_root() and _interpreter(python)[2]


def _readable_by_others(path: str | Path) -> bool:
    """Whether a user with no relation to the owner can reach and read ``path``."""
    try:
        target = Path(path).resolve()
        if not os.stat(target).st_mode & 0o004:
            return False
        return all(os.stat(d).st_mode & 0o001 for d in target.parents)
    except OSError:
        return False


@cache
def _interpreter(python: str) -> tuple[str, tuple[str, ...], bool]:
    """``(interpreter, extra import paths, usable by a private uid)`` for the server.

    A private uid must be able to read the interpreter's standard library and the host's
    site-packages. When only the standard library is out of reach (a pyenv build under
    /root, say), the system Python of the same version runs the server with the host's
    site-packages added; when the site-packages are out of reach, no private uid is used.
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    if python != sys.executable or (_readable_by_others(python) and _readable_by_others(stdlib)):
        return python, (), _readable_by_others(python)
    sites = tuple(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))
    if not all(_readable_by_others(p) for p in sites if os.path.exists(p)):
        # A private uid could not import the host's packages (a venv under a 0700
        # directory, say): run as this user instead, and doctor reports the missing uid.
        return python, (), False
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if os.path.exists(system) and _readable_by_others(system):
        probe = subprocess.run(
            [system, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and _readable_by_others(probe.stdout.strip()):
            return system, sites, True
    return python, (), False


def _next_uid() -> int:
    with _uid_lock:
        return UID_BASE + (os.getpid() % 100_000) * 1000 + next(_uids) % 1000


def _user_process_count() -> int:
    """Tasks (processes and threads) of this uid: RLIMIT_NPROC counts them all."""
    uid, count = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                continue
    return count


class _Pipes(ServerConnection):
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__()
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._in, view) :]

    def _recv(self, timeout: float) -> bytes:
        if not select.select([self._out], [], [], timeout)[0]:
            raise TimeoutError("no answer from the local REPL server")
        return os.read(self._out, 1 << 16)


class LocalSandbox(ServerSandbox):
    """A sandbox in a host subprocess (weaker isolation; see the module doc).

    Arguments:
        limits: resource limits (``cpus``, ``network`` and ``read_only_root`` do not apply).
        python: interpreter to run the server with (this one by default, so the host's
            packages, numpy included, are importable).
    """

    backend: BackendName = "local"

    def __init__(self, *, limits: SandboxLimits | None = None, python: str | None = None) -> None:
        super().__init__(limits)
        self.python = python or sys.executable
        self.root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    @property
    def isolation(self) -> dict[str, bool]:
        return local_isolation()

    def _command(self, workspace: Path, uid: int | None) -> list[str]:
        lim = self.limits
        nproc = lim.pids if uid is not None else _user_process_count() + lim.pids
        python, extra_paths, _ = _interpreter(self.python)
        cmd = [
            python, "-I", "-u", str(runtime_server_path()),
            *(arg for p in extra_paths for arg in ("--sys-path", p)),
            "--workdir", str(workspace),
            *lim.server_args(),
            "--rlimit-as", str(lim.memory_bytes),
            "--rlimit-nproc", str(nproc),
        ]  # fmt: skip
        if uid is not None:
            cmd += ["--uid", str(uid), "--gid", str(uid)]
        if _unshare_works():
            cmd = ["unshare", "-n", "-p", "-f", "--mount-proc", "--kill-child", *cmd]
        return cmd

    def _start_server(self) -> ServerConnection:
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        workspace, tmp = self.root / "workspace", self.root / "tmp"
        workspace.mkdir()
        tmp.mkdir()
        uid = _next_uid() if _private_uid(self.python) else None
        if uid is not None:
            os.chmod(self.root, 0o711)
            for d in (workspace, tmp):
                os.chown(d, uid, uid)
                os.chmod(d, 0o700)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workspace),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MPLCONFIGDIR": str(tmp),
        }
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 - handed to the child
        try:
            self._proc = subprocess.Popen(
                self._command(workspace, uid),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=workspace,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            log.close()
        conn = _Pipes(self._proc)
        try:
            hello = conn.read_frame(START_TIMEOUT_S)
        except (SandboxDiedError, TimeoutError) as e:
            raise SandboxDiedError(
                f"the local REPL server did not start ({e}): {self._log_tail()}"
            ) from e
        if not hello.get("ready"):
            raise SandboxDiedError(f"unexpected first message from the REPL server: {hello}")
        return conn

    def _log_tail(self) -> str:
        try:
            assert self.root is not None
            return (self.root / "server.log").read_text(errors="replace")[-2000:] or "no output"
        except (OSError, AssertionError):
            return "no log"

    def _server_gone(self) -> bool:
        return self._proc is None or self._proc.poll() is not None

    def _stop_server(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()  # the server kills what it started and exits
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5.0)
            if proc.stdout is not None:
                proc.stdout.close()
        root, self.root = self.root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """Host pid of the server process (tests kill it to simulate a crash)."""
        return None if self._proc is None else self._proc.pid
