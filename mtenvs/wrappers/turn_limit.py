"""``TurnLimit``: a per-episode turn budget with an optional reminder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym

from mtenvs.core.spaces import obs_text, with_text
from mtenvs.error import check_int_range

__all__ = ["TurnLimit"]


class TurnLimit(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Truncate an episode after ``max_turns`` steps, optionally reminding the agent.

    Unlike :class:`gymnasium.wrappers.TimeLimit`, it can append ``"(N turns left)"`` to
    text observations, and it marks a cut-off with ``info["turn_limit_reached"] = True`` so
    a trainer can mask episodes that were truncated rather than finished (as Mini-o3 does).

    Args:
        env: The env to wrap.
        max_turns: Steps allowed per episode (>= 1).
        remind: Append ``"(N turns left)"`` to each text observation.

    Info keys added to every step: ``turn_limit_reached`` (bool), ``turns_left`` (int).
    """

    def __init__(self, env: gym.Env[Any, Any], max_turns: int, *, remind: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, max_turns=max_turns, remind=remind)
        gym.Wrapper.__init__(self, env)
        self.max_turns = check_int_range("max_turns", max_turns, 1)
        self.remind = remind
        self._turns = 0

    def _with_reminder(self, obs: Any, turns_left: int) -> Any:
        if not self.remind:
            return obs
        note = f"\n({turns_left} turn{'s' if turns_left != 1 else ''} left)"
        if isinstance(obs, str) or (isinstance(obs, Mapping) and isinstance(obs.get("text"), str)):
            return with_text(obs, obs_text(obs) + note)
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._turns = 0
        obs, info = self.env.reset(seed=seed, options=options)
        info = {**info, "turn_limit_reached": False, "turns_left": self.max_turns}
        return self._with_reminder(obs, self.max_turns), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._turns += 1
        turns_left = self.max_turns - self._turns
        reached = not terminated and turns_left <= 0
        info = {**info, "turn_limit_reached": reached, "turns_left": max(turns_left, 0)}
        return self._with_reminder(obs, turns_left), reward, terminated, truncated or reached, info
