"""``LocalSandbox``: the same REPL server as a host subprocess, with rlimits.

The embedded fallback when no Docker engine is reachable. It is **weaker isolation** (see
docs/sandbox.md): the code runs on the host kernel, sees the host filesystem with the
permissions of its user, and shares the machine's CPUs. What it does:

* rlimits on each interpreter process: address space (``memory_bytes``), processes
  (``pids``), CPU seconds, file size;
* a scrubbed environment (no host variables) and a private temporary working directory,
  removed on close (and, when the owner died without closing, by the next sandbox);
* as root, always a private unprivileged uid per sandbox (host files are read-only or
  unreadable, the process limit counts only this sandbox, no capabilities): the server
  runs with an interpreter that uid can read (this one, or the system ``python3`` of the
  same version) and a read-only copy of the runtime when the source tree is out of its
  reach. Agent code never runs as root: with no such interpreter the sandbox refuses to
  start and says how to fix it;
* as root, a cgroup of its own (:mod:`mtenvs.sandbox.cgroup`): memory (no swap) and
  processes limited for the sandbox as a whole, not only per process;
* as root, ``unshare -n -p -f --mount-proc`` (no network but a down loopback, its own pid
  namespace and /proc, so the host's processes are invisible).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from functools import cache
from pathlib import Path

from mtenvs.sandbox.base import (
    BackendName,
    SandboxDiedError,
    SandboxLimits,
    SandboxUnavailableError,
    ServerConnection,
    ServerSandbox,
    runtime_dir,
)
from mtenvs.sandbox.cgroup import SandboxCgroup, cgroup_support, remove_stale_cgroups
from mtenvs.sandbox.owned_dirs import owned_tempdir

__all__ = ["LocalSandbox", "local_identity", "local_isolation"]

#: Private uids of root-run local sandboxes come from this range (no /etc/passwd entry).
UID_BASE = 1_900_000_000
_uids = itertools.count()
_uid_lock = threading.Lock()
START_TIMEOUT_S = 30.0
#: Name prefix of each sandbox's temporary folder (``<prefix><owner pid>-<random>``).
DIR_PREFIX = "mtenvs-local-"
#: ``sh -c`` script run in the sandbox's own mount namespace before the server: a private,
#: size-limited, noexec /dev/shm (not the host's) and no kernel symbol table or module list.
_PRIVATE_MOUNTS = (
    "mount -t tmpfs -o size={shm},nosuid,nodev,noexec,mode=1777 tmpfs /dev/shm"
    ' || echo "mtenvs: no private /dev/shm" >&2;'
    " for f in /proc/kallsyms /proc/modules; do"
    ' [ ! -e "$f" ] || mount --bind /dev/null "$f" || echo "mtenvs: $f not hidden" >&2;'
    ' done; unset PWD OLDPWD; exec "$@"'
)
#: ``sh -c`` script: write this shell's pid to the $1 cgroup.procs files that follow, then
#: exec the rest of the arguments (so the server starts inside the sandbox's cgroup).
_JOIN_CGROUPS = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n-1)); done;'
    ' unset PWD OLDPWD; exec "$@"'
)


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
        "private_uid": _is_root() and _private_interpreter(sys.executable) is not None,
        "sandbox_cgroup": cgroup_support()[0],
    }


def local_identity(python: str | None = None) -> dict[str, str]:
    """Who the agent code of a local sandbox runs as and under which limits (doctor)."""
    python = python or sys.executable
    if not _is_root():
        user = f"uid {os.getuid()} (this user: weaker isolation, its files are reachable)"
    else:
        plan = _private_interpreter(python)
        user = (
            f"a private uid from {UID_BASE} (never root), interpreter {plan[0]}"
            if plan is not None
            else "none: refuses to start (no interpreter an unprivileged uid can read)"
        )
    usable, detail = cgroup_support()
    scope = detail if usable else f"per process only ({detail})"
    return {"local sandbox user": user, "local sandbox limits": f"memory and pids {scope}"}


def _readable_by_others(path: str | Path) -> bool:
    """Whether a user with no relation to the owner can reach and read ``path``."""
    try:
        target = Path(path).resolve()
        if not os.stat(target).st_mode & 0o004:
            return False
        return all(os.stat(d).st_mode & 0o001 for d in target.parents)
    except OSError:
        return False


def _stdlib_of(python: str) -> str | None:
    if python == sys.executable:
        return sysconfig.get_paths()["stdlib"]
    try:
        probe = subprocess.run(
            [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


@cache
def _private_interpreter(python: str) -> tuple[str, tuple[str, ...]] | None:
    """``(interpreter, extra import paths)`` a private uid can run the server with, or
    ``None``.

    ``python`` itself when it and its standard library are readable by others; else the
    system Python of the same version, with the host's site-packages added where that uid
    can read them (without them, agent code has the standard library only).
    """
    stdlib = _stdlib_of(python)
    if _readable_by_others(python) and stdlib and _readable_by_others(stdlib):
        return python, ()
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = _stdlib_of(system) if os.path.exists(system) else None
    if _readable_by_others(system) and stdlib and _readable_by_others(stdlib):
        sites = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
        return system, tuple(p for p in sites if os.path.isdir(p) and _readable_by_others(p))
    return None


def _hidden_sites() -> tuple[str, ...]:
    """The host's site-packages that the private uid cannot reach only because a folder
    above them is closed (a checkout's venv in a 0700 home or ``mktemp -d``), while they
    themselves are open to others: each is bind-mounted into the sandbox's own mount
    namespace at a path that uid can reach (see :meth:`LocalSandbox._command`), so agent
    code has numpy and sympy there too. Nothing else of the closed folder becomes visible."""
    if _private_interpreter(sys.executable) is None or not _unshare_works():
        return ()
    sites = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    hidden = []
    for path in sites:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & 0o005 == 0o005 and not _readable_by_others(path):
            hidden.append(path)
    return tuple(hidden)


_runtime_copy: Path | None = None
_runtime_lock = threading.Lock()


def _runtime_for_private_uid() -> Path:
    """The runtime folder, or a root-owned read-only copy when a private uid cannot read it."""
    global _runtime_copy
    source = runtime_dir()
    if all(_readable_by_others(p) for p in source.glob("*.py")):
        return source
    with _runtime_lock:
        if _runtime_copy is None or not _runtime_copy.is_dir():
            copy = owned_tempdir("mtenvs-runtime-")
            for path in source.glob("*.py"):
                shutil.copyfile(path, copy / path.name)
                os.chmod(copy / path.name, 0o444)
            os.chmod(copy, 0o555)
            atexit.register(shutil.rmtree, copy, True)
            _runtime_copy = copy
        return _runtime_copy


_swept = False


def _sweep_once() -> None:
    """Cgroups of owners that died without closing their sandboxes (their temporary
    folders go with the next :func:`owned_tempdir` of the same prefix)."""
    global _swept
    if not _swept:
        _swept = True
        remove_stale_cgroups()


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
        self._cgroup: SandboxCgroup | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    @property
    def isolation(self) -> dict[str, bool]:
        return local_isolation()

    def _command(self, workspace: Path, uid: int | None) -> list[str]:
        lim = self.limits
        nproc = lim.pids if uid is not None else _user_process_count() + lim.pids
        extra_paths: tuple[str, ...] = ()
        if uid is None:
            python, runtime = self.python, runtime_dir()
        else:
            plan = _private_interpreter(self.python)
            assert plan is not None
            (python, extra_paths), runtime = plan, _runtime_for_private_uid()
        binds = []
        if uid is not None and self.python == sys.executable:
            for i, site in enumerate(_hidden_sites()):
                target = workspace.parent / f"site-{i}"
                target.mkdir(mode=0o755, exist_ok=True)
                binds.append((site, str(target)))
            extra_paths = (*extra_paths, *(target for _, target in binds))
        cmd = [
            python, "-I", "-u", str(runtime / "repl_server.py"),
            *(arg for p in extra_paths for arg in ("--sys-path", p)),
            "--workdir", str(workspace),
            *lim.server_args(),
            "--rlimit-as", str(lim.memory_bytes),
            "--rlimit-nproc", str(nproc),
        ]  # fmt: skip
        if uid is not None:
            cmd += ["--uid", str(uid), "--gid", str(uid)]
        if _unshare_works():
            private = "".join(
                f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}"
                f' || echo "mtenvs: {shlex.quote(src)} not mounted" >&2; '
                for src, dst in binds
            ) + _PRIVATE_MOUNTS.format(shm=lim.shm_bytes)
            cmd = ["unshare", "-n", "-p", "-f", "--mount-proc", "--kill-child",
                   "/bin/sh", "-c", private, "sh", *cmd]  # fmt: skip
        if self._cgroup is not None:  # joined before exec: everything started is inside
            files = self._cgroup.procs_files
            cmd = ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", str(len(files)), *files, *cmd]
        return cmd

    def _start_server(self) -> ServerConnection:
        _sweep_once()
        uid: int | None = None
        if _is_root():
            if _private_interpreter(self.python) is None:
                raise SandboxUnavailableError(
                    "LocalSandbox will not run agent code as root, and no Python interpreter "
                    f"that an unprivileged user can read was found ({self.python} or its "
                    "standard library is not readable by other users). Fix: install Debian's "
                    "python3 (`apt-get install python3`), make the interpreter readable "
                    "(`chmod o+rx` on it and its folders), or use the Docker backend "
                    "(`make test` starts one; sandbox='docker')."
                )
            uid = _next_uid()
        self.root = owned_tempdir(DIR_PREFIX)
        workspace, tmp = self.root / "workspace", self.root / "tmp"
        workspace.mkdir()
        tmp.mkdir()
        if uid is not None:
            os.chmod(self.root, 0o711)
            for d in (workspace, tmp):
                os.chown(d, uid, uid)
                os.chmod(d, 0o700)
        if cgroup_support()[0]:
            self._cgroup = SandboxCgroup(
                f"{self.name}-{self.recoveries}", self.limits.memory_bytes, self.limits.pids
            )
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
        cgroup, self._cgroup = self._cgroup, None
        if cgroup is not None:
            cgroup.remove()
        root, self.root = self.root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """Host pid of the server process (tests kill it to simulate a crash)."""
        return None if self._proc is None else self._proc.pid
