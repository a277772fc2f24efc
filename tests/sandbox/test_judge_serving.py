"""When the REPL server takes a spare judge for an answer (sandboxes/runtime/judge_client.py).

A spare is used only if it can serve: alive, sleeping or running, the child it must be, and
no signal waiting for it. The last point matters under load: a spare that an earlier answer
(same uid) sent ``SIGSTOP`` shows as running until it is next scheduled, and a judge taken
then stops under the next answer, whose tests time out (a CI run saw this once). These
tests check the checks on real processes.
"""

from __future__ import annotations

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
