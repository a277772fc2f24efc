"""LocalSandbox: scrubbed environment, private directory, recovery, cleanup."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mtenvs.sandbox import LocalSandbox, SandboxLimits
from tests.sandbox._support import TEST_LIMITS

pytestmark = pytest.mark.xdist_group("sandbox")


def test_environment_is_scrubbed(local_sandbox, monkeypatch):
    env = eval(local_sandbox.run("import os; dict(os.environ)").value)
    assert set(env) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MPLCONFIGDIR",
        "LC_CTYPE",
    }
    assert env["HOME"] == local_sandbox.run("import os; os.getcwd()").value.strip("'")


def test_working_directory_is_private_and_removed(tmp_path):
    sb = LocalSandbox(limits=TEST_LIMITS)
    root = sb.root
    sb.run("open('x.txt', 'w').write('1')")
    assert (root / "workspace" / "x.txt").exists()
    sb.close()
    assert not root.exists()


def test_memory_rlimit(local_sandbox):
    r = local_sandbox.run("b = bytearray(2 * 1024**3)")
    assert "MemoryError" in r.error
    assert local_sandbox.run("1+1").value == "2"


def test_killed_server_recovers_transparently():
    with LocalSandbox(limits=TEST_LIMITS) as sb:
        sb.run("x = 1")
        os.kill(sb.pid, signal.SIGKILL)
        time.sleep(0.1)
        r = sb.run("1+1")
        assert r.value == "2" and r.restarted and sb.recoveries == 1


def test_limits_are_validated():
    from mtenvs.error import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="memory_bytes"):
        SandboxLimits(memory_bytes=0)
    with pytest.raises(InvalidArgumentError, match="timeout_s"):
        SandboxLimits(timeout_s=-1)
    with pytest.raises(InvalidArgumentError, match="limits must be a SandboxLimits"):
        LocalSandbox(limits={"memory_bytes": 1})


def test_no_processes_left_after_close():
    # A duration of its own, so a run of this test beside it (another checkout) is not seen.
    duration = f"300.{os.getpid()}"
    sb = LocalSandbox(limits=TEST_LIMITS)
    sb.run(f"import subprocess; p = subprocess.Popen(['sleep', '{duration}'])")
    pid = sb.pid
    sb.close()
    time.sleep(0.2)
    mine = f"sleep\x00{duration}\x00".encode()
    alive = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == mine]
    assert not alive, alive
    assert not os.path.exists(f"/proc/{pid}") or _state(pid) == "Z"


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]
