"""Shop tasks: templates generated from the site data, split, fixed eval set, verification.

Every task is checked against the site server's state after the episode (orders placed,
account values) or against an exact answer. No I/O here except reading the assets.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mtenvs.envs.web.shop_data import load

__all__ = [
    "EVAL_SET_PATH",
    "EVAL_SET_SIZE",
    "SEEDS_PER_SPLIT",
    "TEMPLATES",
    "WebShopTask",
    "answers_match",
    "balanced_eval_ids",
    "eval_set",
    "make_task",
    "reached_subgoals",
    "subgoal_count",
    "task_from_id",
    "verify",
    "write_eval_set",
]

SEEDS_PER_SPLIT = 10_000
#: Tasks in each site's fixed eval set.
EVAL_SET_SIZE = 40
EVAL_SET_PATH = Path(__file__).resolve().parents[2] / "assets" / "web" / "webshop_eval.json"
TEMPLATES = (
    "buy_named",
    "buy_cheapest",
    "answer_price",
    "answer_sku",
    "answer_cheapest",
    "answer_order_total",
    "update_contact",
    "update_address",
    "compare_products",
    "buy_again",
)
_FIRST_NEW_ORDER = 1004
_ADDRESSES = (
    ("Ana Ortiz", "4 Elm Street", "Dover", "19901"),
    ("Sam Patel", "77 River Lane", "Salem", "97301"),
    ("Kim Novak", "9 Hill Court", "Albany", "12207"),
    ("Lee Chen", "301 Bay Avenue", "Austin", "73301"),
)
#: Street names and (city, ZIP) pairs the ``update_address`` template combines: enough
#: distinct addresses that both splits get some.
_STREETS = ("Elm Street", "River Lane", "Hill Court", "Bay Avenue", "Oak Drive", "Mill Road")
_CITIES = (("Dover", "19901"), ("Salem", "97301"), ("Albany", "12207"), ("Austin", "73301"))
#: What ``compare_products`` asks: attribute, the question's wording, and whether the
#: larger value wins.
_COMPARISONS = {"price": ("is cheaper", False), "rating": ("has the higher rating", True)}
_NEW_CONTACT = {
    "email": ("j.lee@mail.test", "jordan@home.test", "lee.j@work.test"),
    "phone": ("555-0199", "555-0123", "555-0177"),
}


@dataclass(frozen=True)
class WebShopTask:
    """One shop task: what to ask, and everything the verifier and the oracle need."""

    task_id: str
    template: str
    intent: str
    product_id: int | None = None
    qty: int = 1
    shipping: str = "standard"
    address: tuple[str, str, str, str] | None = None
    answer: str | None = None
    updates: tuple[tuple[str, str], ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    #: The products a ``compare_products`` task asks about (both pages are sub-goals).
    compare_ids: tuple[int, ...] = ()


def _money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def _split_of(key: str) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return "test" if digest[0] % 4 == 0 else "train"


def _draft(rng: random.Random, data: dict[str, Any], template: str) -> tuple[str, dict[str, Any]]:
    """A task spec drawn from ``template``."""
    products = data["products"]
    in_stock = [p for p in products if p["stock"] >= 5]
    if template == "buy_named":
        p, qty = rng.choice(in_stock), rng.randint(1, 3)
        intent = (
            f"Buy {qty} x {p['name']} and ship to the address already on your account "
            "with standard shipping. Reply answer(done) when the order is placed."
        )
        spec = {"product_id": p["id"], "qty": qty, "address": None}
    elif template == "buy_cheapest":
        cat = rng.choice(sorted({p["category"] for p in in_stock}))
        rating = rng.choice((3.0, 3.5, 4.0))
        pool = [
            p
            for p in products
            if p["category"] == cat and p["rating"] >= rating and p["stock"] >= 1
        ]
        if not pool:
            return _draft(rng, data, template)
        p = min(pool, key=lambda x: (x["price_cents"], x["id"]))
        address, shipping = rng.choice(_ADDRESSES), rng.choice(("standard", "express"))
        intent = (
            f"Buy the cheapest in-stock product in the {cat} category with a rating of "
            f"at least {rating}. Ship it with {shipping} shipping to {address[0]}, "
            f"{address[1]}, {address[2]} {address[3]}. Reply answer(done) when the "
            "order is placed."
        )
        spec = {
            "product_id": p["id"],
            "qty": 1,
            "address": address,
            "shipping": shipping,
            "filters": (("category", cat),),
        }
    elif template in ("answer_price", "answer_sku"):
        p = rng.choice(products)
        what = "price" if template == "answer_price" else "SKU"
        intent = f"What is the {what} of the {p['name']}? Give it with answer(...)."
        answer = _money(p["price_cents"]) if what == "price" else p["sku"]
        spec = {"product_id": p["id"], "answer": answer}
    elif template == "answer_cheapest":
        cat = rng.choice(sorted({p["category"] for p in products}))
        brand = rng.choice(sorted({p["brand"] for p in products if p["category"] == cat}))
        p = min(
            (x for x in products if x["category"] == cat and x["brand"] == brand),
            key=lambda x: (x["price_cents"], x["id"]),
        )
        intent = (
            f"What is the price of the cheapest {brand} product in the {cat} category? "
            "Give it with answer(...)."
        )
        spec = {
            "product_id": p["id"],
            "answer": _money(p["price_cents"]),
            "filters": (("category", cat), ("brand", brand)),
        }
    elif template == "answer_order_total":
        order = rng.choice(data["orders"])
        intent = f"What was the total of your order #{order['id']}? Give it with answer(...)."
        spec = {"answer": _money(order["total_cents"]), "filters": (("order", str(order["id"])),)}
    elif template == "update_contact":
        field = rng.choice(sorted(_NEW_CONTACT))
        value = rng.choice(_NEW_CONTACT[field])
        intent = (
            f"Change the {field} on your account to {value}. Reply answer(done) when it is saved."
        )
        spec = {"updates": ((field, value),)}
    elif template == "compare_products":
        return template, _draft_compare(rng, products)
    elif template == "buy_again":
        return template, _draft_buy_again(rng, data)
    else:
        street = f"{rng.randint(2, 98)} {rng.choice(_STREETS)}"
        city, zip_code = rng.choice(_CITIES)
        intent = (
            f"Update your account address to {street}, {city} {zip_code} (street, city, "
            "ZIP). Reply answer(done) when it is saved."
        )
        spec = {"updates": (("street", street), ("city", city), ("zip", zip_code))}
    return template, {"intent": intent, **spec}


def _draft_compare(rng: random.Random, products: list[dict[str, Any]]) -> dict[str, Any]:
    """Two products of one category that differ in the compared attribute."""
    attribute = rng.choice(sorted(_COMPARISONS))
    wording, larger_wins = _COMPARISONS[attribute]
    key = "price_cents" if attribute == "price" else "rating"
    while True:
        cat = rng.choice(sorted({p["category"] for p in products}))
        a, b = rng.sample([p for p in products if p["category"] == cat], 2)
        if a[key] != b[key]:
            break
    winner = max((a, b), key=lambda p: p[key]) if larger_wins else min((a, b), key=lambda p: p[key])
    return {
        "intent": f"Which {wording}: the {a['name']} or the {b['name']}? Give the product "
        "name with answer(...).",
        "product_id": a["id"],
        "compare_ids": (a["id"], b["id"]),
        "answer": winner["name"],
    }


def _draft_buy_again(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    """Re-order one item of a past order: which product and how many are on its order page."""
    stock = {p["id"]: p["stock"] for p in data["products"]}
    category = {p["id"]: p["category"] for p in data["products"]}
    while True:
        order = rng.choice(data["orders"])
        item = rng.choice(order["items"])
        cats = [category[i["product_id"]] for i in order["items"]]
        if (
            stock[item["product_id"]] >= item["qty"]
            and cats.count(category[item["product_id"]]) == 1
        ):
            break
    shipping = rng.choice(("standard", "express"))
    address = rng.choice((None, *_ADDRESSES))
    where = (
        "to the same address as that order"
        if address is None
        else f"to {address[0]}, {address[1]}, {address[2]} {address[3]}"
    )
    return {
        "intent": f"Buy again the item from the {category[item['product_id']]} category in "
        f"your past order #{order['id']}, in the same quantity as in that order. Ship it with {shipping} "
        f"shipping {where}. Reply answer(done) when the order is placed.",
        "product_id": item["product_id"],
        "qty": item["qty"],
        "address": address,
        "shipping": shipping,
        "filters": (("order", str(order["id"])),),
    }


@lru_cache(maxsize=4096)
def make_task(split: str, index: int) -> WebShopTask:
    """Task ``index`` of ``split`` (deterministic; train and test never share a task)."""
    data = _data()
    rng = random.Random(f"webshop-{split}-{index}")
    while True:
        template = rng.choice(TEMPLATES)
        for _ in range(30):  # templates with few distinct tasks may have none in a split
            template, spec = _draft(rng, data, template)
            if _split_of(json.dumps(spec, sort_keys=True)) == split:
                return WebShopTask(
                    task_id=f"webshop-{split}-{index:05d}", template=template, **spec
                )


def task_from_id(task_id: str) -> WebShopTask:
    """The task named ``webshop-<split>-<index>``; ``ValueError`` for anything else."""
    match = re.fullmatch(r"webshop-(train|test)-(\d{5})", task_id)
    if match is None or int(match.group(2)) >= SEEDS_PER_SPLIT:
        raise ValueError(
            f"Unknown task id {task_id!r}; expected webshop-<train|test>-<00000"
            f"..{SEEDS_PER_SPLIT - 1}>."
        )
    return make_task(match.group(1), int(match.group(2)))


def eval_set() -> list[str]:
    """The fixed evaluation task ids (test split), from ``assets/web/webshop_eval.json``."""
    ids: list[str] = json.loads(EVAL_SET_PATH.read_text(encoding="utf-8"))["task_ids"]
    return ids


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return load()


def _normalize(text: str) -> str:
    return re.sub(r"[\s$,]+", "", text.strip().lower()).rstrip(".")


def answers_match(given: str, gold: str) -> bool:
    """Exact match up to case, spaces, ``$`` and commas (``$12.50`` == ``12.50``)."""
    a, b = _normalize(given), _normalize(gold)
    if a == b:
        return True
    try:
        return abs(float(a) - float(b)) < 0.005
    except ValueError:
        return False


def _new_orders(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["id"] >= _FIRST_NEW_ORDER]


def _order_ok(task: WebShopTask, order: dict[str, Any], account: dict[str, Any]) -> bool:
    want = task.address or ("", account["street"], account["city"], account["zip"])
    got = (order["name"], order["street"], order["city"], order["zip"])
    name_ok = task.address is None or got[0].lower() == want[0].lower()
    return (
        order["items"] == [{"product_id": task.product_id, "qty": task.qty}]
        and name_ok
        and tuple(x.lower() for x in got[1:]) == tuple(x.lower() for x in want[1:])
        and order["shipping"] == task.shipping
    )


def verify(task: WebShopTask, state: dict[str, Any], answer: str) -> bool:
    """Whether the episode solved ``task``, from the final server ``state`` and answer."""
    if task.answer is not None:
        return answers_match(answer, task.answer)
    initial = _data()
    if task.template.startswith("buy"):
        orders = _new_orders(state)
        return len(orders) == 1 and _order_ok(task, orders[0], initial["account"])
    want = {**initial["account"], **dict(task.updates)}
    return state["account"] == want and not _new_orders(state)


def reached_subgoals(task: WebShopTask, state: dict[str, Any], path: str) -> set[str]:
    """Verifiable sub-goals reached now (``product_page``, ``in_cart``, ``ordered``,
    ``product:<id>`` for each compared product…)."""
    reached: set[str] = set()
    if task.compare_ids:
        reached.update(f"product:{pid}" for pid in task.compare_ids if path == f"/product/{pid}")
    elif task.product_id is not None and path.startswith(f"/product/{task.product_id}"):
        reached.add("product_page")
    if task.template.startswith("buy"):
        if {"product_id": task.product_id, "qty": task.qty} in state["cart"]:
            reached.add("in_cart")
        if any(_order_ok(task, o, _data()["account"]) for o in _new_orders(state)):
            reached.add("ordered")
    elif task.updates:
        if path.startswith("/account"):
            reached.add("account_page")
        if all(state["account"].get(k) == v for k, v in task.updates):
            reached.add("saved")
    elif task.template == "answer_order_total" and path.startswith("/orders"):
        reached.add("orders_page")
    elif task.template == "answer_cheapest" and path.startswith("/search"):
        reached.add("search_page")
    return reached


def subgoal_count(task: WebShopTask) -> int:
    """How many sub-goals :func:`reached_subgoals` can report for ``task``."""
    if task.template.startswith("buy"):
        return 3
    if task.updates or task.compare_ids:
        return 2
    return 1


def balanced_eval_ids(
    make: Callable[[str, int], Any], templates: tuple[str, ...], size: int = EVAL_SET_SIZE
) -> list[str]:
    """The first test tasks, in index order, taking at most ``ceil(size / len(templates))``
    of each template: every template is in the eval set, none dominates it."""
    cap = -(-size // len(templates))
    taken: dict[str, int] = {}
    ids: list[str] = []
    index = 0
    while len(ids) < size:
        task = make("test", index)
        if taken.get(task.template, 0) < cap:
            taken[task.template] = taken.get(task.template, 0) + 1
            ids.append(task.task_id)
        index += 1
    return ids


def write_eval_set() -> None:
    """Rewrite ``assets/web/webshop_eval.json`` (``python -m mtenvs.envs.web.shop_tasks``)."""
    ids = balanced_eval_ids(make_task, TEMPLATES)
    EVAL_SET_PATH.write_text(json.dumps({"task_ids": ids}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_eval_set()
