"""Image observations through the rollout engine: the agent is sent them as content parts,
the records, JSONL and the 🤗 dataset keep them."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import AgentInput, RandomAgent
from mtenvs.core.agent import message_images, message_text
from mtenvs.rollout import read_jsonl, rollout, to_hf_dataset, write_jsonl


class Looking:
    """A stand-in policy that records every conversation it is sent and moves at random
    (random agents ignore the messages: they must not mind image parts)."""

    name = "looking"

    def __init__(self) -> None:
        self.inner = RandomAgent(seed=0)
        self.prompts: list[list[dict]] = []

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.prompts.extend(list(b.messages) for b in batch)
        return self.inner.act(batch)


def _pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


@pytest.mark.parametrize("executor", ["sync", "process"])
@pytest.mark.parametrize("env_id", ["mtenvs/Maze-v0", "mtenvs/Sokoban-v0"])
def test_the_agent_is_sent_each_observation_image(env_id, executor):
    kwargs = {"obs_mode": "text+image", "max_turns": 3}
    agent = Looking()
    (traj,) = rollout(env_id, agent, 1, env_kwargs=kwargs, executor=executor, workers=1)
    env = gym.make(env_id, **kwargs)
    obs, _ = env.reset(seed=0)
    first = agent.prompts[0][1]
    assert first["role"] == "user" and [p["type"] for p in first["content"]] == ["image", "text"]
    (image,) = message_images(first)
    assert np.array_equal(_pixels(image), obs["image"])
    assert message_text(first) == obs["text"] == traj.turns[0].observation
    # Every user message the agent saw has its image; the records keep them as arrays.
    last = agent.prompts[-1]
    users = [m for m in last if m["role"] == "user"]
    assert len(users) == len(traj.turns) and all(len(message_images(m)) == 1 for m in users)
    for turn, user in zip(traj.turns, users):
        assert turn.image is not None and turn.image.dtype == np.uint8
        assert np.array_equal(turn.image, _pixels(message_images(user)[0]))
    assert traj.final_image is not None and traj.final_image.shape == obs["image"].shape
    # messages(images=True) gives the conversation as the agent was sent it.
    rebuilt = traj.messages(images=True)
    assert [message_text(m) for m in rebuilt[:-1]] == [message_text(m) for m in last]
    assert [len(message_images(m)) for m in rebuilt[:-1]] == [len(message_images(m)) for m in last]


def test_text_observations_stay_plain_strings():
    agent = Looking()
    (traj,) = rollout("mtenvs/Maze-v0", agent, 1, env_kwargs={"max_turns": 2})
    assert all(isinstance(m["content"], str) for p in agent.prompts for m in p)
    assert traj.turns[0].image is None and traj.final_image is None and traj.images == []


def test_images_survive_jsonl_and_the_hf_dataset(tmp_path):
    kwargs = {"obs_mode": "image", "max_turns": 3}
    trajs = list(rollout("mtenvs/Sokoban-v0", RandomAgent(seed=1), 2, env_kwargs=kwargs))
    path = tmp_path / "images.jsonl"
    write_jsonl(trajs, path)
    assert '"image": "iVBOR' in path.read_text()  # base64 PNG
    back = list(read_jsonl(path))
    assert back == trajs  # the same pixels
    assert all(np.array_equal(a.image, b.image) for a, b in zip(back[0].turns, trajs[0].turns))
    datasets = pytest.importorskip("datasets")
    ds = to_hf_dataset([*trajs, *rollout("mtenvs/Maze-v0", RandomAgent(), 1)])
    column = ds.features["images"]
    inner = column[0] if isinstance(column, list) else column.feature  # datasets 2-3 / 4
    assert isinstance(inner, datasets.Image)
    row = ds[0]
    assert len(row["images"]) == row["num_turns"] == len(trajs[0].turns)
    assert np.array_equal(_pixels(row["images"][0]), trajs[0].turns[0].image)
    assert ds[2]["images"] == []  # a text-only env
