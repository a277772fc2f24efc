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

__all__ = [
    "AGENT_KINDS",
    "AGENT_SPECS",
    "Agent",
    "AgentInput",
    "OracleAgent",
    "RandomAgent",
    "ScriptedAgent",
    "make_agent",
]

#: Chat messages in the OpenAI format: ``{"role": "system"|"user"|"assistant", "content": …}``.
Message = dict[str, Any]


@dataclass
class AgentInput:
    """One conversation waiting for a reply."""

    messages: list[Message]
    #: The unwrapped env (local executors) or a proxy forwarding ``oracle_action``,
    #: ``random_action`` and ``privileged`` to it (process and Ray executors).
    env: MultiTurnEnv[Any, Any, Any] | Any
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
    """Sends ``env.oracle_action()``: an optimal policy with privileged state (the ceiling).
    Per-env: :meth:`for_env` is ``None`` for envs without an oracle (``has_oracle``)."""

    def __init__(self) -> None:
        self.name = "oracle"

    def for_env(self, env_id: str) -> OracleAgent | None:
        from mtenvs.core.registry import env_class

        return self if env_class(env_id).has_oracle else None

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return [item.env.oracle_action() for item in batch]


class ScriptedAgent:
    """Sends ``env.scripted_action(rng)``: a hand-written policy that sees only what the
    observations showed (between random and oracle). Per-env: :meth:`for_env` is ``None``
    for envs without a scripted policy."""

    def __init__(self, seed: int = 0) -> None:
        self.name = "scripted"
        self._rng = np.random.default_rng(seed)

    def for_env(self, env_id: str) -> ScriptedAgent | None:
        from mtenvs.core.registry import env_class

        return self if env_class(env_id).has_scripted_policy() else None

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return [item.env.scripted_action(self._rng) for item in batch]


AGENT_KINDS: tuple[str, ...] = ("random", "oracle", "scripted", "trained")
#: Every form :func:`make_agent` accepts, for help texts.
AGENT_SPECS: tuple[str, ...] = (*AGENT_KINDS, "hf:PATH", "openai:URL#MODEL")


def make_agent(spec: str, *, seed: int = 0, model: str | None = None) -> Agent:
    """Build an agent from a CLI spec.

    Specs:
        ``random``, ``oracle``: the reference agents.
        ``scripted``: :class:`ScriptedAgent` (envs with a scripted policy only).
        ``trained``: :class:`~mtenvs.agents.trained.TrainedAgent`, the shipped trained
            models (envs with weights only).
        ``hf:PATH``: :class:`~mtenvs.agents.hf.HFAgent` on a local model directory (greedy).
        ``openai:URL#MODEL``: :class:`~mtenvs.agents.openai.OpenAIAgent` on an
            OpenAI-compatible server, e.g. ``openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-8B``;
            without ``#MODEL`` the model is ``model``, else the one model the server lists.

    ``seed`` seeds the random agent and the model agents' sampling.
    """
    if spec == "random":
        return RandomAgent(seed=seed)
    if spec == "oracle":
        return OracleAgent()
    if spec == "scripted":
        return ScriptedAgent(seed=seed)
    if spec == "trained":
        from mtenvs.agents.trained import TrainedAgent

        return TrainedAgent()
    kind, sep, target = spec.partition(":")
    if sep and kind == "hf":
        if not target:
            raise InvalidArgumentError(f"Agent spec {spec!r} needs a model path: 'hf:PATH'.")
        from mtenvs.agents.hf import HFAgent

        return HFAgent(target, seed=seed)
    if sep and kind == "openai":
        from mtenvs.agents.openai import OpenAIAgent, discover_model

        # A URL fragment is never sent to a server, so '#' cannot clash with the URL itself.
        url, _, named = target.partition("#")
        if not url:
            raise InvalidArgumentError(
                f"Agent spec {spec!r} needs a server URL: 'openai:URL#MODEL', e.g. "
                "'openai:http://127.0.0.1:8000/v1#my-model'."
            )
        served = named or model or discover_model(url)
        return OpenAIAgent(url, served, seed=seed)
    raise InvalidArgumentError(
        f"Unknown agent {spec!r}; choose one of {', '.join(map(repr, AGENT_SPECS))}."
        f"{did_you_mean(spec, AGENT_KINDS)}"
    )
