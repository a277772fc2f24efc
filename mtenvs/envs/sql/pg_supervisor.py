"""The parent of a local PostgreSQL server (``postgres_backend="local"``): the server goes
when the process that started it does.

:mod:`mtenvs.envs.sql.pg_server` runs ``python -I pg_supervisor.py CONFIG`` in a session of
its own, with a pipe on stdin that only the owner holds. This process starts ``postgres``
as its child and waits; end of file on stdin (the owner closed it, exited, or was killed,
SIGKILL included) or SIGTERM stops the server (SIGQUIT: an immediate shutdown, the data is
throwaway) and removes the cluster's directory. The server runs with
``PR_SET_PDEATHSIG``, so it also goes if this supervisor is killed (the directory then goes
with the next local server anyone starts, :mod:`mtenvs.sandbox.owned_dirs`).

Standard library only, and no import of ``mtenvs``: it starts in a few milliseconds.
``CONFIG`` is JSON: ``root`` (removed at the end), ``argv`` (the server's command line),
``user`` (run the server as this user; ``null`` keeps ours), ``log`` (its output).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1
#: Seconds the server gets to exit after SIGQUIT before SIGKILL.
_STOP_TIMEOUT_S = 10.0


def _die_with(parent: int) -> None:
    """In the server's process, before exec: SIGQUIT when ``parent`` (this supervisor)
    dies. Runs after the switch to the server's user, which would clear the setting."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux only
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the line above
        os._exit(1)


def _stop(*_: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the owner's
    signal.signal(signal.SIGTERM, _stop)
    parent = os.getpid()
    user = config.get("user")
    identity: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
    server = None
    try:
        with open(config["log"], "ab") as log:
            server = subprocess.Popen(
                config["argv"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: _die_with(parent),
                **identity,
            )
        owner = sys.stdin.fileno()
        while server.poll() is None:
            ready, _, _ = select.select([owner], [], [], 0.5)
            if ready and not os.read(owner, 4096):
                break
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGQUIT)
            try:
                server.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(config["root"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
