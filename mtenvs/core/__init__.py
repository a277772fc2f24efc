"""Core API shared by every env: the env base class, the agent protocol, spaces, parsing,
rewards, registry."""

from __future__ import annotations

from mtenvs.core.agent import Agent, AgentInput, Message, load_agent
from mtenvs.core.env import (
    EnvSnapshot,
    InvalidAction,
    MultiTurnEnv,
    Reply,
    ResetInfo,
    StepInfo,
    Transition,
)
from mtenvs.core.rewards import FORMAT, OUTCOME, PROCESS, TURN_COST, RewardMode
from mtenvs.core.spaces import UnicodeText

__all__ = [
    "FORMAT",
    "OUTCOME",
    "PROCESS",
    "TURN_COST",
    "Agent",
    "AgentInput",
    "EnvSnapshot",
    "InvalidAction",
    "Message",
    "MultiTurnEnv",
    "Reply",
    "ResetInfo",
    "RewardMode",
    "StepInfo",
    "Transition",
    "UnicodeText",
    "load_agent",
]
