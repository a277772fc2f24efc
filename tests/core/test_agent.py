"""The agent protocol in the core and ``load_agent`` (spec strings resolved through the
factory's entry point at call time)."""

from __future__ import annotations

import pytest

from mtenvs.agents import OracleAgent, RandomAgent
from mtenvs.core import Agent, AgentInput, load_agent
from mtenvs.error import InvalidArgumentError


def test_load_agent_builds_agents_through_the_factory() -> None:
    agent = load_agent("random", seed=3)
    assert isinstance(agent, RandomAgent) and isinstance(agent, Agent)
    assert isinstance(load_agent("oracle"), OracleAgent)


def test_load_agent_keeps_the_factorys_errors() -> None:
    with pytest.raises(InvalidArgumentError, match=r"Unknown agent 'oracel'.*'hf:PATH'.*oracle"):
        load_agent("oracel")
    with pytest.raises(InvalidArgumentError, match="needs a model path: 'hf:PATH'"):
        load_agent("hf:")


def test_load_agent_takes_another_entry_point() -> None:
    agent = load_agent("x", seed=7, entry_point=f"{__name__}:_factory")
    assert isinstance(agent, _Named) and agent.name == "x-7"
    assert agent.act([AgentInput([{"role": "user", "content": "hi"}], env=None)]) == ["x-7"]
    with pytest.raises(InvalidArgumentError, match="is not 'module:attr'"):
        load_agent("random", entry_point="mtenvs.agents.factory.make_agent")


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def act(self, batch: list[AgentInput]) -> list[str]:
        return [self.name for _ in batch]


def _factory(spec: str, *, seed: int = 0) -> _Named:
    return _Named(f"{spec}-{seed}")


def test_user_message_puts_an_observation_image_before_its_text() -> None:
    import numpy as np
    from PIL import Image

    from mtenvs.core.agent import message_images, message_text, user_message

    pixels = np.zeros((6, 8, 3), np.uint8)
    pixels[0, 0] = (255, 0, 0)
    message = user_message({"text": "Push the box.", "image": pixels})
    image, text = message["content"]
    assert image["type"] == "image" and isinstance(image["image"], Image.Image)
    assert image["image"].size == (8, 6) and image["image"].getpixel((0, 0)) == (255, 0, 0)
    assert text == {"type": "text", "text": "Push the box."}
    assert message_text(message) == "Push the box."
    assert message_images(message) == [image["image"]]
    # text observations (and image-less dicts) stay plain strings
    assert user_message("Move.") == {"role": "user", "content": "Move."}
    assert user_message({"text": "Move.", "image": None})["content"] == "Move."
    assert message_images(user_message("Move.")) == []
