"""The ``Agent`` protocol: anything that turns a batch of conversations into replies.

It lives in the core because envs use policies too: a game's opponent seat and the
language model voicing the clinical patient are agents. The agents themselves (random,
oracle, scripted, model-backed) live in :mod:`mtenvs.agents`, above the envs; an env that
takes an agent *spec string* resolves it with :func:`load_agent`, which loads the factory
by its entry point at call time (as Gymnasium loads an env class from ``"module:attr"``),
so no env package imports :mod:`mtenvs.agents`.

An agent answers a batch of conversations at once (one GPU batch for model-backed agents).
Each :class:`AgentInput` also carries the unwrapped env, which privileged agents (oracle,
random-legal) use and model-backed agents ignore.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np

from mtenvs.core.env import MultiTurnEnv
from mtenvs.core.spaces import obs_text
from mtenvs.error import InvalidArgumentError

__all__ = [
    "AGENT_FACTORY",
    "Agent",
    "AgentInput",
    "Message",
    "load_agent",
    "message_images",
    "message_text",
    "user_message",
]

#: Chat messages in the OpenAI format: ``{"role": "system"|"user"|"assistant", "content": …}``.
#: ``content`` is a ``str``, or, for an observation with an image, a list of content parts
#: in the Hugging Face multimodal chat format: ``[{"type": "image", "image": PIL.Image},
#: {"type": "text", "text": …}]`` (see :func:`user_message`).
Message = dict[str, Any]

#: Entry point (``"module:attr"``) of the function that builds an agent from a spec string
#: (``"random"``, ``"hf:PATH"``, ``"openai:URL#MODEL"``, …); see :func:`load_agent`.
AGENT_FACTORY: Final = "mtenvs.agents.factory:make_agent"


@dataclass
class AgentInput:
    """One conversation waiting for a reply."""

    messages: list[Message]
    #: The unwrapped env (local executors) or a proxy forwarding ``oracle_action``,
    #: ``random_action`` and ``privileged`` to it (process and Ray executors).
    env: MultiTurnEnv[Any, Any, Any] | Any
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Agent(Protocol):
    """Anything that turns a batch of conversations into one reply each."""

    name: str

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Return one reply per input, in order."""
        ...


def load_agent(spec: str, *, seed: int = 0, entry_point: str = AGENT_FACTORY) -> Agent:
    """Build the agent named by ``spec`` with the factory at ``entry_point``.

    The factory (by default :func:`mtenvs.agents.make_agent`) is imported when called, so
    the core and the env packages stay below :mod:`mtenvs.agents`; it checks ``spec`` and
    its errors name the allowed forms.

    Args:
        spec: An agent spec string, e.g. ``"oracle"``, ``"hf:PATH"`` or
            ``"openai:URL#MODEL"``.
        seed: Seeds the random agent and the model agents' sampling.
        entry_point: ``"module:attr"`` of a ``factory(spec, *, seed) -> Agent``.
    """
    module_name, sep, attr = entry_point.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgumentError(
            f"Agent factory entry point {entry_point!r} is not 'module:attr', e.g. "
            f"{AGENT_FACTORY!r}."
        )
    factory: Callable[..., Agent] = getattr(importlib.import_module(module_name), attr)
    return factory(spec, seed=seed)


def user_message(observation: Any) -> Message:
    """The user message of an observation: plain text, or, when the observation carries an
    image (``{"text": …, "image": HxWx3 uint8 array}``), an image part (a ``PIL.Image``)
    then a text part, the order Hugging Face chat templates and OpenAI's API expect."""
    if isinstance(observation, Mapping) and observation.get("image") is not None:
        from PIL import Image  # Pillow comes with matplotlib, a core dependency

        image = observation["image"]
        if not isinstance(image, Image.Image):
            image = Image.fromarray(np.asarray(image, dtype=np.uint8))
        parts: list[dict[str, Any]] = [{"type": "image", "image": image}]
        parts.append({"type": "text", "text": str(observation.get("text", ""))})
        return {"role": "user", "content": parts}
    return {"role": "user", "content": obs_text(observation)}


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return "" if content is None else str(content)


def message_images(message: Mapping[str, Any]) -> list[Any]:
    """The images of a message's content parts, in order (none for string content)."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [p["image"] for p in content if isinstance(p, Mapping) and p.get("type") == "image"]
