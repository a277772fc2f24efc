"""The REPL server's side of the judge (sandboxes/runtime/judge_client.py), on its own.

A spare is used only if it can serve: alive, sleeping or running, the child it must be, and
no signal waiting for it. The last point matters under load: a spare that an earlier answer
(same uid) sent ``SIGSTOP`` shows as running until it is next scheduled, and a judge taken
then stops under the next answer, whose tests time out (a CI run saw this once). The
clean-up after an answer must not stop early on a snapshot of /proc taken while the
answer's processes still fork (a loaded run saw a leftover process reach the next answer).
These tests check both on real processes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

from mtenvs.sandbox.base import runtime_dir

#: A child that blocks SIGUSR1 (so one sent stays waiting), says so, then sleeps.
BLOCKS_USR1 = (
    "import signal, sys, time\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(runtime_dir()))
    return importlib.import_module("judge_client")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", BLOCKS_USR1], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


def _state(client: ModuleType, pid: int, want: bytes) -> None:
    for _ in range(500):
        fields = client.proc_stat(pid)
        if fields is not None and fields[0] == want:
            return
        time.sleep(0.01)
    raise AssertionError(f"{pid} never reached state {want!r}")


def test_a_sleeping_child_can_serve(client, sleeper):
    assert client.signal_waiting(sleeper.pid) is False
    assert client.serving(sleeper.pid, os.getpid())


def test_a_child_of_another_parent_cannot(client, sleeper):
    assert not client.serving(sleeper.pid, os.getppid())


def test_a_signal_not_acted_on_yet_rules_a_child_out(client, sleeper):
    """The state still says it can serve; the waiting signal is what shows it cannot."""
    os.kill(sleeper.pid, signal.SIGUSR1)
    assert client.proc_stat(sleeper.pid)[0] in (b"S", b"R")  # (R: not asleep yet)
    assert client.signal_waiting(sleeper.pid) is True
    assert not client.serving(sleeper.pid, os.getpid())


def test_a_stopped_child_cannot_serve_until_continued(client, sleeper):
    os.kill(sleeper.pid, signal.SIGSTOP)
    _state(client, sleeper.pid, b"T")
    assert not client.serving(sleeper.pid, os.getpid())
    os.kill(sleeper.pid, signal.SIGCONT)
    _state(client, sleeper.pid, b"S")
    assert client.serving(sleeper.pid, os.getpid())


def test_a_gone_process_cannot_serve(client, sleeper):
    sleeper.kill()
    sleeper.wait()
    assert client.signal_waiting(sleeper.pid) is None
    assert not client.serving(sleeper.pid, os.getpid())


def test_the_clean_up_lists_again_after_a_new_zombie(client, sleeper, monkeypatch):
    """A process of the answer forked after /proc was listed and died before it was read:
    the first snapshot shows only its zombie, the child comes in the next listing. The
    clean-up must look again rather than stop there. (The snapshots are the real state of
    ``sleeper``, an orphan of the answer re-parented to the server, after a first one that
    has only the zombie: this process plays the server.)"""
    me, ghost = os.getpid(), 4_000_000  # above any pid_max: never a real process
    listings = 0

    def snapshot() -> dict[int, tuple[int, bytes]]:
        nonlocal listings
        listings += 1
        if listings == 1:
            return {ghost: (me, b"Z")}
        fields = client.proc_stat(sleeper.pid)
        return {} if fields is None else {sleeper.pid: (me, fields[0])}

    statuses: list[int] = []

    def reap() -> None:
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(sleeper.pid, os.WNOHANG)
            if pid:
                statuses.append(status)

    monkeypatch.setattr(client, "process_tree", snapshot)
    judge = client.JudgeClient(argparse.Namespace(), host_gone=lambda: None, reap=reap)
    monkeypatch.setattr(judge, "_spawn", lambda: None)  # no template here
    judge.clean_up(worker=-1)
    assert [os.WTERMSIG(status) for status in statuses] == [signal.SIGKILL]
    assert listings >= 3  # the zombie's snapshot, the one that found the orphan, a last one
