"""PythonCode-v0 on real sandboxes: oracle, feedback modes, process reward, arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.code.code_env import PythonCodeEnv
from mtenvs.error import InvalidArgumentError
from tests.sandbox._support import docker_engine  # noqa: F401  (fixture)

TASK = "code-two_sum"  # a train problem
WRONG = "<answer>\ndef two_sum(nums, target):\n    return [0, 1]\n</answer>"


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return str(request.param)


def test_oracle_scores_100_percent_on_the_eval_set():
    env = PythonCodeEnv(sandbox="local", eval_set=True)
    solved = []
    for seed in range(len(env._eval)):
        env.reset(seed=seed)
        _, reward, terminated, _, info = env.step(env.oracle_action())
        solved.append(info["success"] and terminated and reward == 1.0)
        assert info["tests_passed"] == info["tests_total"]
    env.close()
    assert all(solved) and len(solved) >= 40


def test_random_agent_scores_low():
    env = PythonCodeEnv(sandbox="local", eval_set=True)
    rng = np.random.default_rng(0)
    wins = 0
    for seed in range(10):
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(env.random_action(rng))
            if terminated or truncated:
                break
        wins += info["success"]
    env.close()
    assert wins == 0


def test_code_turn_then_answer(backend):
    env = PythonCodeEnv(sandbox=backend, timeout_s=5.0)
    obs, info = env.reset(options={"task_id": TASK})
    assert "def two_sum(" in obs and "hidden unit tests" in obs and info["task_id"] == TASK
    obs, _, _, _, info = env.step("```python\nprint(sum([2, 7]))\n```")
    assert "9" in obs and info["turn_type"] == "code"
    obs, reward, terminated, _, info = env.step(env.oracle_action())
    assert obs == "Correct!" and reward == 1.0 and terminated and info["success"]
    env.close()


def test_the_agent_interpreter_cannot_see_the_verifier(backend):
    env = PythonCodeEnv(sandbox=backend, timeout_s=5.0, feedback="tests")
    env.reset(options={"task_id": TASK})
    env.step("```python\nleak = 'agent state'\n```")
    obs, *_ = env.step("<answer>\ndef two_sum(nums, target):\n    return leak\n</answer>")
    assert "NameError" in obs  # the verifier is a fresh interpreter of its own
    assert "__mtenvs_verify__" not in str(env.sandbox.run("dir()").value)
    env.close()


def test_feedback_modes():
    env = PythonCodeEnv(sandbox="local", feedback="tests", reward_mode="process")
    env.reset(options={"task_id": TASK})
    obs, reward, terminated, _, info = env.step(WRONG)
    assert not terminated and info["final_answer"]
    assert obs.startswith("Your answer is incorrect. 2 of 6 hidden tests passed.")
    assert "Failed: two_sum([3, 2, 4], 6): expected [1, 2], got [0, 1]" in obs
    assert reward == pytest.approx(2 / 6) and info["tests_passed"] == 2
    _, reward, terminated, _, info = env.step(env.oracle_action())
    assert terminated and info["success"] and reward == pytest.approx(1 + 4 / 6)
    env.close()
    env = PythonCodeEnv(sandbox="local", feedback="unary")
    env.reset(options={"task_id": TASK})
    obs, *_ = env.step(WRONG)
    assert obs.startswith("Let's try again.") and "expected" not in obs
    env.close()
    env = PythonCodeEnv(sandbox="local")
    env.reset(options={"task_id": TASK})
    obs, _, terminated, *_ = env.step(WRONG)
    assert obs == "Your answer is incorrect." and terminated
    env.close()


def test_garbage_answers_are_judged_on_the_host():
    env = PythonCodeEnv(sandbox="local", feedback="tests")
    env.reset(options={"task_id": TASK})
    obs, *_ = env.step("<answer>42</answer>")
    assert "does not define the function `two_sum`" in obs and env._verifier is None
    obs, *_ = env.step("<answer>def two_sum(:</answer>")
    assert "syntax error" in obs and env._verifier is None
    env.close()


def test_submit_tool_and_fenced_answer():
    env = PythonCodeEnv(sandbox="local")
    env.reset(options={"task_id": TASK})
    solution = env.privileged()["solution"]
    _, reward, *_ = env.step({"name": "submit", "arguments": {"answer": solution}})
    assert reward == 1.0
    env.close()


def test_arguments_and_splits():
    with pytest.raises(InvalidArgumentError, match="category"):
        PythonCodeEnv(category="poetry")
    with pytest.raises(InvalidArgumentError, match="split='test'"):
        PythonCodeEnv(eval_set=True, split="train")
    with pytest.raises(InvalidArgumentError, match="variants"):
        PythonCodeEnv(variants="yes")  # type: ignore[arg-type]
    env = PythonCodeEnv(category="graphs", variants=False, split="test")
    ids = {env.reset(seed=s)[1]["task_id"] for s in range(20)}
    assert ids <= {t.task_id for t in env._authored if t.category == "graphs"}
    assert len(ids) > 1
    with pytest.raises(InvalidArgumentError, match="split='train'"):
        env.reset(options={"task_id": TASK})
    env = PythonCodeEnv()
    kinds = {env.reset(seed=s)[1]["task_id"].startswith("code-var-") for s in range(20)}
    assert kinds == {True, False}
    env = gym.make("mtenvs/PythonCode-v0", eval_set=True)
    first = env.reset(seed=3)[1]["task_id"]
    assert env.reset(seed=3)[1]["task_id"] == first
