"""Issue 16, finding 4: the local backend never runs agent code as root.

On main, a LocalSandbox whose interpreter a private uid cannot read (a Python under root's
home, say) silently dropped the private uid: agent code ran as uid 0 with every capability,
read /etc/shadow, reached the Docker socket, wrote into root's home, and its memory limit
was per process (four processes held far more than the sandbox's memory). These tests play
that set-up for real: an interpreter behind a 0700 folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from mtenvs.sandbox import LocalSandbox, SandboxLimits, SandboxUnavailableError
from mtenvs.sandbox import local_sandbox as local_module
from mtenvs.sandbox.cgroup import cgroup_support, remove_stale_cgroups

pytestmark = [
    pytest.mark.xdist_group("security"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the root-only guarantees need root"),
]


@pytest.fixture
def hidden_python(tmp_path: Path) -> str:
    """An interpreter only root can reach (its folder is 0700), as under /root/.pyenv."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    target = private / "python3"
    os.symlink(os.path.realpath(sys.executable), target)
    return str(target)


PROBE = textwrap.dedent(
    """
    import os, socket
    facts = {"uid": os.getuid(), "euid": os.geteuid()}
    try:
        open("/etc/shadow").read(1)
        facts["shadow"] = "read"
    except OSError as e:
        facts["shadow"] = type(e).__name__
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect("/var/run/docker.sock")
        facts["docker"] = "connected"
    except OSError as e:
        facts["docker"] = type(e).__name__
    try:
        open("/root/.mtenvs-probe", "w").write("x")
        facts["root_home"] = "written"
    except OSError as e:
        facts["root_home"] = type(e).__name__
    with open("/proc/self/status") as f:
        facts["cap_eff"] = next(l.split()[1] for l in f if l.startswith("CapEff"))
    facts
    """
)


def test_an_interpreter_out_of_reach_never_means_root(hidden_python):
    if not os.path.exists(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"):
        pytest.skip("this test needs the system python3 of the same version to fall back on")
    with LocalSandbox(python=hidden_python, limits=SandboxLimits(timeout_s=10)) as sb:
        result = sb.run(PROBE)
    assert result.ok, result.error
    facts = eval(result.value or "{}")  # a dict of plain values the probe printed
    assert facts["uid"] != 0 and facts["euid"] != 0, facts
    assert facts["shadow"] != "read" and facts["docker"] != "connected", facts
    assert facts["root_home"] != "written" and int(facts["cap_eff"], 16) == 0, facts
    assert not Path("/root/.mtenvs-probe").exists()


def test_no_readable_interpreter_is_a_clear_refusal(hidden_python, monkeypatch):
    """With no interpreter an unprivileged uid can read, the sandbox refuses (naming the fix)
    instead of running as root. (The system Python is made unreachable for this test.)"""
    monkeypatch.setattr(local_module, "_private_interpreter", lambda python: None)
    with pytest.raises(SandboxUnavailableError, match="will not run agent code as root") as e:
        LocalSandbox(python=hidden_python)
    assert "apt-get install python3" in str(e.value) and "docker" in str(e.value).lower()


def test_memory_is_limited_for_the_sandbox_not_per_process():
    """Four processes of 200 MiB each fit a 512 MiB RLIMIT_AS one by one, not together."""
    usable, why = cgroup_support()
    if not usable:
        pytest.skip(f"no cgroup for sandboxes here: {why}")
    code = textwrap.dedent(
        """
        import os, time
        kids = []
        for _ in range(4):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                block = bytearray(200 * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                os.write(w, b"x")
                time.sleep(30)
                os._exit(0)
            os.close(w)
            kids.append((pid, r))
        for pid, r in kids:
            os.read(r, 1)  # b"" from a child killed before its block was full
        # The OOM killer may take a child that had already said its block was full: count
        # the children alive together, giving a killed one time to die.
        for _ in range(200):
            held = sum(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid, _ in kids)
            if held < 4:
                break
            time.sleep(0.01)
        for pid, _ in kids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        held
        """
    )
    with LocalSandbox(limits=SandboxLimits(timeout_s=30)) as sb:
        result = sb.run(code)
        assert sb._cgroup is not None
        cgroup_dirs = list(sb._cgroup.dirs)
    # Either the OOM killer took a child (fewer than 4 held their memory at once) or the
    # cell died.
    assert result.value is None or int(result.value) < 4, result
    assert not any(d.exists() for d in cgroup_dirs)  # removed on close


def test_temp_dirs_and_cgroups_of_a_dead_owner_are_removed(tmp_path):
    """A LocalSandbox whose owner was SIGKILLed leaves its folder and its cgroup; the next
    sandbox removes the folder, the sweep of dead owners' cgroups the cgroup."""
    import subprocess
    import tempfile

    owner = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\nfrom mtenvs.sandbox import LocalSandbox\n"
            "sb = LocalSandbox()\nprint(sb.root, flush=True)\n"
            "print(*(sb._cgroup.dirs if sb._cgroup else []), sep='\\n', flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    root, *cgroups = (Path(line) for line in owner.stdout.split())
    assert root.name.startswith("mtenvs-local-") and root.parent == Path(tempfile.gettempdir())
    with LocalSandbox():
        pass
    assert not root.exists()
    shutil.rmtree(root, ignore_errors=True)
    if cgroup_support()[0]:
        assert cgroups and all(d.is_dir() for d in cgroups)  # left behind by the SIGKILL
        assert remove_stale_cgroups() >= 1
        assert not any(d.exists() for d in cgroups)
