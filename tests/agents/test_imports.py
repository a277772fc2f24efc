"""How mtenvs.agents hangs together (tests/test_import_graph.py checks that it has no
import circle): the protocol is in the core, the reference agents in ``base``;
``factory`` (``make_agent``) imports the agents and only the package ``__init__`` imports
the factory."""

from __future__ import annotations

import mtenvs.agents
from mtenvs.core.agent import AGENT_FACTORY
from tests._imports import package_graph

PACKAGE = "mtenvs.agents"


def test_only_the_package_imports_the_factory() -> None:
    graph = package_graph(PACKAGE)
    importers = {m for m, imported in graph.items() if f"{PACKAGE}.factory" in imported}
    assert importers == {PACKAGE}
    for module in ("base", "content", "hf_loading", "per_env"):
        assert graph[f"{PACKAGE}.{module}"] == set(), module
    # Both convert image content parts with ``content``.
    assert graph[f"{PACKAGE}.openai"] == {f"{PACKAGE}.content"}
    assert graph[f"{PACKAGE}.hf"] == {f"{PACKAGE}.content", f"{PACKAGE}.hf_loading"}
    # A trained agent is an HFAgent per env; a tuned one an LLMAgent with an adapter.
    assert graph[f"{PACKAGE}.trained"] == {f"{PACKAGE}.hf", f"{PACKAGE}.per_env"}
    assert graph[f"{PACKAGE}.tuned"] == {
        f"{PACKAGE}.llm",
        f"{PACKAGE}.per_env",
        f"{PACKAGE}.trained",
    }


def test_the_protocol_is_the_cores() -> None:
    from mtenvs.core import agent as core

    assert mtenvs.agents.Agent is core.Agent
    assert mtenvs.agents.AgentInput is core.AgentInput
    assert mtenvs.agents.base.AgentInput is core.AgentInput
    module, _, attr = AGENT_FACTORY.partition(":")
    assert f"{module}.{attr}" == "mtenvs.agents.factory.make_agent"
    assert mtenvs.agents.factory.make_agent is mtenvs.agents.make_agent
