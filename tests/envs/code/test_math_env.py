"""PythonMath-v0 on real sandboxes: the turn loop, feedback modes, tools, oracle, TryAgain."""

from __future__ import annotations

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.code.math_env import PythonMathEnv
from mtenvs.envs.code.math_tasks import DIFFICULTIES, FAMILY_NAMES, eval_set
from mtenvs.envs.code.math_verify import verify
from mtenvs.error import InvalidArgumentError
from mtenvs.sandbox import LocalSandbox
from mtenvs.wrappers import TryAgain
from tests.sandbox._support import docker_engine  # noqa: F401  (fixture)

TASK = "math-easy-test-00000"  # arithmetic: an integer answer


def code(src: str) -> str:
    return f"Let me compute.\n```python\n{src}\n```"


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return str(request.param)


@pytest.fixture
def env(backend: str):
    env = PythonMathEnv(sandbox=backend, eval_set=True, timeout_s=3.0)
    env.reset(options={"task_id": TASK})
    yield env
    env.close()


def answer_of(env: PythonMathEnv) -> str:
    return str(env.privileged()["answer"])


def test_state_persists_across_code_turns_and_resets_between_episodes(env, backend):
    obs, _, _, _, info = env.step(code("import math\nx = 21"))
    assert info["turn_type"] == "code" and "without output" in obs
    obs, *_ = env.step(code("print('half', x)\nmath.sqrt(x * 2 * 2 * 21)"))
    assert "stdout:\nhalf 21" in obs and "value:\n42.0" in obs and "Turns left: 3." in obs
    assert env.sandbox.backend == backend
    env.reset(seed=1)
    obs, *_ = env.step(code("x"))
    assert "NameError" in obs


def test_errors_truncation_and_timeouts(env):
    obs, *_ = env.step(code("1/0"))
    assert "error:" in obs and "ZeroDivisionError" in obs
    obs, *_ = env.step(code("print('y' * 20000)"))
    assert "characters cut" in obs and "truncated" in obs and len(obs) < 6000
    env.timeout_s = 1.0
    obs, _, terminated, _, info = env.step(code("while True:\n    pass"))
    assert "time limit" in obs and not terminated and info["turn_type"] == "code"


def test_syntax_errors_are_cheap_and_stop_later_cells(env):
    obs, *_ = env.step("```python\nx = 1\n```\n```python\ndef f(:\n```\n```python\ny = 2\n```")
    assert "[cell 2 of 3]" in obs and "SyntaxError" in obs
    obs, *_ = env.step(code("print(x); y"))
    assert "NameError" in obs and "1" in obs


def test_no_sandbox_is_started_without_code(backend):
    env = PythonMathEnv(sandbox=backend)
    env.reset(seed=0)
    for reply in ("hello", "<answer>nonsense(</answer>", {"name": "x"}):
        env.step(reply)
        if not env.episode_active:
            env.reset()
    assert env._sandbox is None
    env.close()


def test_void_turn_is_a_format_error(env):
    obs, reward, terminated, truncated, info = env.step("I think the answer is 3.")
    assert info["turn_type"] == "void" and info["parse_error"]
    assert reward == pytest.approx(-0.1) and not (terminated or truncated)
    assert "Expected format" in obs and "<answer>" in obs
    assert env.step("<answer> </answer>")[4]["turn_type"] == "void"
    assert env.step("```python\n   \n```")[4]["turn_type"] == "void"


def test_correct_answer_and_answer_wins_over_code(env):
    obs, reward, terminated, _, info = env.step(
        code("raise SystemExit") + f"\n<answer>\\boxed{{{answer_of(env)}}}</answer>"
    )
    assert obs == "Correct!" and reward == 1.0 and terminated and info["success"]
    assert info["turn_type"] == "answer" and info["final_answer"] and info["code_cells"] == 0


def test_feedback_none_ends_on_a_wrong_answer(env):
    obs, reward, terminated, _, info = env.step("<answer>-123456</answer>")
    assert terminated and reward == 0.0 and not info["success"] and "incorrect" in obs


def test_feedback_unary_and_tests(backend):
    env = PythonMathEnv(sandbox=backend, eval_set=True, feedback="unary", max_turns=3)
    env.reset(options={"task_id": TASK})
    obs, _, terminated, _, info = env.step("<answer>-123456</answer>")
    assert obs.startswith("Let's try again.") and not terminated and info["final_answer"]
    env.feedback = "tests"
    obs, _, terminated, _, info = env.step("<answer>(1, 2)</answer>")
    assert "single number" in obs and not terminated and info["answers"] == 2
    # no turn left: a wrong answer ends the episode
    _, _, terminated, truncated, _ = env.step("<answer>-5</answer>")
    assert terminated and not truncated
    env.close()


def test_tool_calls(env):
    obs, *_, info = env.step({"name": "python", "arguments": {"code": "z = 6 * 7\nz"}})
    assert info["turn_type"] == "code" and "42" in obs
    reply = '<tool_call>{"name": "python", "arguments": {"code": "z + 1"}}</tool_call>'
    assert "43" in env.step(reply)[0]
    assert env.step({"name": "shell", "arguments": {"cmd": "ls"}})[4]["turn_type"] == "void"
    call = {
        "type": "function",
        "function": {"name": "submit", "arguments": f'{{"answer": "{answer_of(env)}"}}'},
    }
    assert env.step(call)[4]["success"]


def test_reset_info_has_tools_and_the_prompt(backend):
    env = PythonMathEnv(sandbox=backend, feedback="tests")
    _, info = env.reset(seed=0)
    assert [t["function"]["name"] for t in info["tools"]] == ["python", "submit"]
    assert "python" in info["system_prompt"] and info["max_turns"] == 5
    env.close()


def test_process_reward_is_partial_credit_on_sets():
    env = PythonMathEnv(
        sandbox="local", eval_set=True, feedback="tests", reward_mode="process", difficulty="easy"
    )
    task = next(t for t in eval_set("easy") if t.kind == "set" and t.answer.count(",") == 1)
    env.reset(options={"task_id": task.task_id})
    first = task.answer.strip("{}").split(",")[0]
    _, reward, terminated, _, _ = env.step(f"<answer>{{{first}, 1000}}</answer>")
    assert not terminated and reward == pytest.approx(0.5)
    _, reward, terminated, _, _ = env.step(f"<answer>{task.answer}</answer>")
    assert terminated and reward == pytest.approx(1.5)
    env.close()


def test_snapshot_restore_replays_the_cells(env):
    env.step(code("import random\nv = [1]"))
    snap = env.snapshot()
    env.step(code("v.append(2); v"))
    env.restore(snap)
    obs, *_ = env.step(code("v.append(3); v"))
    assert "[1, 3]" in obs


def test_close_stops_the_sandbox(backend):
    env = PythonMathEnv(sandbox=backend)
    env.reset(seed=0)
    env.step(code("1"))
    sandbox = env._sandbox
    env.close()
    assert env._sandbox is None and sandbox is not None
    assert getattr(sandbox, "closed", True)


def test_try_again_wrapper():
    env = TryAgain(gym.make("mtenvs/PythonMath-v0", sandbox="local", eval_set=True), max_attempts=2)
    env.reset(options={"task_id": TASK})
    obs, _, terminated, _, info = env.step("<answer>-123456</answer>")
    assert obs == "Let's try again." and not terminated and info["retried"]
    _, reward, terminated, _, info = env.step(f"<answer>{answer_of(env.unwrapped)}</answer>")
    assert terminated and info["success"] and reward == pytest.approx(0.5)
    env.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"feedback": "loud"},
        {"sandbox": "vm"},
        {"timeout_s": 0},
        {"eval_set": True, "split": "train"},
        {"difficulty": "x"},
    ],
)
def test_bad_arguments(bad):
    with pytest.raises(InvalidArgumentError):
        PythonMathEnv(**bad)


def test_reference_solutions_print_the_answers_for_every_eval_task():
    """The oracle's computation, run in one sandbox, gives each eval answer (100 %)."""
    with LocalSandbox() as sandbox:
        for difficulty in DIFFICULTIES:
            for task in eval_set(difficulty):
                result = sandbox.run(task.solution, timeout=30)
                assert result.ok, (task.task_id, result.error)
                printed = result.stdout.strip()
                assert verify(printed, task.answer, task.kind).correct, (task.task_id, printed)
                assert verify(task.answer, task.answer, task.kind).correct


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_oracle_solves_eval_tasks(difficulty):
    env = PythonMathEnv(sandbox="local", eval_set=True, difficulty=difficulty)
    seen = set()
    for task in eval_set(difficulty)[: len(FAMILY_NAMES)]:
        env.reset(options={"task_id": task.task_id})
        while True:
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            if terminated or truncated:
                break
        assert info["success"] and info["code_cells"] == 1, task.task_id
        seen.add(task.family)
    assert seen == set(FAMILY_NAMES)
    env.close()
