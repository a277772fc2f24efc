"""``ReweightReward``: recompute ``reward`` from the step's components, under another
reward mode or with weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym

from mtenvs.core.rewards import RewardMode, split_components
from mtenvs.error import check_choice

__all__ = ["ReweightReward"]


class ReweightReward(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Recompute ``reward`` from the step's components under another mode, or with weights.

    ``mode="outcome"`` sums every component but ``process``; ``mode="process"`` sums all
    (see :class:`mtenvs.core.rewards.RewardMode`). ``weights`` (optional) scales components
    by name before summing (missing names: 1.0). ``info["reward_components"]`` and
    ``info["uncounted_components"]`` are rewritten to match, so
    ``reward == sum(info["reward_components"].values())`` still holds.

    Formerly named ``RewardMode``, the name of the reward-mode enum; that name stays
    importable from :mod:`mtenvs.wrappers` for one release, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        mode: RewardMode | str = "process",
        *,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, mode=mode, weights=weights)
        gym.Wrapper.__init__(self, env)
        check_choice("mode", mode, [m.value for m in RewardMode])
        self.mode = RewardMode(mode)
        self.weights = dict(weights or {})

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        every = {**info.get("uncounted_components", {}), **info.get("reward_components", {})}
        weighted = {k: v * self.weights.get(k, 1.0) for k, v in every.items()}
        counted, uncounted = split_components(weighted, self.mode)
        info = {**info, "reward_components": counted, "uncounted_components": uncounted}
        return obs, float(sum(counted.values())), terminated, truncated, info
