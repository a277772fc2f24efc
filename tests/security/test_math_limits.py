"""Checking a PythonMath answer is bounded in time and memory on the host.

Each attack is a short final answer that makes sympy work without end: ``(x+2)^2000*(x+3)^2000``
did not return in a minute and ``((x+1)^2000)^2000`` raised ``MemoryError`` out of
``env.step`` (issue 16). Played through the public API, every one is a wrong answer within a
few seconds and a few MiB of host memory, and the env goes on judging honest answers.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.code.math_checker import CHECK_MEMORY_MB, CHECK_TIMEOUT_S, MathChecker
from mtenvs.envs.code.math_env import PythonMathEnv
from mtenvs.envs.code.math_parse import (
    MAX_EXPANSION_TERMS,
    MAX_SUM_EXPONENT,
    expansion_terms,
    parse_expression,
)
from mtenvs.envs.code.math_verify import LIMIT_REASONS, verify

pytestmark = pytest.mark.xdist_group("security")

TASK = "math-easy-test-00004"  # an `expr` task: x**2 - x - 72
EXPECTED = "x**2 - x - 72"
#: Wall-clock seconds one step may take (the checker's limit, its start and slack).
STEP_LIMIT_S = 10.0
#: MiB the host's peak RSS may grow by during one step.
RSS_LIMIT_MB = 100

ATTACKS = {
    # From the issue: refused by the parser's cheap size bounds.
    "slow_product": "(x+2)^2000*(x+3)^2000",
    "memory_power": "((x+1)^2000)^2000",
    "power_of_a_big_sum": "(x+10^59)^2000",
    # Within every parse bound, still ~10 s of sympy: only the checker's limits stop it.
    "within_the_parse_bounds": "(x^100+1)^50*(x^99+2)^50",
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _answer(text: str) -> str:
    return f"I worked it out.\n<answer>{text}</answer>"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie waiting for a reaper has stopped running


@pytest.fixture
def env():
    env = gym.make("mtenvs/PythonMath-v0", eval_set=True, feedback="unary", max_turns=5)
    yield env
    env.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_a_wrong_answer_bounded_in_time_and_memory(env, name):
    env.reset(options={"task_id": TASK})
    rss_before, start = _peak_rss_mb(), time.monotonic()
    obs, reward, terminated, truncated, info = env.step(_answer(ATTACKS[name]))
    took, grew = time.monotonic() - start, _peak_rss_mb() - rss_before
    assert took < STEP_LIMIT_S, f"{name}: the step took {took:.1f} s"
    assert grew < RSS_LIMIT_MB, f"{name}: the host's peak RSS grew by {grew:.0f} MiB"
    assert reward == 0.0 and info["reward_components"]["outcome"] == 0.0
    assert not info["success"] and not terminated and not truncated
    assert info["final_answer"] and info["answer_verdict"] != "correct"
    if info["answer_verdict"] in LIMIT_REASONS:
        assert f"{CHECK_TIMEOUT_S:g} s" in obs and f"{CHECK_MEMORY_MB} MiB" in obs, obs
        assert "could not be checked" in obs and "Turns left: 4." in obs
    if name == "within_the_parse_bounds":
        assert info["answer_verdict"] in LIMIT_REASONS, obs
    # The same episode goes on and judges the right answer right, and so does the next one.
    _, reward, terminated, _, info = env.step(_answer("(x - 9)(x + 8)"))
    assert info["success"] and terminated and reward == 1.0
    env.reset(options={"task_id": TASK})
    assert env.step(_answer(EXPECTED))[4]["success"]


@pytest.mark.timeout(120)
def test_a_checker_that_gives_up_ends_a_feedback_none_episode_with_the_reason():
    env = PythonMathEnv(eval_set=True)  # feedback="none": one answer
    env.reset(options={"task_id": TASK})
    obs, reward, terminated, _, info = env.step(_answer(ATTACKS["within_the_parse_bounds"]))
    assert terminated and reward == 0.0 and info["answer_verdict"] in LIMIT_REASONS
    assert obs.startswith("Your answer is incorrect. Your answer could not be checked")
    assert "Turns left" not in obs
    env.reset(options={"task_id": TASK})
    assert env.step(_answer(EXPECTED))[4]["success"]
    pid = env._checker.pid
    assert pid is not None and not _gone(pid)
    env.close()
    assert _gone(pid), "close() must stop the checker process"


@pytest.mark.timeout(120)
def test_the_memory_limit_is_a_wrong_answer_and_the_next_check_works():
    probe = MathChecker()
    probe.check("1", "1", "number")
    assert probe.pid is not None
    status = Path(f"/proc/{probe.pid}/status").read_text()
    base_kb = next(line for line in status.splitlines() if line.startswith("VmSize")).split()[1]
    base_mb = int(base_kb)
    probe.close()
    # 32 MiB above what the checker maps idle; this answer needs ~130 MiB more (and ~1 min).
    memory_mb = base_mb // 1024 + 32
    checker = MathChecker(timeout_s=60.0, memory_mb=memory_mb)
    try:
        verdict = checker.check("(x^100+10^59)^100*(x^99+3*10^59)^48", EXPECTED, "expr")
        assert verdict.reason == "memory_limit" and not verdict.correct and verdict.score == 0
        assert f"{memory_mb} MiB" in verdict.message
        assert checker.check("x^2 - x - 72", EXPECTED, "expr").correct
    finally:
        checker.close()


def test_verdicts_are_deterministic_and_checks_are_cheap():
    checker = MathChecker()
    try:
        answers = ["(x-9)(x+8)", "x^2 - x + 72", "(x+2)^2000*(x+3)^2000", "nonsense(", "x**2-x-72"]
        first = [checker.check(a, EXPECTED, "expr") for a in answers]
        start = time.monotonic()
        again = [checker.check(a, EXPECTED, "expr") for a in answers]
        assert first == again
        assert [v.correct for v in first] == [True, False, False, False, True]
        assert time.monotonic() - start < 1.0  # a pipe round trip each, not a process start
    finally:
        checker.close()


@pytest.mark.timeout(120)
def test_envs_in_threads_check_in_parallel():
    envs = [PythonMathEnv(eval_set=True, feedback="unary") for _ in range(4)]
    results: dict[int, tuple[str | None, bool]] = {}

    def play(i: int) -> None:
        envs[i].reset(options={"task_id": TASK})
        attack = ATTACKS["within_the_parse_bounds"] if i % 2 else ATTACKS["slow_product"]
        verdict = envs[i].step(_answer(attack))[4]["answer_verdict"]
        results[i] = (verdict, envs[i].step(_answer(EXPECTED))[4]["success"])

    start = time.monotonic()
    threads = [threading.Thread(target=play, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - start
    pids = [env._checker.pid for env in envs]
    for env in envs:
        env.close()
    assert all(results[i][1] for i in range(4)), results
    assert all(results[i][0] in LIMIT_REASONS for i in (1, 3)), results
    assert took < 2 * STEP_LIMIT_S  # one env's slow check does not wait for another's
    assert len(set(pids)) == 4 and all(_gone(pid) for pid in pids if pid is not None)


@pytest.mark.timeout(120)
def test_async_vector_env_checks_answers_in_its_workers():
    envs = gym.make_vec(
        "mtenvs/PythonMath-v0",
        num_envs=2,
        vectorization_mode="async",
        eval_set=True,
        feedback="unary",
    )
    try:
        envs.reset(seed=4, options={"task_id": TASK})
        replies = (_answer(ATTACKS["within_the_parse_bounds"]), _answer("x^2 + 1"))
        start = time.monotonic()
        _, rewards, terminated, _, info = envs.step(replies)
        assert time.monotonic() - start < STEP_LIMIT_S
        assert list(rewards) == [0.0, 0.0] and not terminated.any()
        assert info["answer_verdict"][0] in LIMIT_REASONS and info["answer_verdict"][1] == "wrong"
        _, rewards, terminated, _, info = envs.step((_answer(EXPECTED), _answer(EXPECTED)))
        assert list(rewards) == [1.0, 1.0] and terminated.all()
    finally:
        envs.close()


@pytest.mark.timeout(120)
def test_the_checker_dies_with_its_host(tmp_path):
    """No orphan: SIGKILL the host in the middle of a long check; the checker exits too."""
    script = tmp_path / "host.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from mtenvs.envs.code.math_checker import MathChecker
            checker = MathChecker(timeout_s=60.0)
            checker.check("1", "1", "number")
            print(checker.pid, flush=True)
            checker.check({ATTACKS["within_the_parse_bounds"]!r}, {EXPECTED!r}, "expr")
            """
        )
    )
    host = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert host.stdout is not None
    pid = int(host.stdout.readline())
    time.sleep(0.5)  # the checker is busy with the slow answer now
    assert not _gone(pid)
    host.kill()
    host.wait()
    deadline = time.monotonic() + 5.0
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the checker outlived its host"


def test_absurd_answers_are_refused_before_any_expansion():
    """The parser's cheap bounds (a first filter; the checker's limits are the guarantee)."""
    for answer in ("(x+2)^2000*(x+3)^2000", "((x+1)^2000)^2000", "(x+10^59)^2000", "(1+x+x^2)^101"):
        start = time.monotonic()
        verdict = verify(answer, EXPECTED, "expr")
        assert verdict.reason == "unparseable" and "too large" in verdict.message, answer
        assert time.monotonic() - start < 0.5
    assert expansion_terms(parse_expression("(x+2)^50*(x+3)^50")) == 51 * 51
    assert expansion_terms(parse_expression("(a+b+c)^3")) == 10
    for answer, correct in (("(x-9)(x+8)", True), ("(x+1)^100 - (x+1)^100 + 1", False)):
        assert verify(answer, EXPECTED, "expr").correct is correct


def test_the_documented_limits_are_the_code_s():
    doc = PythonMathEnv.__doc__ or ""
    assert f"limited to {CHECK_TIMEOUT_S:g} s of wall clock per" in doc
    assert f"check and {CHECK_MEMORY_MB} MiB of address space" in doc
    assert f"a power of a sum above {MAX_SUM_EXPONENT}" in doc
    assert f"more than {MAX_EXPANSION_TERMS} terms" in doc


@pytest.mark.timeout(120)
def test_a_forked_copy_leaves_the_parent_s_checker_alone(tmp_path):
    """A forked worker that drops (or uses) its copy of an env's checker never stops the
    parent's process: the copy starts its own."""
    script = tmp_path / "fork.py"
    script.write_text(
        textwrap.dedent(
            """
            import gc, os, sys
            from mtenvs.envs.code.math_checker import MathChecker
            checker = MathChecker()
            assert checker.check("1", "1", "number").correct
            parent_pid = checker.pid
            for use_it in (False, True):
                child = os.fork()
                if child == 0:
                    if use_it:
                        ok = checker.check("2", "2", "number").correct
                        ok = ok and checker.pid not in (None, parent_pid)
                    else:
                        ok = checker.pid is None
                    del checker
                    gc.collect()
                    sys.stdout.flush()
                    os._exit(0 if ok else 1)
                assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
                assert checker.check("3", "3", "number").correct
                assert checker.pid == parent_pid, "the parent's checker was stopped"
            checker.close()
            print("ok")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
