"""Checking untrusted math answers in a process bounded in time and memory.

:func:`~mtenvs.envs.code.math_verify.verify` runs sympy on the agent's text, and sympy can be
made to work without end on short answers: ``(x+10^59)^2000`` passes every parse-time bound
and takes ~25 s to expand, ``((x+1)^2000)^2000`` fills any amount of memory. The parser's
bounds (:mod:`~mtenvs.envs.code.math_parse`) refuse the crude cases cheaply, but the
guarantee is this module: a :class:`MathChecker` runs :func:`verify` in a child Python
process that

* is limited to :data:`CHECK_MEMORY_MB` MiB of address space (``RLIMIT_AS``, so a runaway
  allocation is a ``MemoryError`` or a dead child, never host memory),
* gets :data:`CHECK_TIMEOUT_S` seconds of wall clock per check, after which the host kills
  it (``RLIMIT_CPU`` is a second, per-check backstop inside the child),
* is started lazily on the first check, reused for the next ones (a check costs a pipe round
  trip, ~0.1 ms), and replaced after a check that hit a limit, so the next check works,
* leaves no orphan: it exits when its stdin closes (``close``, garbage collection or the host
  exiting) and a watchdog thread exits it within 0.2 s of its parent
  dying, even in the middle of a check (:mod:`mtenvs.sandbox.json_worker`).

A check that gives up is a :class:`~mtenvs.envs.code.math_verify.Verdict` with ``reason``
``time_limit`` or ``memory_limit``: a wrong answer with a message naming the limits, never
an exception. One checker serves one caller at a time (a lock; each env has its own); after
``fork`` the child process starts its own checker instead of sharing the parent's pipe. It
is a plain subprocess, not ``multiprocessing``, so it also works inside daemonic
``AsyncVectorEnv`` workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from typing import Any, Final

from mtenvs.envs.code.math_verify import Verdict, verify
from mtenvs.error import Error
from mtenvs.sandbox.json_worker import (
    JsonWorker,
    WorkerDied,
    child_channel,
    exit_with_parent,
    limit_address_space,
)

__all__ = [
    "CHECK_MEMORY_MB",
    "CHECK_TIMEOUT_S",
    "MathChecker",
    "MathCheckerError",
    "limit_verdict",
]

#: Wall-clock seconds one answer check may take.
CHECK_TIMEOUT_S: Final = 5.0
#: Address space of the checker process in MiB (sympy itself takes ~190 MiB of it).
CHECK_MEMORY_MB: Final = 1024
#: Seconds a new checker process may take to import sympy and say it is ready.
START_TIMEOUT_S: Final = 60.0
#: Longest reply line read from the checker (a verdict is a few hundred bytes).
_MAX_REPLY_BYTES: Final = 1 << 16

_CHILD_CODE = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from mtenvs.envs.code.math_checker import _child_main; "
    "_child_main(float(sys.argv[2]), int(sys.argv[3]))"
)


class MathCheckerError(Error, RuntimeError):
    """The checker process cannot be started (the message says why and how to check)."""


def limit_verdict(limit: str, timeout_s: float, memory_mb: int) -> Verdict:
    """The verdict of a check that gave up: a wrong answer naming the limits."""
    what = "ran out of time" if limit == "time" else "ran out of memory"
    return Verdict(
        False,
        0.0,
        "time_limit" if limit == "time" else "memory_limit",
        f"Your answer could not be checked within the checker's limits ({timeout_s:g} s, "
        f"{memory_mb} MiB of memory): checking it {what}. It counts as wrong; write the "
        "answer in a simpler form.",
    )


class MathChecker:
    """Runs :func:`~mtenvs.envs.code.math_verify.verify` in a limited child process.

    Arguments:
        timeout_s: wall-clock seconds per check.
        memory_mb: address space of the checker process (MiB).
    """

    def __init__(
        self, *, timeout_s: float = CHECK_TIMEOUT_S, memory_mb: int = CHECK_MEMORY_MB
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self._lock = threading.Lock()
        env = {
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        args = [json.dumps(sys.path), repr(self.timeout_s), str(self.memory_mb)]
        self._worker = JsonWorker(
            ["-c", _CHILD_CODE, *args],
            name="the math answer checker",
            error=MathCheckerError,
            hint=f'`{sys.executable} -c "import mtenvs.envs.code.math_verify"`',
            start_timeout_s=START_TIMEOUT_S,
            env=env,
            max_line_bytes=_MAX_REPLY_BYTES,
        )

    def __getstate__(self) -> dict[str, Any]:
        # A copy gets its own (lazily started) process, never this one's pipe.
        return {"timeout_s": self.timeout_s, "memory_mb": self.memory_mb}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def pid(self) -> int | None:
        """Pid of the checker process while one runs (tests use it)."""
        return self._worker.pid

    def check(self, answer: str, expected: str, kind: str) -> Verdict:
        """``verify(answer, expected, kind)``, bounded; a limit hit gives a wrong verdict.

        Raises :class:`MathCheckerError` only when no checker process can be started at all.
        """
        if not isinstance(answer, str):
            return verify(answer, expected, kind)  # refused before any sympy work
        request = {"answer": answer, "expected": expected, "kind": kind}
        with self._lock:
            try:
                reply = self._worker.call(request, self.timeout_s)
            except TimeoutError:
                return limit_verdict("time", self.timeout_s, self.memory_mb)
            except WorkerDied as e:
                if not e.sent:
                    raise MathCheckerError(
                        "The math answer checker closed its input right after starting."
                    ) from None
                # A death after it got the request is the answer's doing. SIGXCPU: the
                # per-check CPU backstop; anything else (SIGABRT, SIGSEGV, the OOM killer)
                # is an allocation that failed below Python.
                limit = "time" if e.returncode == -signal.SIGXCPU else "memory"
                return limit_verdict(limit, self.timeout_s, self.memory_mb)
            return self._verdict(reply)

    def close(self) -> None:
        """Stop the checker process (a later check starts a new one)."""
        with self._lock:
            self._worker.stop()

    # ------------------------------------------------------------------ process

    def _verdict(self, reply: dict[str, Any]) -> Verdict:
        limit = reply.get("limit")
        if limit is not None:
            self._worker.stop()  # the child exits after a MemoryError; start afresh
            return limit_verdict(str(limit), self.timeout_s, self.memory_mb)
        return Verdict(
            bool(reply["correct"]),
            float(reply["score"]),
            reply["reason"],
            str(reply["message"]),
        )


# ---------------------------------------------------------------------- child side


def _child_main(timeout_s: float, memory_mb: int) -> None:
    """The checker process: JSON requests on stdin, JSON verdicts on stdout, one a line."""
    import resource

    out = child_channel()
    exit_with_parent()
    limit_address_space(memory_mb * 1024 * 1024)
    cpu_per_check = int(timeout_s) + 2
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    out.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + cpu_per_check
        if cpu_hard == resource.RLIM_INFINITY or soft < cpu_hard:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        try:
            request = json.loads(line)
            verdict = verify(request["answer"], request["expected"], request["kind"])
            reply: dict[str, Any] = {
                "correct": verdict.correct,
                "score": verdict.score,
                "reason": verdict.reason,
                "message": verdict.message,
            }
        except MemoryError:
            with contextlib.suppress(Exception):
                out.write(b'{"limit": "memory"}\n')
            os._exit(0)  # the heap may be in a poor state: the host starts a fresh checker
        except Exception:  # verify never raises; a bug must not kill the checker
            reply = {
                "correct": False,
                "score": 0.0,
                "reason": "unparseable",
                "message": "Your answer could not be evaluated.",
            }
        out.write(json.dumps(reply).encode() + b"\n")
    os._exit(0)
