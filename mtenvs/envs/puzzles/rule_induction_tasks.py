"""Hidden rules for ``mtenvs/RuleInduction-v0``: families, splits, the equivalence check,
the hypothesis set and the fixed evaluation set; no I/O outside :func:`write_eval_set`.

Every hidden rule is an expression of :mod:`mtenvs.envs.puzzles.rule_expr`, so the gold
answer is itself a valid guess. Families and parameters are split once, here: whole
families are held out for ``test`` (``TEST_FAMILIES``), and of the parameterised families
every fourth parameter is too, so ``train`` and ``test`` share no rule.

Regenerate the eval set (only when the families change; bump the env version then)::

    python -m mtenvs.envs.puzzles.rule_induction_tasks --write-eval-set
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.core.tasks import stable_rng
from mtenvs.envs.puzzles.rule_expr import Expr, parse_rule
from mtenvs.error import InvalidArgumentError

__all__ = [
    "EVAL_SET_SIZE",
    "TRIPLE_RANGE",
    "RuleTask",
    "all_tasks",
    "equivalent",
    "eval_set",
    "hypotheses",
    "task_by_id",
    "task_source",
    "tasks",
]

#: Components of a tested triple must lie in this closed range.
TRIPLE_RANGE = (-1000, 1000)
EVAL_SET_SIZE = 40
_EVAL_FILE = "rule_induction_eval.json"

#: name -> (template with {k}/{m}/{lo}/{hi}, parameter dicts)
_FAMILIES: dict[str, tuple[str, list[dict[str, int]]]] = {
    "increasing": ("a < b and b < c", [{}]),
    "decreasing": ("a > b and b > c", [{}]),
    "non_decreasing": ("a <= b and b <= c", [{}]),
    "all_even": ("a % 2 == 0 and b % 2 == 0 and c % 2 == 0", [{}]),
    "all_odd": ("a % 2 == 1 and b % 2 == 1 and c % 2 == 1", [{}]),
    "sum_even": ("(a + b + c) % 2 == 0", [{}]),
    "sum_gt": ("a + b + c > {k}", [{"k": k} for k in range(0, 41, 2)]),
    "sum_lt": ("a + b + c < {k}", [{"k": k} for k in range(5, 41, 5)]),
    "all_lt": ("a < {k} and b < {k} and c < {k}", [{"k": k} for k in range(4, 31, 2)]),
    "all_positive": ("a > 0 and b > 0 and c > 0", [{}]),
    "multiples": (
        "a % {m} == 0 and b % {m} == 0 and c % {m} == 0",
        [{"m": m} for m in range(3, 8)],
    ),
    "lt_and_c_odd": ("a < b and c % 2 == 1", [{}]),
    "lt_and_c_even": ("a < b and c % 2 == 0", [{}]),
    "first_two_equal": ("a == b", [{}]),
    "distinct": ("a != b and b != c and a != c", [{}]),
    "c_is_sum": ("c == a + b", [{}]),
    "b_between": (
        "b >= {lo} and b <= {hi}",
        [{"lo": lo, "hi": lo + w} for lo in range(0, 13, 3) for w in (3, 6)],
    ),
    "a_mod": ("a % {m} == {k}", [{"m": m, "k": k} for m in (3, 4, 5) for k in (0, 1, 2)]),
    "a_largest": ("a > b and a > c", [{}]),
    "arithmetic": ("b - a == c - b", [{}]),
    "product": ("a * b == c", [{}]),
    "two_odd": ("a % 2 + b % 2 + c % 2 == 2", [{}]),
    "triangle": ("a + b > c and a + c > b and b + c > a", [{}]),
    "sum_mod": ("(a + b + c) % {m} == 0", [{"m": m} for m in (3, 4, 5)]),
}
#: Families that appear only in the test split.
TEST_FAMILIES = frozenset({"a_largest", "arithmetic", "product", "two_odd", "triangle", "sum_mod"})


@dataclass(frozen=True)
class RuleTask:
    """A hidden rule: ``task_id`` (``rule-<family>[-<params>]``), its expression and a
    triple that satisfies it (shown at the start, as 2-4-6 in Wason's task)."""

    task_id: str
    family: str
    rule: str
    example: tuple[int, int, int]
    split: str

    @property
    def expr(self) -> Expr:
        return _parsed(self.rule)


@lru_cache(maxsize=512)
def _parsed(rule: str) -> Expr:
    return parse_rule(rule)


def _example(rule: Expr, task_id: str) -> tuple[int, int, int]:
    rng = stable_rng("rule-example", task_id)
    for low, high in ((1, 12), (0, 30), (-30, 60)):
        triples = rng.integers(low, high + 1, size=(4000, 3))
        ok = rule.evaluate(triples[:, 0], triples[:, 1], triples[:, 2])
        if ok.any():
            a, b, c = triples[int(np.argmax(ok))]
            return int(a), int(b), int(c)
    raise ValueError(f"rule of {task_id} has no small example")


@lru_cache(maxsize=1)
def all_tasks() -> tuple[RuleTask, ...]:
    out = []
    for family, (template, params) in _FAMILIES.items():
        for i, p in enumerate(params):
            suffix = "".join(f"-{v}" for v in p.values())
            task_id = f"rule-{family}{suffix}"
            rule = template.format(**p)
            held_out = family in TEST_FAMILIES or (len(params) > 1 and i % 4 == 1)
            out.append(
                RuleTask(
                    task_id,
                    family,
                    rule,
                    _example(_parsed(rule), task_id),
                    "test" if held_out else "train",
                )
            )
    return tuple(out)


@lru_cache(maxsize=2)
def tasks(split: str) -> tuple[RuleTask, ...]:
    return tuple(t for t in all_tasks() if t.split == split)


def task_by_id(task_id: str) -> RuleTask | None:
    return next((t for t in all_tasks() if t.task_id == task_id), None)


def task_source(split: str, *, use_eval_set: bool) -> TaskSource[RuleTask]:
    """The rules an env plays: the fixed eval set, else rules of ``split`` drawn with the
    env's generator; an id names any rule (of the eval set, with ``eval_set``)."""
    pool = eval_set() if use_eval_set else all_tasks()

    def by_id(task_id: object) -> RuleTask:
        task = next((t for t in pool if t.task_id == str(task_id)), None)
        if task is None:
            raise InvalidArgumentError(
                f"Unknown rule task id {task_id!r}; ids look like 'rule-increasing' or "
                f"'rule-sum_gt-12' (see mtenvs.envs.puzzles.rule_induction_tasks)."
            )
        return task

    if use_eval_set:
        return TaskList(pool, "the RuleInduction eval set", lookup=by_id)
    listed = tasks(split)
    return GeneratedTasks(lambda rng: listed[int(rng.integers(len(listed)))], by_id)


# --------------------------------------------------------------------------- equivalence


@lru_cache(maxsize=1)
def _check_triples() -> np.ndarray:
    """A dense grid of small triples plus wide random ones (``int64``, shape ``(n, 3)``)."""
    side = np.arange(-12, 25)
    grid = np.stack(np.meshgrid(side, side, side, indexing="ij"), -1).reshape(-1, 3)
    wide = stable_rng("rule-check").integers(TRIPLE_RANGE[0], TRIPLE_RANGE[1] + 1, (20000, 3))
    return np.concatenate([grid, wide]).astype(np.int64)


def _boundary_triples(constants: set[int]) -> np.ndarray:
    """Triples at and around each constant ``k`` of either rule: a component equal to
    ``k - 2 .. k + 2`` (and ``-k``), and sums of two or three components equal to them."""
    rng = stable_rng("rule-boundary", tuple(sorted(constants)))
    rows = []
    for k in constants:
        for t in (k - 2, k - 1, k, k + 1, k + 2, -k - 1, -k, -k + 1):
            free = rng.integers(-15, 31, size=(60, 2))
            t_col = np.full(60, t)
            rows += [
                np.stack([t_col, free[:, 0], free[:, 1]], 1),
                np.stack([free[:, 0], t_col, free[:, 1]], 1),
                np.stack([free[:, 0], free[:, 1], t_col], 1),
                np.stack([free[:, 0], free[:, 1], t - free[:, 0] - free[:, 1]], 1),
                np.stack([free[:, 0], t - free[:, 0], free[:, 1]], 1),
            ]
    if not rows:
        return np.zeros((0, 3), dtype=np.int64)
    out = np.concatenate(rows).astype(np.int64)
    keep = (out >= TRIPLE_RANGE[0]).all(1) & (out <= TRIPLE_RANGE[1]).all(1)
    return out[keep]


def equivalent(hidden: Expr, guess: Expr) -> tuple[bool, tuple[int, int, int] | None]:
    """Whether ``guess`` agrees with ``hidden`` on every check triple (the dense grid, wide
    random triples and boundary cases around both rules' constants); else a triple where
    they differ."""
    triples = np.concatenate(
        [_check_triples(), _boundary_triples(hidden.constants() | guess.constants())]
    )
    a, b, c = triples[:, 0], triples[:, 1], triples[:, 2]
    differ = hidden.evaluate(a, b, c) != guess.evaluate(a, b, c)
    if not differ.any():
        return True, None
    x, y, z = triples[int(np.argmax(differ))]
    return False, (int(x), int(y), int(z))


# --------------------------------------------------------------------------- hypotheses


@lru_cache(maxsize=1)
def hypotheses() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The hypothesis set of the process reward and the oracle: every distinct rule of
    every family (both splits; rules that agree on every check triple merged), a pool of
    candidate test triples, and the truth table ``table[h, i]`` of rule ``h`` on triple
    ``i``."""
    rng = stable_rng("rule-pool")
    pool = np.concatenate(
        [
            rng.integers(-6, 25, size=(1500, 3)),
            rng.integers(-40, 60, size=(300, 3)),
            np.array(
                [
                    [1, 2, 3],
                    [2, 4, 6],
                    [3, 2, 1],
                    [1, 1, 1],
                    [0, 0, 0],
                    [2, 2, 2],
                    [5, 5, 10],
                    [2, 3, 6],
                    [3, 4, 5],
                    [1, 3, 5],
                    [6, 4, 2],
                ]
            ),
        ]
    ).astype(np.int64)
    seen: dict[bytes, str] = {}
    check = _check_triples()
    for task in all_tasks():
        key = np.packbits(task.expr.evaluate(check[:, 0], check[:, 1], check[:, 2])).tobytes()
        seen.setdefault(key, task.rule)
    rules = tuple(seen.values())
    table = np.stack([_parsed(r).evaluate(pool[:, 0], pool[:, 1], pool[:, 2]) for r in rules])
    return rules, pool, table


# --------------------------------------------------------------------------- eval set


def _build_eval_set(size: int) -> list[RuleTask]:
    rng = stable_rng("rule-eval-set")
    test = list(tasks("test"))
    order = list(rng.permutation(len(test)))
    while len(order) < size:
        order += list(rng.permutation(len(test)))
    return [test[int(i)] for i in order[:size]]


def write_eval_set(directory: Path, size: int = EVAL_SET_SIZE) -> Path:
    path = directory / _EVAL_FILE
    rows = [
        {"task_id": t.task_id, "family": t.family, "rule": t.rule, "example": list(t.example)}
        for t in _build_eval_set(size)
    ]
    lines = ",\n".join(json.dumps(row) for row in rows)
    path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    return path


@lru_cache(maxsize=1)
def eval_set() -> tuple[RuleTask, ...]:
    """The fixed evaluation set shipped in ``mtenvs/assets/puzzles`` (test-split rules)."""
    text = resources.files("mtenvs").joinpath("assets", "puzzles", _EVAL_FILE).read_text("utf-8")
    return tuple(
        RuleTask(row["task_id"], row["family"], row["rule"], tuple(row["example"]), "test")
        for row in json.loads(text)
    )


def main() -> None:  # pragma: no cover - a maintenance command
    parser = argparse.ArgumentParser(description="Write the RuleInduction eval set.")
    parser.add_argument("--write-eval-set", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[2] / "assets" / "puzzles"
    )
    args = parser.parse_args()
    if args.write_eval_set:
        args.out.mkdir(parents=True, exist_ok=True)
        print(write_eval_set(args.out))


if __name__ == "__main__":  # pragma: no cover
    main()
