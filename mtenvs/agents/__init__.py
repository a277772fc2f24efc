"""Agents: the ``Agent`` protocol, reference agents and ``make_agent``."""

from __future__ import annotations

from mtenvs.agents.base import (
    AGENT_KINDS,
    Agent,
    AgentInput,
    OracleAgent,
    RandomAgent,
    make_agent,
)

__all__ = ["AGENT_KINDS", "Agent", "AgentInput", "OracleAgent", "RandomAgent", "make_agent"]
