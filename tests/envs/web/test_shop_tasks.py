"""Shop data, task generation, splits and verification (no browser)."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from mtenvs.envs.web.shop_data import ASSET, generate
from mtenvs.envs.web.shop_tasks import (
    EVAL_SET_PATH,
    TEMPLATES,
    answers_match,
    balanced_eval_ids,
    eval_set,
    make_task,
    reached_subgoals,
    subgoal_count,
    task_from_id,
    verify,
)


def test_shipped_data_is_the_generators_output():
    assert json.loads(ASSET.read_text()) == json.loads(json.dumps(generate()))


def test_eval_set_is_fixed_test_tasks_covering_every_template():
    ids = eval_set()
    assert len(ids) == 40 and all(i.startswith("webshop-test-") for i in ids)
    assert json.loads(EVAL_SET_PATH.read_text())["task_ids"] == balanced_eval_ids(
        make_task, TEMPLATES
    )
    counts = Counter(task_from_id(i).template for i in ids)
    assert set(counts) == set(TEMPLATES) and max(counts.values()) == 4


def test_tasks_are_deterministic_and_splits_disjoint():
    assert make_task("train", 7) == make_task("train", 7)
    train = {make_task("train", i).intent for i in range(600)}
    test = {make_task("test", i).intent for i in range(600)}
    assert not train & test
    assert len(TEMPLATES) >= 10
    for split in ("train", "test"):
        assert {make_task(split, i).template for i in range(600)} == set(TEMPLATES), split


def test_task_from_id_rejects_unknown_ids():
    assert task_from_id("webshop-test-00003") == make_task("test", 3)
    with pytest.raises(ValueError, match="Unknown task id"):
        task_from_id("webshop-dev-1")


def test_answers_match_ignores_format_only():
    assert answers_match(" $1,234.50 ", "$1234.50")
    assert answers_match("sk-1234.", "SK-1234")
    assert not answers_match("$12.51", "$12.50")


def _state() -> dict:
    return copy.deepcopy(generate())


def _task(template: str):
    return next(t for t in (make_task("train", i) for i in range(500)) if t.template == template)


def test_buy_is_verified_from_orders():
    task = _task("buy_cheapest")
    state = _state()
    assert not verify(task, state, "done")
    name, street, city, zip_code = task.address
    order = {
        "id": 1004,
        "items": [{"product_id": task.product_id, "qty": task.qty}],
        "name": name,
        "street": street,
        "city": city,
        "zip": zip_code,
        "shipping": task.shipping,
        "total_cents": 1,
        "status": "processing",
        "date": "x",
    }
    state["orders"].append(order)
    assert verify(task, state, "done")
    assert "ordered" in reached_subgoals(task, state, "/")
    state["orders"][-1] = {**order, "shipping": "other"}
    assert not verify(task, state, "done")


def test_account_update_is_verified_from_the_account():
    task = _task("update_contact")
    state = _state()
    assert not verify(task, state, "done")
    state["account"].update(dict(task.updates))
    assert verify(task, state, "done")
    state["account"]["city"] = "Elsewhere"
    assert not verify(task, state, "done")


def _product(pid: int) -> dict:
    return next(p for p in generate()["products"] if p["id"] == pid)


def test_compare_products_answer_is_the_winner():
    task = _task("compare_products")
    a, b = (_product(pid) for pid in task.compare_ids)
    assert a["category"] == b["category"] and task.product_id == a["id"]
    key, pick = ("price_cents", min) if "cheaper" in task.intent else ("rating", max)
    assert a[key] != b[key]
    assert task.answer == pick((a, b), key=lambda p: p[key])["name"]
    assert verify(task, _state(), task.answer.upper()) and not verify(task, _state(), "x")
    assert reached_subgoals(task, _state(), f"/product/{b['id']}") == {f"product:{b['id']}"}
    assert subgoal_count(task) == 2


def test_buy_again_names_an_item_of_a_past_order():
    for task in (make_task("test", i) for i in range(300)):
        if task.template != "buy_again":
            continue
        order_id = int(dict(task.filters)["order"])
        order = next(o for o in generate()["orders"] if o["id"] == order_id)
        assert {"product_id": task.product_id, "qty": task.qty} in order["items"]
        assert f"#{order_id}" in task.intent and _product(task.product_id)["stock"] >= task.qty
        state = _state()
        name, street, city, zip_code = task.address or (
            "Jordan Lee",
            *(state["account"][k] for k in ("street", "city", "zip")),
        )
        state["orders"].append(
            {
                "id": 1004,
                "items": [{"product_id": task.product_id, "qty": task.qty}],
                "name": name,
                "street": street,
                "city": city,
                "zip": zip_code,
                "shipping": task.shipping,
            }
        )
        assert verify(task, state, "done")
        state["orders"][-1]["items"][0]["qty"] += 1
        assert not verify(task, state, "done")


def test_update_address_tasks_vary_in_both_splits():
    for split in ("train", "test"):
        addresses = {
            make_task(split, i).updates
            for i in range(600)
            if make_task(split, i).template == "update_address"
        }
        assert len(addresses) >= 5, split
