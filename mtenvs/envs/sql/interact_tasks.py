"""Ambiguous requests with hidden clarifications and a follow-up, for ``SqlInteract``.

An :class:`InteractTemplate` holds a request that cannot be answered without asking (what
is "recent", "big", "busy"?), the clarifications that resolve it (hidden; the user
simulator reveals them), the gold SQL of the resolved request, and a follow-up request
that arrives once the first is solved (it builds on the clarified meaning; some follow-ups
change data). Instances, splits and the fixed eval set
(``mtenvs/assets/sql/sql_interact_test.json``) work as in :mod:`mtenvs.envs.sql.tasks`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from mtenvs.envs.sql.data import DEFAULT_SCALE
from mtenvs.envs.sql.tasks import DB_SEEDS, SqlTask, asset_path, has_effect
from mtenvs.envs.sql.templates import TemplateKind
from mtenvs.envs.sql.user_sim import Clarification
from mtenvs.error import InvalidArgumentError

__all__ = [
    "INTERACT_TEMPLATES",
    "InteractTask",
    "InteractTemplate",
    "build_interact_eval_set",
    "interact_eval_set",
    "make_interact_task",
    "parse_interact_task_id",
    "write_interact_eval_set",
]

_EVAL_FILE: Final = "sql_interact_test.json"
_TASK_ID = re.compile(r"^sqli-(train|test)-(\d{5})$")
_MAX_DRAWS: Final = 40
_TOTAL = "SUM(oi.quantity * oi.unit_price)"
_SPENT = "-SUM(t.amount)"


@dataclass(frozen=True)
class InteractTemplate:
    """An ambiguous request (phrasings), its clarifications, gold SQL and follow-up."""

    id: str
    schema: str
    phrasings: tuple[str, ...]
    clarifications: tuple[tuple[str, tuple[str, ...], str], ...]
    gold: str
    follow_up: str
    follow_up_gold: str
    params: dict[str, tuple[str, ...]]
    follow_up_kind: TemplateKind = "read"


@dataclass(frozen=True)
class InteractTask:
    """One ambiguous task: the two requests (main, follow-up) and the hidden facts."""

    task_id: str
    template: str
    schema: str
    db_seed: int
    requests: tuple[SqlTask, SqlTask]
    clarifications: tuple[Clarification, ...]


INTERACT_TEMPLATES: Final[tuple[InteractTemplate, ...]] = (
    InteractTemplate(
        "shop_big_recent_orders",
        "shop",
        (
            "Show me the big recent orders: order id and order total (2 decimals).",
            "I need our recent big orders — order id and total value rounded to 2 decimals.",
        ),
        (
            (
                "recent",
                ("when", "date", "since", "period", "year", "time"),
                "By recent I mean placed in {year} or later.",
            ),
            (
                "big",
                ("large", "size", "total", "value", "amount", "threshold", "how much"),
                "Big means the order total (quantity times unit price) is over {amount}.",
            ),
        ),
        f"SELECT o.id, ROUND({_TOTAL}, 2) AS total FROM orders o JOIN order_items oi "
        f"ON oi.order_id = o.id WHERE o.order_date >= '{{year}}-01-01' GROUP BY o.id "
        f"HAVING {_TOTAL} > {{amount}}",
        "Great. How many of those orders came from each customer city? City and count.",
        f"SELECT c.city, COUNT(*) AS n FROM customers c JOIN (SELECT o.id, o.customer_id "
        f"FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.order_date >= "
        f"'{{year}}-01-01' GROUP BY o.id, o.customer_id HAVING {_TOTAL} > {{amount}}) b "
        f"ON b.customer_id = c.id GROUP BY c.city",
        {"year": ("2022", "2023", "2024"), "amount": ("1500", "2500", "3500")},
    ),
    InteractTemplate(
        "hospital_busy_doctors",
        "hospital",
        (
            "Which doctors are busy? Give name and number of appointments.",
            "List the busy doctors with their appointment counts (name, count).",
        ),
        (
            (
                "busy",
                ("how many", "appointments", "threshold", "count", "number", "mean"),
                "A doctor is busy with more than {k} appointments in total.",
            ),
        ),
        "SELECT d.name, COUNT(*) AS n FROM doctors d JOIN appointments a ON a.doctor_id = d.id "
        "GROUP BY d.id, d.name HAVING COUNT(*) > {k}",
        "Thanks! Now count the busy doctors per specialty (specialty, count).",
        "SELECT specialty, COUNT(*) AS n FROM (SELECT d.id, d.specialty FROM doctors d "
        "JOIN appointments a ON a.doctor_id = d.id GROUP BY d.id, d.specialty "
        "HAVING COUNT(*) > {k}) b GROUP BY specialty",
        {"k": ("10", "12", "14")},
    ),
    InteractTemplate(
        "school_struggling_students",
        "school",
        (
            "Which students are struggling? Student id and name.",
            "Find the struggling students (id, name).",
        ),
        (
            (
                "struggling",
                ("low", "score", "below", "average", "threshold", "mean", "grade"),
                "Struggling means an average score below {score}.",
            ),
            (
                "term",
                ("semester", "when", "period", "year", "time"),
                "Only look at the {term} term.",
            ),
        ),
        "SELECT s.id, s.name FROM students s JOIN enrollments e ON e.student_id = s.id "
        "WHERE e.term = '{term}' GROUP BY s.id, s.name HAVING AVG(e.score) < {score}",
        "Thanks. And their average score in that term? Id, name, average (2 decimals).",
        "SELECT s.id, s.name, ROUND(AVG(e.score), 2) AS avg_score FROM students s "
        "JOIN enrollments e ON e.student_id = s.id WHERE e.term = '{term}' "
        "GROUP BY s.id, s.name HAVING AVG(e.score) < {score}",
        {"score": ("50", "55", "60"), "term": ("2023-fall", "2024-spring", "2024-fall")},
    ),
    InteractTemplate(
        "library_overdue_loans",
        "library",
        (
            "Find the overdue loans: loan id and member name.",
            "Which loans are overdue? Loan id and the borrowing member's name.",
        ),
        (
            (
                "overdue",
                ("late", "days", "how long", "return", "definition", "mean", "date"),
                "A loan is overdue when it has not been returned and was lent before {date}.",
            ),
        ),
        "SELECT l.id, m.name FROM loans l JOIN members m ON m.id = l.member_id "
        "WHERE l.return_date IS NULL AND l.loan_date < '{date}'",
        "Thanks! How many overdue loans are there per book genre? Genre and count.",
        "SELECT b.genre, COUNT(*) AS n FROM loans l JOIN books b ON b.id = l.book_id "
        "WHERE l.return_date IS NULL AND l.loan_date < '{date}' GROUP BY b.genre",
        {"date": ("2022-01-01", "2023-01-01", "2024-01-01")},
    ),
    InteractTemplate(
        "finance_big_spenders",
        "finance",
        (
            "Who are the big spenders? Client id, name and amount spent (positive, 2 decimals).",
            "List our big spenders: client id, name, total spent as a positive number (2 "
            "decimals).",
        ),
        (
            (
                "big spender",
                ("big", "spend", "threshold", "how much", "amount", "total"),
                "A big spender's payments and withdrawals add up to more than {amount}.",
            ),
            (
                "year",
                ("when", "period", "time", "date", "which"),
                "Only count transactions made in {year}.",
            ),
        ),
        f"SELECT c.id, c.name, ROUND({_SPENT}, 2) AS spent FROM clients c JOIN accounts a "
        f"ON a.client_id = c.id JOIN transactions t ON t.account_id = a.id WHERE t.kind IN "
        f"('payment', 'withdrawal') AND substr(t.txn_date, 1, 4) = '{{year}}' "
        f"GROUP BY c.id, c.name HAVING {_SPENT} > {{amount}}",
        "Great. How many of those big spenders are in each segment? Segment and count.",
        f"SELECT c.segment, COUNT(*) AS n FROM clients c WHERE c.id IN (SELECT a.client_id "
        f"FROM accounts a JOIN transactions t ON t.account_id = a.id WHERE t.kind IN "
        f"('payment', 'withdrawal') AND substr(t.txn_date, 1, 4) = '{{year}}' "
        f"GROUP BY a.client_id HAVING {_SPENT} > {{amount}}) GROUP BY c.segment",
        {"amount": ("2000", "4000", "6000"), "year": ("2021", "2022", "2023")},
    ),
    InteractTemplate(
        "flights_delay_routes",
        "flights",
        (
            "Which routes have delay problems? Origin, destination and number of delayed flights.",
            "Find the routes with delay problems (origin, destination, delayed flights).",
        ),
        (
            (
                "delay problems",
                ("delay", "problem", "how many", "threshold", "often", "count"),
                "A route has delay problems when at least {k} of its flights were delayed.",
            ),
        ),
        "SELECT origin, destination, COUNT(*) AS n FROM flights WHERE status = 'delayed' "
        "GROUP BY origin, destination HAVING COUNT(*) >= {k}",
        "Thanks. What is the average duration of all flights on those routes? Origin, "
        "destination, average minutes (2 decimals).",
        "SELECT f.origin, f.destination, ROUND(AVG(f.duration_min), 2) AS avg_min "
        "FROM flights f JOIN (SELECT origin, destination FROM flights WHERE status = "
        "'delayed' GROUP BY origin, destination HAVING COUNT(*) >= {k}) r ON r.origin = "
        "f.origin AND r.destination = f.destination GROUP BY f.origin, f.destination",
        {"k": ("2", "3")},
    ),
    InteractTemplate(
        "shop_popular_products",
        "shop",
        (
            "Show the popular products in my category: name and units sold.",
            "Which products in my category are popular? Name and total units sold.",
        ),
        (
            (
                "category",
                ("which", "kind", "type", "department", "my "),
                "My category is {category}.",
            ),
            (
                "popular",
                ("sold", "sales", "how many", "units", "threshold", "quantity"),
                "Popular means more than {k} units sold in total.",
            ),
        ),
        "SELECT p.name, SUM(oi.quantity) AS units FROM products p JOIN order_items oi "
        "ON oi.product_id = p.id WHERE p.category = '{category}' GROUP BY p.id, p.name "
        "HAVING SUM(oi.quantity) > {k}",
        "Perfect. Please raise the price of exactly those products by 10% (rounded to 2 decimals).",
        "UPDATE products SET price = ROUND(price * 1.1, 2) WHERE id IN (SELECT p.id FROM "
        "products p JOIN order_items oi ON oi.product_id = p.id WHERE p.category = "
        "'{category}' GROUP BY p.id HAVING SUM(oi.quantity) > {k})",
        {
            "category": ("electronics", "books", "garden", "toys", "kitchen", "sports"),
            "k": ("20", "30", "40"),
        },
        follow_up_kind="write",
    ),
)


def _request(
    task_id: str,
    template: InteractTemplate,
    question: str,
    gold: str,
    kind: TemplateKind,
    db_seed: int,
) -> SqlTask:
    return SqlTask(
        task_id=task_id,
        template=template.id,
        schema=template.schema,
        question=question,
        gold_sql=gold,
        kind=kind,
        db_seed=db_seed,
        features=("interact",),
    )


def parse_interact_task_id(task_id: object) -> tuple[str, int]:
    """``(split, index)`` of an id such as ``sqli-test-00004``."""
    match = _TASK_ID.match(task_id) if isinstance(task_id, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"Bad SqlInteract task id {task_id!r}; expected "
            "'sqli-<train|test>-<5 digits>', e.g. 'sqli-test-00004'."
        )
    return match.group(1), int(match.group(2))


@lru_cache(maxsize=4096)
def make_interact_task(split: str, index: int, scale: int = DEFAULT_SCALE) -> InteractTask:
    """Ambiguous task ``index`` of ``split``: template ``index mod T``, seeded parameters
    re-drawn until both requests have an effect."""
    template = INTERACT_TEMPLATES[index % len(INTERACT_TEMPLATES)]
    db_seed = DB_SEEDS[split]
    rng = np.random.default_rng([index, db_seed, 7])
    values: dict[str, Any] = {}
    for _ in range(_MAX_DRAWS):
        values = {k: v[int(rng.integers(len(v)))] for k, v in sorted(template.params.items())}
        if has_effect(
            "read", template.gold.format(**values), template.schema, scale, db_seed
        ) and has_effect(
            template.follow_up_kind,
            template.follow_up_gold.format(**values),
            template.schema,
            scale,
            db_seed,
        ):
            break
    phrasings = template.phrasings[:-1] if split == "train" else template.phrasings[-1:]
    task_id = f"sqli-{split}-{index:05d}"
    main = _request(
        task_id,
        template,
        phrasings[int(rng.integers(len(phrasings)))],
        template.gold.format(**values),
        "read",
        db_seed,
    )
    follow = _request(
        task_id,
        template,
        template.follow_up,
        template.follow_up_gold.format(**values),
        template.follow_up_kind,
        db_seed,
    )
    clarifications = tuple(
        Clarification(facet, keywords, answer.format(**values))
        for facet, keywords, answer in template.clarifications
    )
    return InteractTask(
        task_id, template.id, template.schema, db_seed, (main, follow), clarifications
    )


def _interact_path() -> Path:
    return asset_path(_EVAL_FILE)


def build_interact_eval_set() -> list[InteractTask]:
    """The fixed eval set as generated now (test tasks ``0 … 3T-1``, default scale)."""
    return [make_interact_task("test", i) for i in range(3 * len(INTERACT_TEMPLATES))]


def write_interact_eval_set() -> Path:
    """Regenerate ``mtenvs/assets/sql/sql_interact_test.json``."""
    path = _interact_path()
    path.write_text(
        json.dumps([asdict(t) for t in build_interact_eval_set()], indent=1) + "\n",
        encoding="utf-8",
    )
    return path


@lru_cache(maxsize=1)
def interact_eval_set() -> tuple[InteractTask, ...]:
    """The stored fixed eval set."""
    out = []
    for row in json.loads(_interact_path().read_text(encoding="utf-8")):
        requests = tuple(
            SqlTask(**{**r, "features": tuple(r["features"])}) for r in row["requests"]
        )
        clarifications = tuple(
            Clarification(c["facet"], tuple(c["keywords"]), c["answer"])
            for c in row["clarifications"]
        )
        out.append(
            InteractTask(
                row["task_id"],
                row["template"],
                row["schema"],
                row["db_seed"],
                (requests[0], requests[1]),
                clarifications,
            )
        )
    return tuple(out)
