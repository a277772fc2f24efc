"""The agent protocol in the core and ``load_agent`` (spec strings resolved through the
factory's entry point at call time)."""

from __future__ import annotations

import pytest

from mtenvs.agents import OracleAgent, RandomAgent
from mtenvs.core import Agent, AgentInput, load_agent
from mtenvs.error import InvalidArgumentError


def test_load_agent_builds_agents_through_the_factory() -> None:
    agent = load_agent("random", seed=3)
    assert isinstance(agent, RandomAgent) and isinstance(agent, Agent)
    assert isinstance(load_agent("oracle"), OracleAgent)


def test_load_agent_keeps_the_factorys_errors() -> None:
    with pytest.raises(InvalidArgumentError, match=r"Unknown agent 'oracel'.*'hf:PATH'.*oracle"):
        load_agent("oracel")
    with pytest.raises(InvalidArgumentError, match="needs a model path: 'hf:PATH'"):
        load_agent("hf:")


def test_load_agent_takes_another_entry_point() -> None:
    agent = load_agent("x", seed=7, entry_point=f"{__name__}:_factory")
    assert isinstance(agent, _Named) and agent.name == "x-7"
    assert agent.act([AgentInput([{"role": "user", "content": "hi"}], env=None)]) == ["x-7"]
    with pytest.raises(InvalidArgumentError, match="is not 'module:attr'"):
        load_agent("random", entry_point="mtenvs.agents.factory.make_agent")


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def act(self, batch: list[AgentInput]) -> list[str]:
        return [self.name for _ in batch]


def _factory(spec: str, *, seed: int = 0) -> _Named:
    return _Named(f"{spec}-{seed}")
