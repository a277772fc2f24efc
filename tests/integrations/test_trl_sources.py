"""The TRL adapter takes any env: a factory of a wrapped env, a spec, a list."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.error import InvalidArgumentError
from mtenvs.integrations.trl import make_prompt_dataset, make_rollout_func, task_of
from mtenvs.wrappers import TurnLimit
from tests.agents.tiny_model import build_tiny_model

REPLY = "<action>up</action>"


def limited_maze() -> gym.Env:
    """Maze with 6 turns, cut at 2 by a TurnLimit that reminds the agent."""
    return TurnLimit(gym.make("mtenvs/Maze-v0", max_turns=6), 2, remind=True)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    model_dir: Path = build_tiny_model(tmp_path_factory.mktemp("tiny-trl-src") / "model")
    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def test_a_factory_of_a_wrapped_env_trains_as_it_is_wrapped(tokenizer):
    ds = make_prompt_dataset([limited_maze, "mtenvs/RuleInduction-v0"], 4, seed=3)
    assert ds["env_id"] == ["mtenvs/Maze-v0", "mtenvs/RuleInduction-v0"] * 2
    assert ds["seed"] == [3, 3, 4, 4]
    assert task_of(ds[2]["prompt"]) == ("mtenvs/Maze-v0", 4)
    assert ds[0]["prompt"][1]["content"].endswith("(2 turns left)")  # the wrapper's start

    eos = tokenizer.eos_token_id
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]

    def generate(trainer):
        return lambda prompts: ([[*reply_ids, eos] for _ in prompts], None)

    trainer = SimpleNamespace(processing_class=tokenizer, eos_token_ids=[eos])
    rollout_func = make_rollout_func(
        [limited_maze, "mtenvs/RuleInduction-v0"],
        env_kwargs=None,
        executor="sync",
        generate=generate,
    )
    prompts = [row["prompt"] for row in ds for _ in range(2)]  # num_generations=2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the prompts are the episodes' starts
        out = rollout_func(prompts, trainer)
    maze = [n for n, p in zip(out["env_turns"], prompts) if task_of(p)[0] == "mtenvs/Maze-v0"]
    assert maze == [2, 2, 2, 2]  # TurnLimit cut every Maze episode
    assert len(out["completion_ids"]) == 8


def test_two_variants_of_one_env_cannot_share_a_run():
    with pytest.raises(InvalidArgumentError, match="Two of the envs are 'mtenvs/Maze-v0'"):
        make_prompt_dataset([limited_maze, "mtenvs/Maze-v0"], 2)
