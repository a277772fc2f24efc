"""Agents: the ``Agent`` protocol, reference agents, model agents and ``make_agent``.

The protocol (``Agent``, ``AgentInput``, ``Message``) is defined in :mod:`mtenvs.core.agent`
and re-exported here; ``make_agent`` builds an agent from a spec string
(:mod:`mtenvs.agents.factory`). ``HFAgent`` and ``OpenAIAgent`` import torch/transformers
and httpx only when built, so importing this package stays light.
"""

from __future__ import annotations

from mtenvs.agents.base import OracleAgent, RandomAgent, ScriptedAgent
from mtenvs.agents.factory import AGENT_KINDS, AGENT_SPECS, make_agent
from mtenvs.agents.hf import HFAgent, ImagesIgnoredWarning
from mtenvs.agents.openai import AgentServerError, OpenAIAgent
from mtenvs.agents.trained import TrainedAgent
from mtenvs.core.agent import Agent, AgentInput, Message

__all__ = [
    "AGENT_KINDS",
    "AGENT_SPECS",
    "Agent",
    "AgentInput",
    "AgentServerError",
    "HFAgent",
    "ImagesIgnoredWarning",
    "Message",
    "OpenAIAgent",
    "OracleAgent",
    "RandomAgent",
    "ScriptedAgent",
    "TrainedAgent",
    "make_agent",
]
