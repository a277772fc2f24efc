"""Gymnasium wrappers for multi-turn envs."""

from __future__ import annotations

from mtenvs.wrappers.chat import ChatHistory, ContextSummary
from mtenvs.wrappers.reward_mode import RewardMode
from mtenvs.wrappers.try_again import TryAgain
from mtenvs.wrappers.turn_limit import TurnLimit

__all__ = ["ChatHistory", "ContextSummary", "RewardMode", "TryAgain", "TurnLimit"]
