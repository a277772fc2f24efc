"""A cgroup per local sandbox: memory and processes limited for the sandbox as a whole.

RLIMIT_AS and RLIMIT_NPROC are per process (and per uid): four processes of 400 MiB each
pass a 512 MiB RLIMIT_AS. As root, :class:`SandboxCgroup` puts the whole local sandbox (the
REPL server and everything it starts) in a cgroup of its own with the sandbox's memory (no
swap) and pids limits, the way a container's are enforced. cgroup v2 (the unified
hierarchy with the memory and pids controllers) and v1 (the memory and pids hierarchies)
are both handled; where neither can be written, :func:`cgroup_support` says why and the
sandbox keeps its per-process limits (``mtenvs doctor`` shows which).

Names carry the owner's pid (``mtenvs-local-<session>-<pid>-<n>-<restart>``), so the cgroups of an
owner that died without closing its sandboxes are removed by :func:`remove_stale_cgroups`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from functools import cache
from pathlib import Path

from mtenvs.sandbox.reaper import process_start

__all__ = ["SandboxCgroup", "cgroup_support", "remove_stale_cgroups"]

ROOT = Path("/sys/fs/cgroup")
#: A sandbox cgroup's name: the sandbox's name (session, owner pid, counter) and its
#: restart count; the first number is the owner's pid.
_STALE = re.compile(r"^mtenvs-local-[0-9a-f]+-(\d+)(?:-\d+)+$")


def _own_path(controller: str | None) -> str:
    """This process's cgroup path in a v1 hierarchy (``controller``) or in v2 (``None``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller is None and controllers == "":
                return path
            if controller is not None and controller in controllers.split(","):
                return path
    return "/"


def _parents() -> dict[str, Path] | None:
    """Where sandbox cgroups are made: ``{"memory": dir, "pids": dir}`` (one dir on v2)."""
    v2 = ROOT / "cgroup.controllers"
    if v2.is_file():
        base = ROOT / _own_path(None).lstrip("/")
        try:
            enabled = (base / "cgroup.subtree_control").read_text().split()
        except OSError:
            return None
        if "memory" in enabled and "pids" in enabled:
            return {"memory": base, "pids": base}
        return None
    dirs = {c: ROOT / c / _own_path(c).lstrip("/") for c in ("memory", "pids")}
    return dirs if all(d.is_dir() for d in dirs.values()) else None


@cache
def cgroup_support() -> tuple[bool, str]:
    """``(usable, detail)``: whether sandboxes get a cgroup of their own here."""
    if os.geteuid() != 0:
        return False, "needs root"
    parents = _parents()
    if parents is None:
        return False, "no writable memory and pids cgroup controllers"
    probe = f"mtenvs-local-probe-{os.getpid()}"
    try:
        made = []
        for d in dict.fromkeys(parents.values()):
            (d / probe).mkdir()
            made.append(d / probe)
        for d in made:
            d.rmdir()
    except OSError as e:
        return False, f"cannot create a cgroup ({e.strerror})"
    version = "v2" if (ROOT / "cgroup.controllers").is_file() else "v1"
    return True, f"cgroup {version}: memory and pids per sandbox"


class SandboxCgroup:
    """The cgroup(s) of one sandbox; ``procs_files`` are what a process joins by writing
    its pid to each."""

    def __init__(self, name: str, memory_bytes: int, pids: int) -> None:
        parents = _parents()
        if parents is None:
            raise OSError("no cgroup controllers")
        self.dirs = [d / name for d in dict.fromkeys(parents.values())]
        for d in self.dirs:
            d.mkdir(exist_ok=True)
        try:
            if (ROOT / "cgroup.controllers").is_file():
                self._write("memory.max", memory_bytes)
                self._write("memory.swap.max", 0, optional=True)
                self._write("pids.max", pids)
            else:
                mem, pid_dir = parents["memory"] / name, parents["pids"] / name
                (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):  # absent without swap accounting
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                (pid_dir / "pids.max").write_text(str(pids))
        except OSError:
            self.remove()
            raise

    def _write(self, name: str, value: int, *, optional: bool = False) -> None:
        try:
            (self.dirs[0] / name).write_text(str(value))
        except OSError:
            if not optional:
                raise

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                out |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
        return sorted(out)

    def remove(self) -> None:
        """Kill what is left in the cgroup and remove it."""
        _remove_dirs(self.dirs)


def _remove_dirs(dirs: list[Path]) -> None:
    deadline = time.monotonic() + 5.0
    for d in dirs:
        while d.exists():
            with contextlib.suppress(OSError):
                for pid in (d / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
            try:
                d.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)


def remove_stale_cgroups() -> int:
    """Remove sandbox cgroups whose owner process is gone; how many were removed."""
    parents = _parents() if os.geteuid() == 0 else None
    if parents is None:
        return 0
    stale: list[Path] = []
    for parent in dict.fromkeys(parents.values()):
        with contextlib.suppress(OSError):
            for d in parent.iterdir():
                m = _STALE.match(d.name)
                if m and d.is_dir() and process_start(int(m.group(1))) is None:
                    stale.append(d)
    _remove_dirs(stale)
    return len(stale)
