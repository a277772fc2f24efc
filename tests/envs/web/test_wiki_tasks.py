"""Wiki data, task generation, splits and verification (no browser)."""

from __future__ import annotations

import copy
import json

from mtenvs.envs.web.shop_tasks import balanced_eval_ids
from mtenvs.envs.web.wiki_data import ASSET, generate
from mtenvs.envs.web.wiki_tasks import (
    EVAL_SET_PATH,
    TEMPLATES,
    eval_set,
    make_task,
    reached_subgoals,
    subgoal_count,
    task_from_id,
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
    assert eval_set() == balanced_eval_ids(make_task, TEMPLATES)
    assert len(eval_set()) == 40
    assert {task_from_id(i).template for i in eval_set()} == set(TEMPLATES)
    train = {make_task("train", i).intent for i in range(600)}
    test = {make_task("test", i).intent for i in range(600)}
    assert not train & test
    assert len(TEMPLATES) >= 10
    for split in ("train", "test"):
        assert {make_task(split, i).template for i in range(600)} == set(TEMPLATES), split


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


def _infobox(article: dict, key: str) -> str:
    return dict(article["infobox"])[key].strip("[]")


def test_birth_country_fact_follows_two_links():
    task = _task("birth_country_fact")
    arts = generate()["articles"]
    person, city, country = task.path
    assert _infobox(arts[person], "Born in") == city
    assert _infobox(arts[city], "Country") == country
    assert task.answer in {v for _, v in arts[country]["infobox"]}
    assert subgoal_count(task) == 3
    assert reached_subgoals(task, generate(), "/wiki/" + country.replace(" ", "_")) == {
        f"page:{country}"
    }


def test_compare_population_answer_is_the_larger_city():
    task = _task("compare_population")
    arts = generate()["articles"]
    pops = {t: int(_infobox(arts[t], "Population").replace(",", "")) for t in task.path}
    assert len(pops) == 2 and len(set(pops.values())) == 2
    assert task.answer == max(pops, key=pops.__getitem__)
    assert verify(task, generate(), task.answer) and subgoal_count(task) == 2


def test_latest_summary_reads_the_last_revision():
    task = _task("latest_summary")
    revisions = generate()["articles"][task.path[0]]["revisions"]
    assert len(revisions) > 1 and task.answer == revisions[-1]["summary"]
    base = "/wiki/" + task.path[0].replace(" ", "_")
    assert reached_subgoals(task, generate(), base + "/history") == {"history"}
    assert subgoal_count(task) == 2
