"""Agents: the ``Agent`` protocol, reference agents, model agents and ``make_agent``.

``HFAgent`` and ``OpenAIAgent`` import torch/transformers and httpx only when built, so
importing this package stays light.
"""

from __future__ import annotations

from mtenvs.agents.base import (
    AGENT_KINDS,
    AGENT_SPECS,
    Agent,
    AgentInput,
    OracleAgent,
    RandomAgent,
    ScriptedAgent,
    make_agent,
)
from mtenvs.agents.hf import HFAgent
from mtenvs.agents.openai import AgentServerError, OpenAIAgent
from mtenvs.agents.trained import TrainedAgent

__all__ = [
    "AGENT_KINDS",
    "AGENT_SPECS",
    "Agent",
    "AgentInput",
    "AgentServerError",
    "HFAgent",
    "OpenAIAgent",
    "OracleAgent",
    "RandomAgent",
    "ScriptedAgent",
    "TrainedAgent",
    "make_agent",
]
