"""The reference agents that need no model: random, oracle and scripted.

They read the env carried by each :class:`~mtenvs.core.agent.AgentInput` (privileged
state, the env's own random and scripted policies). The ``Agent`` protocol itself lives in
:mod:`mtenvs.core.agent` (re-exported here and by :mod:`mtenvs.agents`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtenvs.core.agent import Agent, AgentInput, Message

__all__ = ["Agent", "AgentInput", "Message", "OracleAgent", "RandomAgent", "ScriptedAgent"]


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
