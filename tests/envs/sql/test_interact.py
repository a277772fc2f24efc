from __future__ import annotations

import json
from dataclasses import asdict

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql.interact_tasks import (
    INTERACT_TEMPLATES,
    build_interact_eval_set,
    interact_eval_set,
)
from mtenvs.envs.sql.user_sim import (
    NO_SQL,
    NON_ANSWER,
    OUT_OF_BUDGET,
    TOO_LONG,
    Clarification,
    answer_question,
)

FACTS = (
    Clarification("recent", ("since", "date"), "Since 2023."),
    Clarification("big", ("total", "amount"), "Over 1000."),
)


def _ask(question: str) -> str:
    call = {"name": "ask_user", "arguments": {"question": question}}
    return f"<tool_call>{json.dumps(call)}</tool_call>"


def test_user_simulator_answers_only_targeted_questions():
    assert answer_question("What do you mean by recent?", FACTS, 3).revealed == ("recent",)
    both = answer_question("What total and since when?", FACTS, 3)
    assert both.revealed == ("recent", "big") and "Since 2023." in both.text
    assert answer_question("How are you?", FACTS, 3).text == NON_ANSWER
    assert answer_question("Can you write the SQL query?", FACTS, 3).text == NO_SQL
    assert answer_question("recent " * 100, FACTS, 3).text == TOO_LONG
    assert answer_question("What is recent?", FACTS, 0).text == OUT_OF_BUDGET


def test_stored_eval_set_matches_the_generator():
    assert len(interact_eval_set()) == 3 * len(INTERACT_TEMPLATES)
    assert [asdict(t) for t in interact_eval_set()] == [
        asdict(t) for t in build_interact_eval_set()
    ]


@pytest.mark.parametrize("index", range(len(INTERACT_TEMPLATES)))
def test_oracle_asks_then_solves_both_requests(index):
    env = gym.make("mtenvs/SqlInteract-v0", eval_set=True, reward_mode="process")
    _, info = env.reset(seed=index)
    total, rewards = info["clarifications_total"], []
    while True:
        _, reward, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        rewards.append(reward)
        if terminated or truncated:
            break
    assert info["success"] and terminated and info["phase"] == "follow_up"
    assert info["asked_user"] and info["clarifications_revealed"] == total
    assert sum(rewards) == pytest.approx(2.0)  # outcome 1.0 + process 1.0


def test_follow_up_arrives_and_wrong_answer_ends():
    env = gym.make("mtenvs/SqlInteract-v0", eval_set=True)
    env.reset(seed=0)
    obs, *_ = env.step(_ask("How are you today?"))
    assert NON_ANSWER in obs
    obs, reward, terminated, _, info = env.step(env.unwrapped.oracle_action())
    assert "User:" in obs and info["clarifications_revealed"] == 1
    gold = env.unwrapped.privileged()["gold_sql"]
    obs, reward, terminated, _, info = env.step(f"<answer>{gold}</answer>")
    assert reward == pytest.approx(0.7) and not terminated and not info["success"]
    assert "Follow-up:" in obs and info["phase"] == "follow_up" and not info["final_answer"]
    obs, reward, terminated, _, info = env.step("<answer>SELECT 1</answer>")
    assert terminated and not info["success"] and reward == 0 and info["final_answer"]


def test_guessing_without_asking_fails_for_the_threshold():
    env = gym.make("mtenvs/SqlInteract-v0", eval_set=True)
    env.reset(seed=1)  # hospital_busy_doctors: "busy" hides the threshold
    gold = env.unwrapped.privileged()["gold_sql"]
    wrong = gold.replace("> ", "> 1 + ")
    *_, info = env.step(f"<answer>{wrong}</answer>")
    assert not info["success"] and not info["asked_user"]
