"""Wiki data, task generation, splits and verification (no browser)."""

from __future__ import annotations

import copy
import json

from mtenvs.envs.web.wiki_data import ASSET, generate
from mtenvs.envs.web.wiki_tasks import (
    EVAL_SET_PATH,
    TEMPLATES,
    eval_set,
    make_task,
    reached_subgoals,
    verify,
)


def test_shipped_data_is_the_generators_output():
    assert json.loads(ASSET.read_text()) == json.loads(json.dumps(generate()))


def test_every_link_points_to_an_article():
    import re

    arts = generate()["articles"]
    for art in arts.values():
        markup = art["text"] + " ".join(v for _, v in art["infobox"])
        assert set(re.findall(r"\[\[([^\]]+)\]\]", markup)) <= set(arts)


def test_eval_set_and_splits():
    assert json.loads(EVAL_SET_PATH.read_text())["task_ids"] == eval_set()
    assert eval_set() == [make_task("test", i).task_id for i in range(40)]
    train = {make_task("train", i).intent for i in range(600)}
    test = {make_task("test", i).intent for i in range(600)}
    assert not train & test
    assert {make_task("train", i).template for i in range(600)} == set(TEMPLATES)


def _task(template: str):
    return next(t for t in (make_task("train", i) for i in range(500)) if t.template == template)


def test_multi_hop_paths_follow_the_links():
    task = _task("birth_capital")
    arts = generate()["articles"]
    person, city, country = task.path
    assert f"[[{city}]]" in arts[person]["text"] and f"[[{country}]]" in arts[city]["text"]
    assert verify(task, generate(), task.answer.lower()) and not verify(task, generate(), "x")


def test_edit_is_verified_from_the_article_and_its_revisions():
    task = _task("append_sentence")
    title = task.path[0]
    state = copy.deepcopy(generate())
    assert not verify(task, state, "done")
    state["articles"][title]["text"] = task.new_text
    state["articles"][title]["revisions"].append(
        {"rev": 9, "user": "Agent", "summary": task.summary}
    )
    assert verify(task, state, "done")
    assert "saved" in reached_subgoals(task, state, "/")
    other = next(t for t in state["articles"] if t != title)
    state["articles"][other]["revisions"].append({"rev": 9, "user": "Agent", "summary": "x"})
    assert not verify(task, state, "done")
