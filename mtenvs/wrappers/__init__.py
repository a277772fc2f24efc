"""Gymnasium wrappers for multi-turn envs."""

from __future__ import annotations

import warnings
from typing import Any

from mtenvs.wrappers.chat import ChatHistory, ContextSummary
from mtenvs.wrappers.reweight_reward import ReweightReward
from mtenvs.wrappers.try_again import TryAgain
from mtenvs.wrappers.turn_limit import TurnLimit

__all__ = ["ChatHistory", "ContextSummary", "ReweightReward", "TryAgain", "TurnLimit"]

#: Old names still importable for one release: old name -> (new name, why it changed).
_RENAMED: dict[str, tuple[str, str]] = {
    "RewardMode": (
        "ReweightReward",
        "RewardMode is the reward-mode enum, mtenvs.core.rewards.RewardMode",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _RENAMED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new, why = _RENAMED[name]
    warnings.warn(
        f"mtenvs.wrappers.{name} is renamed mtenvs.wrappers.{new} ({why}); the old name "
        "goes in the next release.",
        DeprecationWarning,
        stacklevel=2,
    )
    return globals()[new]
