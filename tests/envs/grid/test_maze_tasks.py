from __future__ import annotations

import json

import pytest

from mtenvs.envs.grid.maze_tasks import (
    DIFFICULTIES,
    EVAL_SET_SIZE,
    eval_set,
    make_task,
    parse_task_id,
    task_from_dict,
    task_to_dict,
    write_eval_sets,
)
from mtenvs.error import InvalidArgumentError
from tests.envs.grid.test_maze_rules import reference_bfs


def test_tasks_are_deterministic_and_named():
    task = make_task("medium", "test", 12)
    assert task.task_id == "maze-medium-test-00012"
    make_task.cache_clear()
    assert make_task("medium", "test", 12) == task
    assert parse_task_id(task.task_id) == ("medium", "test", 12)
    assert len(task.grid) == DIFFICULTIES["medium"].size


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
def test_optimal_lengths_match_independent_bfs(difficulty):
    for seed in range(20):
        task = make_task(difficulty, "train", seed)
        dist = reference_bfs(task.grid, task.start)
        assert task.optimal_length == dist[task.goal] == max(dist.values())


def test_train_and_test_are_disjoint_by_content():
    # easy has only a few thousand distinct mazes: the content hash keeps splits apart.
    def content(split):
        return {
            (t.grid, t.start, t.goal) for t in (make_task("easy", split, s) for s in range(400))
        }

    train, test = content("train"), content("test")
    assert train.isdisjoint(test)
    assert len(test) > 200


def test_eval_sets_are_frozen_copies_of_test_tasks(tmp_path):
    for difficulty in DIFFICULTIES:
        tasks = eval_set(difficulty)
        assert len(tasks) == EVAL_SET_SIZE
        assert all(t.split == "test" and t.difficulty == difficulty for t in tasks)
        assert [t.seed for t in tasks] == list(range(EVAL_SET_SIZE))
    # The shipped files are what the generator writes today.
    write_eval_sets(tmp_path, size=5)
    for difficulty in DIFFICULTIES:
        data = json.loads((tmp_path / f"maze_{difficulty}.json").read_text())
        assert [task_from_dict(t) for t in data["tasks"]] == list(eval_set(difficulty)[:5])


def test_task_dict_round_trip():
    task = make_task("hard", "train", 99)
    assert task_from_dict(json.loads(json.dumps(task_to_dict(task)))) == task


@pytest.mark.parametrize(
    "bad",
    [
        "maze-easy-dev-00001",
        "maze-hrad-test-1",
        "sokoban-easy-test-1",
        12,
        None,
        "maze-easy-test-999999999",
    ],
)
def test_bad_task_ids_are_rejected(bad):
    with pytest.raises(InvalidArgumentError, match="maze-easy-test-00012"):
        parse_task_id(bad)


def test_bad_task_arguments_are_rejected():
    with pytest.raises(InvalidArgumentError, match="difficulty"):
        make_task("hrad", "test", 0)
    with pytest.raises(InvalidArgumentError, match="seed"):
        make_task("easy", "test", -1)
