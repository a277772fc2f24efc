"""The shipped Sokoban bank is a cache of the generator's own output (sokoban_bank.py)."""

from __future__ import annotations

import random
from collections import OrderedDict
from importlib import resources

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.core.env import stable_digest
from mtenvs.envs.grid import sokoban_solver
from mtenvs.envs.grid.sokoban_bank import (
    BANK_SEEDS,
    TABLE_DIFFICULTIES,
    banked_level,
    banked_table,
    load_bank,
    seed_index,
)
from mtenvs.envs.grid.sokoban_rules import Level
from mtenvs.envs.grid.sokoban_solver import SokobanSolver
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


def test_shipped_solver_tables_equal_the_tables_a_reset_builds():
    assert TABLE_DIFFICULTIES == ("easy",)
    indices = random.Random(1).sample(sorted(load_bank("easy")), 40)
    for index in [seed_index(0), *indices]:
        rows, _ = banked_level("easy", index)  # type: ignore[misc]
        level, _ = Level.from_rows(rows)
        built, shipped = SokobanSolver(level), SokobanSolver(level)
        built.prepare()
        packed = banked_table("easy", index, rows)
        assert packed is not None and packed == built.pack_table()
        shipped.load_table(packed)
        assert list(shipped._table.items()) == list(built._table.items())  # order too


def test_a_banked_reset_reads_the_table_and_other_levels_get_none(monkeypatch):
    index = seed_index(7)
    rows, _ = banked_level("easy", index)  # type: ignore[misc]
    assert banked_table("easy", index, ("#####", "#@$.#", "#####")) is None  # other rows
    assert banked_table("medium", seed_index(7), rows) is None  # no tables shipped there
    fresh = SokobanSolver(Level.from_rows(rows)[0])
    fresh.prepare()

    def no_build(self: SokobanSolver) -> None:
        raise AssertionError("a banked easy level's table was built, not read")

    monkeypatch.setattr(sokoban_solver, "_solvers", OrderedDict())  # no solver kept yet
    monkeypatch.setattr(SokobanSolver, "_build_full_table", no_build)
    env = gym.make("mtenvs/Sokoban-v0").unwrapped
    env.reset(seed=7)
    solver = env._solver
    assert solver._full and len(solver._table) == len(fresh._table)
    # Same distances everywhere (learn_path may set other optimal moves along the stored
    # solution, as on a built table).
    pmask, shift = solver._pmask, solver.shift
    assert all(solver.distance(k & pmask, k >> shift) == v >> 2 for k, v in fresh._table.items())
