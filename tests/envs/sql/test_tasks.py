from __future__ import annotations

from dataclasses import asdict

import pytest

from mtenvs.envs.sql.data import episode_database, source_database
from mtenvs.envs.sql.engine import execute
from mtenvs.envs.sql.tasks import (
    build_eval_set,
    eval_set,
    make_task,
    parse_task_id,
)
from mtenvs.envs.sql.templates import CATEGORIES, TEMPLATES
from mtenvs.error import InvalidArgumentError


def test_enough_templates_covering_every_feature():
    assert len(TEMPLATES) >= 25
    assert len({t.id for t in TEMPLATES}) == len(TEMPLATES)
    covered = {f for t in TEMPLATES for f in t.features}
    assert covered == set(CATEGORIES)
    assert all(len(t.phrasings) >= 3 for t in TEMPLATES)
    assert {t.kind for t in TEMPLATES} == {"read", "write"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_instance_runs_and_has_an_effect(template):
    index = TEMPLATES.index(template)
    for split in ("train", "test"):
        task = make_task(split, index)
        assert task.template == template.id and "{" not in task.question
        if task.kind == "write":
            conn = episode_database(task.schema, 1000, task.db_seed)
            assert execute(conn, task.gold_sql, allow_writes=True, timeout_s=5).changes > 0
        else:
            result = execute(
                source_database(task.schema, 1000, task.db_seed),
                task.gold_sql,
                allow_writes=False,
                timeout_s=5,
            )
            assert result.ok and result.rows


def test_splits_are_disjoint():
    n = len(TEMPLATES)
    train = {make_task("train", i).question for i in range(3 * n)}
    test = {make_task("test", i).question for i in range(3 * n)}
    assert not train & test
    assert {make_task("train", i).db_seed for i in range(n)} == {0}
    assert {make_task("test", i).db_seed for i in range(n)} == {1}


def test_task_ids_round_trip():
    assert parse_task_id(make_task("test", 42).task_id) == ("test", 42, None)
    assert parse_task_id(make_task("train", 7, schema="shop").task_id) == ("train", 7, "shop")
    with pytest.raises(InvalidArgumentError, match="sql-test-00042"):
        parse_task_id("sql-42")


def test_stored_eval_set_matches_the_generator():
    stored = eval_set()
    assert len(stored) == 3 * len(TEMPLATES)
    assert [asdict(t) for t in stored] == [asdict(t) for t in build_eval_set()]
