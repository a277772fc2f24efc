"""``TryAgain``: unary feedback after a wrong final answer instead of ending the episode."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym

from mtenvs.core.feedback import UNARY_FEEDBACK
from mtenvs.core.rewards import OUTCOME
from mtenvs.core.spaces import with_text
from mtenvs.error import InvalidArgumentError, check_int_range

__all__ = ["TryAgain"]


class TryAgain(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Let the agent retry after a wrong final answer, up to ``max_attempts`` answers.

    The UFO setup: when the env ends the episode on a wrong final answer
    (``info["final_answer"]`` and not ``info["success"]``) and attempts remain, the episode
    is reopened (``env.unwrapped.resume()``) and the observation is ``feedback`` alone —
    unary feedback that says the answer was wrong, nothing more. A correct answer on
    attempt ``a`` (1-based) earns ``outcome * decay ** (a - 1)``. The turn budget of the env
    still applies.

    Args:
        env: An env derived from :class:`mtenvs.core.MultiTurnEnv` that gives final answers.
        max_attempts: Final answers allowed per episode (>= 1; 1 = no retry).
        decay: Outcome multiplier per extra attempt, in ``(0, 1]``.
        feedback: The observation after a wrong answer (by default
            :data:`~mtenvs.core.feedback.UNARY_FEEDBACK`, ``"Let's try again."``).

    Info keys added: ``attempt`` (1-based index of the current answer attempt),
    ``retried`` (True on the step whose wrong answer was turned into a retry).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        max_attempts: int = 3,
        *,
        decay: float = 0.5,
        feedback: str = UNARY_FEEDBACK,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, max_attempts=max_attempts, decay=decay, feedback=feedback
        )
        gym.Wrapper.__init__(self, env)
        self.max_attempts = check_int_range("max_attempts", max_attempts, 1)
        if not isinstance(decay, (int, float)) or not 0.0 < decay <= 1.0:
            raise InvalidArgumentError(f"decay must be in (0, 1], got {decay!r}.")
        if not callable(getattr(env.unwrapped, "resume", None)):
            raise InvalidArgumentError(
                f"TryAgain needs an mtenvs MultiTurnEnv (with resume()), got "
                f"{type(env.unwrapped).__name__}."
            )
        self.decay = float(decay)
        self.feedback = feedback
        self._attempt = 1

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._attempt = 1
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "attempt": 1, "retried": False}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "attempt": self._attempt, "retried": False}
        if not info.get("final_answer"):
            return obs, reward, terminated, truncated, info
        if info.get("success"):
            components = dict(info.get("reward_components", {}))
            if OUTCOME in components:
                factor = self.decay ** (self._attempt - 1)
                reward = float(reward) - components[OUTCOME] * (1.0 - factor)
                components[OUTCOME] *= factor
                info["reward_components"] = components
            return obs, reward, terminated, truncated, info
        inner = self.env.unwrapped
        # A wrong answer on the last turn ends the episode: there is no turn left to retry.
        if terminated and self._attempt < self.max_attempts and inner.turns_left > 0:  # type: ignore[attr-defined]
            inner.resume()  # type: ignore[attr-defined]
            self._attempt += 1
            info["retried"] = True
            obs = with_text(obs, self.feedback)
            return obs, reward, False, False, info
        return obs, reward, terminated, truncated, info
