"""``PerEnvAgent``: an agent that plays each env with a policy of its own (the trained and
the tuned LLM tiers).

The evaluation runner asks :meth:`PerEnvAgent.for_env` for each env and skips the envs where
it is ``None`` (with :meth:`PerEnvAgent.why_not` as the reason); :meth:`PerEnvAgent.act`
serves a batch of one env directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtenvs.core.agent import Agent, AgentInput
from mtenvs.error import InvalidArgumentError

__all__ = ["PerEnvAgent", "env_id_of"]


class PerEnvAgent:
    """Base of the per-env agents: subclasses set ``name`` and implement :meth:`for_env`
    and :meth:`covered_envs`."""

    name: str

    def for_env(self, env_id: str) -> Agent | None:
        """The agent playing ``env_id``, or ``None`` where there is no policy."""
        raise NotImplementedError

    def covered_envs(self) -> list[str]:
        """Env ids with a policy (for error messages)."""
        raise NotImplementedError

    def why_not(self, env_id: str) -> str | None:
        """Why :meth:`for_env` has no policy for ``env_id`` (``None``: no reason given)."""
        return None

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Answer a batch of one env (for mixed batches use :meth:`for_env` per env)."""
        ids = {env_id_of(item.env) for item in batch}
        if len(ids) != 1 or None in ids:
            raise InvalidArgumentError(
                f"{type(self).__name__}.act needs a batch of one known env; call "
                "for_env(env_id) and use the agent it returns (envs in this batch: "
                f"{sorted(map(str, ids))})."
            )
        env_id = ids.pop()
        assert env_id is not None
        agent = self.for_env(env_id)
        if agent is None:
            reason = self.why_not(env_id)
            raise InvalidArgumentError(
                f"No {self.name} agent for {env_id}{f' ({reason})' if reason else ''}; "
                f"{self.name} envs: {', '.join(self.covered_envs()) or 'none'}."
            )
        return agent.act(batch)


def env_id_of(env: Any) -> str | None:
    """The registered id of ``env`` (its ``spec.id``), ``None`` for an unregistered env."""
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None)
