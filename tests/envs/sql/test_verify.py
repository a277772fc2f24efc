from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mtenvs.envs.sql.verify import (
    check_statement,
    is_ordered,
    normalize_row,
    normalize_rows,
    overlap_score,
    results_match,
    state_delta_score,
    transpile,
)


def test_multiset_and_order():
    gold = [(1, "a"), (2, "b"), (2, "b")]
    assert results_match(gold, [(2, "b"), (1, "a"), (2, "b")], ordered=False)
    assert not results_match(gold, [(2, "b"), (1, "a")], ordered=False)
    assert not results_match(gold, [(2, "b"), (1, "a"), (2, "b")], ordered=True)
    assert results_match([(1.004, 3)], [(1.0, 3.0)], ordered=True)
    assert not results_match([(1.02,)], [(1.0,)], ordered=True)


def test_ordered_only_with_top_level_order_by():
    assert is_ordered("SELECT a FROM t ORDER BY a")
    assert not is_ordered("SELECT a, RANK() OVER (ORDER BY b) FROM t")
    assert not is_ordered("SELECT a FROM (SELECT a FROM t ORDER BY a) s")


def test_overlap_score_partial_credit():
    gold = [(1, "a"), (2, "b")]
    assert overlap_score(gold, gold) == 1.0
    assert overlap_score(gold, []) == 0.0
    half = overlap_score(gold, [(1, "a")])
    assert 0.5 < half < 1.0
    extra_col = overlap_score(gold, [(1, "a", 9), (2, "b", 9)])
    assert 0.3 < extra_col < 1.0


def test_state_delta_score():
    base = Counter([("t", (1,)), ("t", (2,))])
    gold = Counter([("t", (1,))])
    assert state_delta_score(base, gold, gold) == 1.0
    assert state_delta_score(base, gold, base) == 0.0


@pytest.mark.parametrize(
    ("sql", "writes", "needle"),
    [
        ("SELECT FROM WHERE", False, "line 1, column"),
        ("DELETE FROM t", False, "read-only"),
        ("DROP TABLE t", True, "DROP statements are not allowed"),
        ("PRAGMA foreign_keys = OFF", True, "not allowed"),
        ("SELECT 1; SELECT 2", False, "exactly one"),
    ],
)
def test_check_statement_refusals(sql, writes, needle):
    problem = check_statement(sql, allow_writes=writes)
    assert problem is not None and needle in problem


def test_check_statement_accepts():
    assert check_statement("WITH x AS (SELECT 1 AS a) SELECT a FROM x", allow_writes=False) is None
    assert check_statement("SELECT 1 UNION SELECT 2", allow_writes=False) is None
    assert check_statement("UPDATE t SET a = 1", allow_writes=True) is None


def test_transpile_to_postgres():
    assert "SUBSTRING" in transpile("SELECT substr(a, 1, 4) FROM t", "postgres").upper()


def test_normalize_rows_is_normalize_row_of_each_row():
    rng = np.random.default_rng(0)
    pool = [
        0,
        3,
        -7,
        2.5,
        3.0,
        -0.001,
        0.004999,
        1 / 3,
        None,
        "x",
        "a|b",
        b"\x01",
        True,
        (1.005, 2),
    ]
    for _ in range(300):
        width = int(rng.integers(1, 5))
        # a column of one type (sqlite: mostly) or mixed (sqlite's dynamic typing)
        kinds = [rng.integers(len(pool)) if rng.random() < 0.5 else None for _ in range(width)]
        rows = [
            tuple(pool[int(k if k is not None else rng.integers(len(pool)))] for k in kinds)
            for _ in range(int(rng.integers(0, 6)))
        ]
        expected = [normalize_row(r) for r in rows]
        got = normalize_rows(rows)
        assert got == expected
        # equal values have equal reprs too: -0.0 rounds to 0.0, 3 stays an int
        assert [tuple(map(repr, r)) for r in got] == [tuple(map(repr, r)) for r in expected]
    assert normalize_rows([[1.006, "a"]]) == [(1.01, "a")]  # lists become tuples
