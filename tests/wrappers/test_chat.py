from __future__ import annotations

import gymnasium as gym
import pytest

from mtenvs.error import InvalidArgumentError
from mtenvs.wrappers import ChatHistory, ContextSummary
from tests.toy_envs import AddEnv


def test_chat_history_grows_with_replies_and_observations():
    env = ChatHistory(AddEnv())
    obs, _ = env.reset(seed=0)
    assert [m["role"] for m in obs] == ["system", "user"]
    assert obs[0]["content"].startswith("Add the numbers")
    obs, *_ = env.step("<action>hint</action>")
    assert [m["role"] for m in obs] == ["system", "user", "assistant", "user"]
    assert obs[2]["content"] == "<action>hint</action>" and obs[3]["content"].startswith("The sum")
    assert env.observation_space.contains(obs)


def test_chat_history_on_a_registered_env_with_images():
    env = ChatHistory(gym.make("mtenvs/Maze-v0", obs_mode="text+image"))
    obs, _ = env.reset(seed=0)
    assert isinstance(obs[1]["content"], str) and "@" in obs[1]["content"]


def test_context_summary_by_truncation_keeps_last_turns():
    env = ContextSummary(AddEnv(max_turns=10), keep_last=2, max_chars_per_turn=40)
    obs, _ = env.reset(seed=0)
    for i in range(4):
        obs, _, _, _, info = env.step(f"<action>hint</action> #{i}")
    roles = [m["role"] for m in obs]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert obs[1]["content"].startswith("Summary of earlier turns:")
    assert "[user] What is" in obs[1]["content"] and "#1" in obs[1]["content"]
    assert obs[2]["content"].endswith("#2") and obs[4]["content"].endswith("#3")
    assert info["summarised_turns"] == 2


class EchoSummarizer:
    name = "echo"

    def __init__(self) -> None:
        self.calls = 0

    def act(self, batch):
        self.calls += 1
        return [f"summary #{self.calls}" for _ in batch]


def test_context_summary_with_an_agent():
    summarizer = EchoSummarizer()
    env = ContextSummary(AddEnv(max_turns=10), keep_last=1, summarizer=summarizer)
    env.reset(seed=0)
    env.step("a")
    obs, *_ = env.step("b")
    assert obs[1]["content"] == "Summary of earlier turns:\nsummary #1"
    obs, _, _, _, info = env.step("c")
    assert obs[1]["content"] == "Summary of earlier turns:\nsummary #2"
    assert info["summarised_turns"] == 2 and obs[2]["content"] == "c"
    assert [m["role"] for m in obs] == ["system", "user", "assistant", "user"]
    with pytest.raises(InvalidArgumentError):
        ContextSummary(AddEnv(), keep_last=0)
    with pytest.raises(InvalidArgumentError):
        ContextSummary(AddEnv(), summarizer=object())
