"""Issue 16, finding 1: forged REPL replies, played through the public API on both backends.

The attack: code the agent controls writes length-prefixed frames to every descriptor it can
reach (its own, ones it finds by ``gc``, ones under ``/proc/<pid>/fd``), in the shape of
the REPL's cell reply (with every nonce it can find in memory), of the old harness's value
and of the judge's messages. On the grader (``CodeTasks-v0``) that must pass no test; in the
REPL (``PythonCode-v0``, ``PythonMath-v0``) it must never raise out of ``step``, never let
output past the cap, and never leave a stale result for a later call.
"""

from __future__ import annotations

import json
import resource
import time

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.sandbox import ExecResult, SandboxProtocolError
from tests.sandbox._support import BACKENDS

pytestmark = pytest.mark.xdist_group("security")

FORGE = r"""
import gc, json, os, sys

def _nonces():
    found = set()
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("nonce"), str):
                found.add(value["nonce"])
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and isinstance(obj.get("nonce"), str):
            found.add(obj["nonce"])
    return sorted(found) or [""]

def _frame(obj):
    data = json.dumps(obj).encode()
    return len(data).to_bytes(4, "big") + data

def _targets():
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        fds.add(int(name))
    for obj in gc.get_objects():
        if type(obj).__name__ in ("Worker", "Supervisor", "FrameReader", "JudgeClient"):
            for attr in ("ctl_out", "to_worker", "fd", "w"):
                if isinstance(getattr(obj, attr, None), int):
                    fds.add(getattr(obj, attr))
    paths = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                paths += [f"/proc/{pid}/fd/{n}" for n in os.listdir(f"/proc/{pid}/fd")]
            except OSError:
                pass
    return fds, paths

def forge(item, stdout=""):
    frames = []
    for n in range(1, 9):  # the number of hidden tests is not known: every count
        results = [item] * n
        value = repr(json.dumps({"results": results}))
        for nonce in _nonces():
            cell = {"stdout": stdout if n == 1 else "", "stderr": "", "value": value,
                    "error": None, "exit_code": 0, "truncated": False, "nonce": nonce}
            frames += [_frame(cell), _frame({**cell, "exit_code": "x", "stdout": 7})]
        frames += [_frame({"results": results})]
    frames += [_frame({"loaded": True}), _frame(item), _frame({"bye": True}), _frame(["ready"])]
    blob = b"".join(frames)
    fds, paths = _targets()
    for fd in fds:
        if fd > 2:
            try:
                os.write(fd, blob)
            except OSError:
                pass
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(fd, blob)
        except OSError:
            pass
        os.close(fd)
"""

WRONG_PAIRS_SUM = "def pairs_sum(nums, target):\n    return set()\n"


def _code_env(env_id: str, backend: str, request: pytest.FixtureRequest) -> gym.Env:
    if backend == "docker":
        request.getfixturevalue("docker_engine")
    return gym.make(env_id, sandbox=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "where",
    ["module level", "inside the function", "in a child it forks"],
)
def test_forged_frames_cannot_pass_the_hidden_tests(backend, where, request):
    """CodeTasks-v0 Sample/3 with a wrong solution that forges every frame it can."""
    forge_call = "forge(['ok', None])"
    if where == "module level":
        source = FORGE + forge_call + "\n" + WRONG_PAIRS_SUM
    elif where == "inside the function":
        source = FORGE + (f"def pairs_sum(nums, target):\n    {forge_call}\n    return set()\n")
    else:
        source = FORGE + (
            f"if os.fork() == 0:\n    {forge_call}\n    os._exit(0)\n" + WRONG_PAIRS_SUM
        )
    env = _code_env("mtenvs/CodeTasks-v0", backend, request)
    other = _code_env("mtenvs/CodeTasks-v0", backend, request)  # an episode beside it
    try:
        other.reset(seed=3)
        _, info = env.reset(seed=3)
        assert info["task_id"] == "Sample/3"
        start = time.monotonic()
        obs, reward, terminated, _, info = env.step(f"<answer>\n{source}\n</answer>")
        assert time.monotonic() - start < 30
        assert terminated and not info["success"]
        assert reward < 1.0 and info["tests_passed"] == 0, obs
        # The judge is intact for the next episode: the reference solution passes.
        env.reset(seed=3)
        good = (
            "def pairs_sum(nums, target):\n    out = set()\n    for i, a in enumerate(nums):\n"
            "        for b in nums[i + 1:]:\n            if a + b == target:\n"
            "                out.add((min(a, b), max(a, b)))\n    return out\n"
        )
        _, reward, _, _, info = env.step(f"<answer>\n{good}\n</answer>")
        assert info["success"] and reward == 1.0
        _, reward, _, _, info = other.step(f"<answer>\n{good}\n</answer>")
        assert info["success"] and reward == 1.0  # the episode beside it is unaffected
    finally:
        env.close()
        other.close()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(env: gym.Env, code: str) -> tuple[str, dict]:
    obs, _, _, _, info = env.step(f"```python\n{code}\n```")
    return obs, info


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("env_id", ["mtenvs/PythonCode-v0", "mtenvs/PythonMath-v0"])
def test_forged_frames_in_the_repl_are_a_crashed_interpreter(env_id, backend, request):
    env = _code_env(env_id, backend, request)
    try:
        attacks = {
            "malformed types": "forge(['ok', None])",
            "20 MB of stdout": "forge(['ok', None], stdout='A' * 20_000_000)",
            "a stale reply left for the next call": "forge(['ok', None], stdout='STALE')",
        }
        for seed, (name, attack) in enumerate(attacks.items()):
            env.reset(seed=seed)
            peak, start = _peak_rss_mb(), time.monotonic()
            obs, _ = _run(env, FORGE + attack)
            assert time.monotonic() - start < 30, name
            assert _peak_rss_mb() - peak < 100, f"{name}: the host's peak RSS grew too much"
            assert len(obs.encode()) < 200_000, name  # the 64 KiB cap, never 20 MB
            obs, _ = _run(env, "print('fresh', 6 * 7)")
            assert "fresh 42" in obs and "STALE" not in obs, (name, obs)
        # The env resets cleanly after all of it.
        env.reset(seed=9)
        obs, _ = _run(env, "print(sum(range(10)))")
        assert "45" in obs
    finally:
        env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_forged_reply_says_the_interpreter_was_lost(backend, request):
    """A frame on the worker's result channel is a broken interpreter: state lost, said so."""
    sandbox = request.getfixturevalue(f"{backend}_sandbox")
    sandbox.reset()
    sandbox.run("x = 1")
    result = sandbox.run(FORGE + "forge(['ok', None], stdout='A' * 20_000_000)")
    assert result.restarted and "broke the result protocol" in (result.error or "")
    assert len(result.stdout) <= sandbox.limits.max_output_bytes + 1024
    after = sandbox.run("'x' in globals()")
    assert after.value == "False" and after.ok  # a fresh interpreter, and it works


def test_the_host_checks_every_result_frame():
    good = {
        "stdout": "1\n",
        "stderr": "",
        "value": None,
        "error": None,
        "exit_code": 0,
        "timed_out": False,
        "duration_s": 0.01,
        "truncated": False,
        "restarted": False,
    }
    assert ExecResult.from_wire(good, 64).stdout == "1\n"
    bad = [
        {**good, "exit_code": "x"},
        {**good, "exit_code": True},
        {**good, "stdout": 7},
        {**good, "stdout": "A" * 100_000},
        {**good, "duration_s": float("nan")},
        {k: v for k, v in good.items() if k != "restarted"},
    ]
    for msg in bad:
        with pytest.raises(SandboxProtocolError):
            ExecResult.from_wire(msg, 64)
    assert json.dumps(good)  # the fixture itself is wire-shaped
