"""Memory agents through the rollout engine: an env whose observation is the conversation
(ChatHistory, ContextSummary) decides what the agent is sent (SUPO, MEM1)."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import AgentInput
from mtenvs.core.agent import message_text
from mtenvs.rollout import rollout
from mtenvs.wrappers import ChatHistory, ContextSummary

TURNS = 50


class Waiting:
    """A stand-in policy that never moves (the episode runs its 50 turns) and records the
    size of every conversation it is sent."""

    name = "waiting"

    def __init__(self) -> None:
        self.prompts: list[list[dict]] = []

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.prompts.extend([dict(m) for m in b.messages] for b in batch)
        return ["<action>wait</action>" for _ in batch]

    def sizes(self) -> list[tuple[int, int]]:
        return [(len(p), sum(len(message_text(m)) for m in p)) for p in self.prompts]


class CountingSummarizer:
    """A summarising policy: one short summary per call."""

    name = "summarizer"

    def __init__(self) -> None:
        self.calls = 0

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.calls += 1
        return [f"Summary {self.calls}: the agent waited." for _ in batch]


def _maze(max_turns: int = TURNS) -> gym.Env:
    return gym.make("mtenvs/Maze-v0", max_turns=max_turns)


def test_without_a_summary_the_prompt_grows_with_every_turn():
    agent = Waiting()
    (traj,) = rollout(_maze, agent, 1)
    sizes = agent.sizes()
    assert len(traj.turns) == TURNS == len(sizes)
    assert [n for n, _ in sizes] == [2 + 2 * t for t in range(TURNS)]  # 100 messages at the end
    assert sizes[-1][1] > 20 * sizes[0][1]


@pytest.mark.parametrize("summarizer", [None, CountingSummarizer()], ids=["truncation", "agent"])
@pytest.mark.parametrize("executor", ["sync", "process"])
def test_a_summarising_wrapper_bounds_the_prompt(summarizer, executor):
    keep_last, cap = 4, 600
    agent = Waiting()
    factory = lambda: ContextSummary(  # noqa: E731
        _maze(), keep_last=keep_last, summarizer=summarizer, max_summary_chars=cap
    )
    (traj,) = rollout(factory, agent, 1, executor=executor)
    sizes = agent.sizes()
    assert len(traj.turns) == TURNS == len(sizes)
    # system, summary, then keep_last (reply, observation) pairs: 10 messages at most
    assert max(n for n, _ in sizes) == 2 + 2 * keep_last
    longest_message = max(len(message_text(m)) for p in agent.prompts for m in p[2:])
    system = len(traj.system_prompt)
    bound = system + len("Summary of earlier turns:\n") + cap + 2 * keep_last * longest_message
    assert max(c for _, c in sizes) <= bound
    # The records: observations as without the wrapper, the summary's coverage per turn,
    # and the conversation the agent was actually sent once a summary replaced turns.
    assert traj.turns[0].observation == message_text(agent.prompts[0][1])
    assert traj.turns[-1].info["summarised_turns"] == traj.final_info["summarised_turns"] > 40
    first_summary = next(i for i, t in enumerate(traj.turns) if t.context is not None)
    assert first_summary == keep_last + 1
    assert all(t.context is None for t in traj.turns[:first_summary])
    assert [t.context for t in traj.turns[first_summary:]] == agent.prompts[first_summary:]
    assert traj.turns[-1].context[1]["content"].startswith("Summary of earlier turns:")


def test_chat_history_sends_the_same_conversation_as_the_engine():
    plain, wrapped = Waiting(), Waiting()
    (a,) = rollout(lambda: _maze(max_turns=6), plain, 1)
    (b,) = rollout(lambda: ChatHistory(_maze(max_turns=6)), wrapped, 1)
    assert wrapped.prompts == plain.prompts
    assert [t.observation for t in a.turns] == [t.observation for t in b.turns]
    assert all(t.context is None for t in b.turns)  # nothing to record: it is the transcript
