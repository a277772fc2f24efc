"""RuleInduction-v0: the safe rule parser, equivalence checks, splits, the env and TryAgain."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.puzzles import rule_induction_tasks as tasks
from mtenvs.envs.puzzles.rule_expr import RuleSyntaxError, parse_rule
from mtenvs.envs.puzzles.rule_induction import RuleInductionEnv
from mtenvs.error import InvalidArgumentError
from mtenvs.wrappers import TryAgain


@pytest.mark.parametrize(
    ("rule", "triple", "expected"),
    [
        ("a < b < c", (1, 2, 3), True),
        ("a < b < c", (1, 3, 2), False),
        ("not a == b or c > 5 and c < 3", (1, 1, 4), False),  # and binds tighter than or
        ("-3 % 2 == 1", (0, 0, 0), True),  # remainders are never negative
        ("a % 2 == 1", (-3, 0, 0), True),
        ("(a + b) * 2 >= c - -1", (1, 1, 5), False),
        ("a = b && b <> c || !true", (2, 2, 3), True),
        ("a mod 3 == 0 and b ≤ 4", (6, 4, 0), True),
    ],
)
def test_parser_semantics(rule, triple, expected):
    assert parse_rule(rule).holds(*triple) is expected


@pytest.mark.parametrize(
    "rule",
    [
        "__import__('os').system('ls')",
        "a.real > 0",
        "lambda: 1",
        "a + ",
        "(a < b",
        "a and b",
        "a % b == 0",
        "a % 0 == 0",
        "a * a * a * a * a * a > 1",
        "a < b " * 200,
        "a > 99999",
        "",
        "a",
        "a < true",
    ],
)
def test_parser_rejects_what_is_not_in_the_language(rule):
    with pytest.raises(RuleSyntaxError):
        parse_rule(rule)


def test_equivalence_accepts_rewrites_and_catches_boundaries():
    same, _ = tasks.equivalent(parse_rule("a < b and b < c"), parse_rule("b > a and c > b"))
    assert same
    assert tasks.equivalent(parse_rule("a + b + c > 10"), parse_rule("a + b + c >= 11"))[0]
    same, witness = tasks.equivalent(parse_rule("a + b + c > 10"), parse_rule("a + b + c >= 10"))
    assert not same and sum(witness) == 10
    same, witness = tasks.equivalent(parse_rule("a < 500"), parse_rule("a < 501"))
    assert not same and witness[0] == 500


def test_splits_are_disjoint_and_the_eval_set_is_test_rules():
    train = {t.rule for t in tasks.tasks("train")}
    test = {t.rule for t in tasks.tasks("test")}
    assert train and test and not train & test
    shipped = tasks.eval_set()
    assert len(shipped) == tasks.EVAL_SET_SIZE
    for task in shipped:
        assert task.rule in test and task.expr.holds(*task.example)
        assert tasks.task_by_id(task.task_id).example == task.example


def test_tests_guesses_and_info():
    env = RuleInductionEnv(reward_mode="process")
    obs, info = env.reset(options={"task_id": "rule-sum_gt-12"})
    assert info["task_id"] == "rule-sum_gt-12" and "fits" in obs
    obs, reward, terminated, _, info = env.step("<action>test 1 2 3</action>")
    assert "(1, 2, 3): False" in obs and not terminated
    assert info["last_test"] == [1, 2, 3, False] and info["num_tests"] == 1
    assert reward == info["reward_components"]["process"] >= 0
    _, reward, *_ = env.step("(1, 2, 3)")  # the same test again teaches nothing
    assert reward == 0.0
    _, reward, terminated, _, info = env.step("<answer>a + b + c >= 13</answer>")
    assert terminated and info["success"] and info["final_answer"] and reward == 1.0
    assert info["guess"] == "a + b + c >= 13"


def test_malformed_replies_are_format_errors_not_guesses():
    env = RuleInductionEnv()
    env.reset(seed=0)
    for reply in ["<answer>import os</answer>", "<action>test 1 2 3000</action>", "hmm", ""]:
        _, reward, terminated, _, info = env.step(reply)
        assert info["parse_error"] and not info["final_answer"] and not terminated
        assert reward == pytest.approx(-0.1)


def test_try_again_gives_another_attempt_after_a_wrong_rule():
    env = TryAgain(gym.make("mtenvs/RuleInduction-v0"), max_attempts=2)
    env.reset(options={"task_id": "rule-increasing"})
    obs, reward, terminated, _, info = env.step("<answer>a < b</answer>")
    assert not terminated and info["retried"] and obs == "Let's try again."
    _, reward, terminated, _, info = env.step("<answer>a < b < c</answer>")
    assert terminated and info["success"] and reward == pytest.approx(0.5)
    plain = gym.make("mtenvs/RuleInduction-v0")
    plain.reset(options={"task_id": "rule-increasing"})
    obs, _, terminated, _, info = plain.step("<answer>a < b</answer>")
    assert terminated and not info["success"] and "Wrong" in obs


def test_oracle_solves_the_eval_set_and_information_gain_is_bounded():
    env = RuleInductionEnv(eval_set=True, reward_mode="process")
    for seed in range(tasks.EVAL_SET_SIZE):
        env.reset(seed=seed)
        gains = 0.0
        while True:
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            gains += info["reward_components"].get("process", 0.0)
            if terminated or truncated:
                break
        assert info["success"] and info["turn"] <= 10 and 0 < gains <= 1 + 1e-9


def test_arguments():
    with pytest.raises(InvalidArgumentError, match="split='test'"):
        RuleInductionEnv(eval_set=True, split="train")
    with pytest.raises(InvalidArgumentError, match="task id"):
        RuleInductionEnv().reset(options={"task_id": "rule-nope"})
    assert RuleInductionEnv(eval_set=True).split == "test"
    rng = np.random.default_rng(0)
    assert RuleInductionEnv().random_action(rng)
