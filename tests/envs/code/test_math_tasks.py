"""Math task families, determinism, split disjointness and the frozen eval sets."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from mtenvs.envs.code.math_tasks import (
    DIFFICULTIES,
    EVAL_SET_SIZE,
    FAMILY_NAMES,
    eval_set,
    make_task,
    parse_task_id,
    write_eval_sets,
)
from mtenvs.envs.code.math_verify import ANSWER_KINDS, verify
from mtenvs.error import InvalidArgumentError


def test_at_least_ten_families_and_every_one_appears_at_every_difficulty():
    assert len(FAMILY_NAMES) >= 10
    for difficulty in DIFFICULTIES:
        families = {make_task(difficulty, "train", seed).family for seed in range(24)}
        assert families == set(FAMILY_NAMES)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_tasks_are_deterministic_and_self_consistent(difficulty):
    for seed in range(36):
        task = make_task(difficulty, "test", seed)
        make_task.cache_clear()
        assert make_task(difficulty, "test", seed) == task
        assert task.kind in ANSWER_KINDS
        assert verify(task.answer, task.answer, task.kind).correct
        assert task.task_id == f"math-{difficulty}-test-{seed:05d}"
        assert parse_task_id(task.task_id) == (difficulty, "test", seed)


def test_difficulties_differ():
    assert make_task("easy", "test", 0).question != make_task("hard", "test", 0).question


def test_train_and_test_are_disjoint_by_content():
    for difficulty in DIFFICULTIES:
        train = {make_task(difficulty, "train", s).question for s in range(60)}
        test = {make_task(difficulty, "test", s).question for s in range(60)}
        assert not train & test


def test_eval_sets_reproduce_from_the_generator(tmp_path):
    write_eval_sets(tmp_path)
    for difficulty in DIFFICULTIES:
        written = json.loads((tmp_path / f"math_{difficulty}.json").read_text())
        shipped = [asdict(t) for t in eval_set(difficulty)]
        assert written["tasks"] == shipped
        assert len(shipped) == EVAL_SET_SIZE
        assert {t["family"] for t in shipped} == set(FAMILY_NAMES)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_eval_set_answers_verify_against_themselves(difficulty):
    for task in eval_set(difficulty):
        assert verify(task.answer, task.answer, task.kind).correct, task.task_id


@pytest.mark.parametrize(
    "bad", ["math-easy-val-00001", "maze-easy-test-00001", 3, None, "math-easy-test-999999"]
)
def test_bad_task_ids(bad):
    with pytest.raises(InvalidArgumentError, match="math-easy-test"):
        parse_task_id(bad)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="hard"):
        make_task("hrad", "test", 0)
    with pytest.raises(InvalidArgumentError):
        make_task("easy", "test", -1)
