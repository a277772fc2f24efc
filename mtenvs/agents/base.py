"""The ``Agent`` protocol and the reference agents that need no model.

An agent answers a batch of conversations at once (one GPU batch for model-backed agents).
Each :class:`AgentInput` also carries the unwrapped env, which privileged agents (oracle,
random-legal) use and model-backed agents ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mtenvs.core.env import MultiTurnEnv
from mtenvs.error import InvalidArgumentError, did_you_mean

__all__ = ["AGENT_KINDS", "Agent", "AgentInput", "OracleAgent", "RandomAgent", "make_agent"]

#: Chat messages in the OpenAI format: ``{"role": "system"|"user"|"assistant", "content": …}``.
Message = dict[str, Any]


@dataclass
class AgentInput:
    """One conversation waiting for a reply."""

    messages: list[Message]
    env: MultiTurnEnv[Any, Any]
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Agent(Protocol):
    """Anything that turns a batch of conversations into one reply each."""

    name: str

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Return one reply per input, in order."""
        ...


class RandomAgent:
    """Sends a uniformly random *well-formed* action (``env.random_action``): the floor."""

    def __init__(self, seed: int = 0) -> None:
        self.name = "random"
        self._rng = np.random.default_rng(seed)

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return [item.env.random_action(self._rng) for item in batch]


class OracleAgent:
    """Sends ``env.oracle_action()``: an optimal policy with privileged state (the ceiling)."""

    def __init__(self) -> None:
        self.name = "oracle"

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return [item.env.oracle_action() for item in batch]


AGENT_KINDS: tuple[str, ...] = ("random", "oracle")


def make_agent(spec: str, *, seed: int = 0) -> Agent:
    """Build an agent from a CLI spec: ``random`` or ``oracle``."""
    if spec == "random":
        return RandomAgent(seed=seed)
    if spec == "oracle":
        return OracleAgent()
    raise InvalidArgumentError(
        f"Unknown agent {spec!r}; choose one of {', '.join(map(repr, AGENT_KINDS))}."
        f"{did_you_mean(spec, AGENT_KINDS)}"
    )
