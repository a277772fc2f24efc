"""The shipped Sokoban bank is a cache of the generator's own output (sokoban_bank.py)."""

from __future__ import annotations

import random
from importlib import resources

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.core.env import stable_digest
from mtenvs.envs.grid.sokoban_bank import BANK_SEEDS, banked_level, load_bank, seed_index
from mtenvs.envs.grid.sokoban_tasks import DIFFICULTIES, generate_task, run_generator

#: Entries regenerated per difficulty (hard levels take tens of ms each).
SAMPLE = {"easy": 12, "medium": 6, "hard": 3}


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
def test_the_bank_ships_and_covers_the_first_seeds(difficulty: str):
    name = f"assets/grid/sokoban_bank_{difficulty}.txt.gz"
    assert resources.files("mtenvs").joinpath(name).is_file()
    assert set(load_bank(difficulty)) == {seed_index(s) for s in range(BANK_SEEDS)}


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
def test_a_sample_of_entries_matches_the_generator(difficulty: str):
    indices = random.Random(difficulty).sample(sorted(load_bank(difficulty)), SAMPLE[difficulty])
    for index in [seed_index(0), *indices]:
        fresh = run_generator(difficulty, "train", index)
        assert banked_level(difficulty, index) == (fresh.rows, fresh.solution)
        assert generate_task(difficulty, "train", index) == fresh


def test_a_seeded_reset_plays_the_banked_level_and_beyond_the_bank_generates():
    env = gym.make("mtenvs/Sokoban-v0").unwrapped
    env.reset(seed=5)
    index = seed_index(5)
    assert env.task.task_id == f"sokoban-easy-train-{index}"
    assert env.task.rows == banked_level("easy", index)[0]  # type: ignore[index]
    seed = next(
        s for s in range(BANK_SEEDS, BANK_SEEDS + 100) if seed_index(s) not in load_bank("easy")
    )
    env.reset(seed=seed)
    assert env.task == run_generator("easy", "train", seed_index(seed))


def test_the_test_split_is_never_banked():
    assert banked_level("easy", 3) is None or generate_task("easy", "test", 3).split == "test"
    env = gym.make("mtenvs/Sokoban-v0", split="test").unwrapped
    env.reset(seed=0)
    assert env.task == run_generator("easy", "test", seed_index(0))


def test_state_key_is_the_base_digest():
    env = gym.make("mtenvs/Sokoban-v0", difficulty="medium").unwrapped
    rng = random.Random(0)
    for seed in range(5):
        env.reset(seed=seed)
        for _ in range(20):
            base = stable_digest((type(env).__name__, env.task_id, env.state_key_data()))
            assert env.state_key() == base
            move = rng.choice(["up", "down", "left", "right"])
            if any(env.step(f"<action>{move}</action>")[2:4]):
                break


def test_state_key_after_restoring_another_level_is_the_base_digest():
    env = gym.make("mtenvs/Sokoban-v0").unwrapped
    env.reset(seed=1)
    other = env.snapshot()
    env.reset(seed=2)
    env.step("<action>up</action>")
    env.state_key()  # keys of seed 2's level are now kept
    env.restore(other)
    base = stable_digest((type(env).__name__, env.task_id, env.state_key_data()))
    assert env.task_id == other.state["_task"].task_id
    assert env.state_key() == base
