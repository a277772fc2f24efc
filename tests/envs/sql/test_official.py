"""The official Spider (test-suite) and BIRD checks (mtenvs/envs/sql/official.py): on rows,
and through ``Sql-v0`` with ``dataset=`` on SQLite databases built in ``tmp_path``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.sql.dataset import load_dataset
from mtenvs.envs.sql.official import (
    OFFICIAL_TIMEOUT_S,
    bird_results_match,
    results_match,
    spider_order_matters,
    spider_results_match,
    spider_statement,
)
from mtenvs.envs.sql.verify import is_ordered
from mtenvs.envs.sql.verify import results_match as env_results_match
from mtenvs.error import InvalidArgumentError
from tests.envs.sql.test_dataset import _bird, _spider

GOLD = [("Joe", 52, "NL"), ("Tim", 32, "US"), ("Ann", 29, "FR")]


def test_spider_accepts_any_column_order_where_the_env_rule_does_not():
    pred = [(52, "NL", "Joe"), (32, "US", "Tim"), (29, "FR", "Ann")]
    assert spider_results_match(GOLD, pred, order_matters=False)
    assert spider_results_match(GOLD, pred, order_matters=True)
    assert not env_results_match(GOLD, pred, ordered=False)
    assert not bird_results_match(GOLD, pred)  # BIRD compares rows as tuples


def test_spider_rows_are_a_multiset_in_order_only_when_asked():
    shuffled = [GOLD[2], GOLD[0], GOLD[1]]
    assert spider_results_match(GOLD, shuffled, order_matters=False)
    assert not spider_results_match(GOLD, shuffled, order_matters=True)
    doubled = [("a",), ("a",), ("b",)]
    assert not spider_results_match(doubled, [("a",), ("b",), ("b",)], order_matters=False)
    assert not spider_results_match(doubled, [("a",), ("b",)], order_matters=False)
    assert spider_results_match([], [], order_matters=True)
    assert not spider_results_match([("a",)], [], order_matters=False)
    assert not spider_results_match([("a", 1)], [("a",)], order_matters=False)  # widths


def test_spider_column_order_must_hold_for_every_row_together():
    # each column has the same values, but no single column order gives the gold rows
    gold = [(1, 2), (2, 1), (3, 3)]
    assert not spider_results_match(gold, [(1, 1), (2, 2), (3, 3)], order_matters=False)
    assert spider_results_match(gold, [(2, 1), (1, 2), (3, 3)], order_matters=False)
    same = [(0,) * 8] * 3  # identical columns: one order is enough to try
    assert spider_results_match(same, same, order_matters=False)


def test_values_compare_exactly_in_both_official_rules():
    gold = [(1.3333333333333333,)]
    assert env_results_match(gold, [(1.33,)], ordered=False)  # the env rounds to 2 decimals
    assert not spider_results_match(gold, [(1.33,)], order_matters=False)
    assert not bird_results_match(gold, [(1.33,)])
    assert spider_results_match([(3,)], [(3.0,)], order_matters=False)  # 3 == 3.0
    assert bird_results_match([(3, None)], [(3.0, None)])  # NULLs are values too
    assert not bird_results_match([("Joe",)], [("joe",)])


def test_spider_keeps_the_int_float_sorting_quirk_of_its_quick_rejection():
    # exec_eval sorts each row's values by str(value) + str(type(value)) before anything
    # else: 1 and 1.0 then sort apart, so these equal rows are rejected there, as here.
    assert [(1, 1.5)] == [(1.0, 1.5)]
    assert not spider_results_match([(1, 1.5)], [(1.0, 1.5)], order_matters=False)


def test_bird_is_a_set_comparison():
    gold = [("FR",), ("FR",), ("NL",)]
    assert bird_results_match(gold, [("NL",), ("FR",)])  # duplicates and order ignored
    assert not env_results_match(gold, [("NL",), ("FR",)], ordered=False)
    assert bird_results_match([], [])
    assert not bird_results_match(gold, [("NL",)])
    assert results_match("bird", gold, [("FR",), ("NL",)], "SELECT c FROM t ORDER BY c")


@pytest.mark.parametrize(
    ("sql", "prepared"),
    [
        ("SELECT DISTINCT name FROM t", "SELECT  name FROM t"),
        ("SELECT count(DISTINCT name) FROM t", "SELECT count( name) FROM t"),
        ("select Distinct a from t where b > = 3", "select  a from t where b >= 3"),
        # words inside strings, quoted names and longer names stay
        ("SELECT 'distinct' FROM t", "SELECT 'distinct' FROM t"),
        ('SELECT "distinct", distinct_count FROM t', 'SELECT "distinct", distinct_count FROM t'),
        ("SELECT a FROM t WHERE y = YEAR(CURDATE())", "SELECT a FROM t WHERE y = 2020"),
        ("SELECT a FROM t WHERE b ! = 1 AND c < = 2", "SELECT a FROM t WHERE b != 1 AND c <= 2"),
    ],
)
def test_spider_statement_preparation(sql, prepared):
    assert spider_statement(sql) == prepared


def test_spider_order_counts_anywhere_in_the_gold_statement():
    assert spider_order_matters("SELECT a FROM t ORDER BY a")
    assert spider_order_matters("SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY c LIMIT 2)")
    assert not spider_order_matters("SELECT a FROM t")


# ---------------------------------------------------------------- through Sql-v0 with dataset=


def _dataset(root: Path, fmt: str, gold: str) -> Path:
    """A one-question Spider or BIRD directory (the concert and pets databases)."""
    root = _spider(root) if fmt == "spider" else _bird(root)
    field = "query" if fmt == "spider" else "SQL"
    (root / "dev.json").write_text(
        json.dumps([{"db_id": "concert", "question": "q", "evidence": "", field: gold}])
    )
    return root


def _submit(root: Path, pred: str, **kwargs: object) -> dict:
    """The step info of submitting ``pred`` (its observation under ``"obs"``)."""
    env = gym.make("mtenvs/Sql-v0", dataset=root, **kwargs)
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step(f"<answer>{pred}</answer>")
    env.close()
    assert terminated
    return {**info, "obs": obs}


def _env_rule(root: Path, gold: str, pred: str) -> bool:
    """The env's own rule (used for datasets before): multiset rows, top-level ORDER BY,
    2 decimals, columns in order."""
    folder = "database" if (root / "database").is_dir() else "dev_databases"
    conn = sqlite3.connect(root / folder / "concert" / "concert.sqlite")
    rows = [conn.execute(q).fetchall() for q in (gold, pred)]
    conn.close()
    return env_results_match(rows[0], rows[1], ordered=is_ordered(gold))


# (format, gold, prediction, official verdict): each differs from the env's own rule
_DIFFERENCES = [
    # Spider: columns in any order
    ("spider", "SELECT name, age FROM singer", "SELECT age, name FROM singer", True),
    # Spider: DISTINCT dropped from both statements
    ("spider", "SELECT DISTINCT country FROM singer", "SELECT country FROM singer", True),
    # Spider: ORDER BY in a subquery makes row order count
    (
        "spider",
        "SELECT name FROM singer WHERE singer_id IN "
        "(SELECT singer_id FROM singer ORDER BY age LIMIT 3)",
        "SELECT name FROM singer WHERE age < 50 ORDER BY name",
        False,
    ),
    # Spider and BIRD: values exact, no rounding to 2 decimals
    (
        "spider",
        "SELECT CAST(count(*) AS REAL) / 3 FROM concert",
        "SELECT round(count(*) / 3.0, 2) FROM concert",
        False,
    ),
    (
        "bird",
        "SELECT CAST(count(*) AS REAL) / 3 FROM concert",
        "SELECT round(count(*) / 3.0, 2) FROM concert",
        False,
    ),
    # BIRD: a set of rows, so duplicates and order never count
    ("bird", "SELECT country FROM singer", "SELECT DISTINCT country FROM singer", True),
    (
        "bird",
        "SELECT name FROM singer ORDER BY age DESC",
        "SELECT name FROM singer ORDER BY age",
        True,
    ),
]


@pytest.mark.parametrize(("fmt", "gold", "pred", "official"), _DIFFERENCES)
def test_submissions_are_judged_by_the_official_rule(tmp_path, fmt, gold, pred, official):
    root = _dataset(tmp_path / fmt, fmt, gold)
    assert _env_rule(root, gold, pred) is not official  # the old verdict differed
    info = _submit(root, pred)
    assert info["success"] is official
    assert info["reward_components"]["outcome"] == float(official)


@pytest.mark.parametrize(
    ("fmt", "pred", "official"),
    [
        ("spider", "SELECT age, name FROM singer ORDER BY age DESC", True),
        ("spider", "SELECT name, age FROM singer ORDER BY age", False),
        ("bird", "SELECT age, name FROM singer ORDER BY age DESC", False),  # columns in order
        ("bird", "SELECT name, age FROM singer", True),
    ],
)
def test_same_rows_other_columns_or_order(tmp_path, fmt, pred, official):
    root = _dataset(tmp_path / fmt, fmt, "SELECT name, age FROM singer ORDER BY age DESC")
    assert _submit(root, pred)["success"] is official


def test_spider_closes_up_split_operators_like_its_evaluation(tmp_path):
    root = _dataset(tmp_path / "spider", "spider", "SELECT count(*) FROM singer WHERE age >= 40")
    assert _submit(root, "SELECT count(*) FROM singer WHERE age > = 40")["success"]
    bird = _dataset(tmp_path / "bird", "bird", "SELECT count(*) FROM singer WHERE age >= 40")
    info = _submit(bird, "SELECT count(*) FROM singer WHERE age > = 40")
    assert not info["success"] and "syntax error" in info["obs"]  # BIRD runs it as sent


def test_spider_test_suite_databases_must_agree_too(tmp_path):
    gold, pred = (
        "SELECT name FROM singer WHERE age > 40",
        "SELECT name FROM singer WHERE singer_id IN (1, 4)",
    )
    root = _dataset(tmp_path / "spider", "spider", gold)
    assert _submit(root, pred)["success"]  # right on the question's own database
    suite = root / "database" / "concert" / "concert_1.sqlite"
    shutil.copy(root / "database" / "concert" / "concert.sqlite", suite)
    assert _submit(root, pred)["success"]  # a suite database with the same data
    conn = sqlite3.connect(suite)
    conn.execute("UPDATE singer SET age = 20 WHERE singer_id = 1")
    conn.commit()
    conn.close()
    info = _submit(root, pred)
    assert not info["success"] and info["reward_components"]["outcome"] == 0.0
    assert _submit(root, gold)["success"]
    assert load_dataset(root, "test").suites == {"concert": (suite,)}


def test_the_submission_runs_under_the_official_time_limit(tmp_path):
    slow = (
        "SELECT count(*) FROM singer WHERE (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c WHERE x < 3000000) SELECT max(x) FROM c) > 0"
    )
    root = _dataset(tmp_path / "bird", "bird", "SELECT count(*) FROM singer")
    env = gym.make("mtenvs/Sql-v0", dataset=root, query_timeout_s=0.05)
    assert env.unwrapped.submit_timeout_s == OFFICIAL_TIMEOUT_S["bird"] == 30.0
    _, info = env.reset(seed=0)
    assert "a submitted statement 30 s" in info["system_prompt"]
    assert "BIRD's official evaluation" in info["system_prompt"]
    obs, *_ = env.step(f"```sql\n{slow}\n```")
    assert "time limit" in obs  # exploring stays under query_timeout_s
    *_, info = env.step(f"<answer>{slow}</answer>")
    assert info["success"]
    env.close()
    assert not _submit(root, slow, query_timeout_s=0.05, submit_timeout_s=0.05)["success"]
    spider = _dataset(tmp_path / "spider", "spider", "SELECT 1")
    assert gym.make("mtenvs/Sql-v0", dataset=spider).unwrapped.submit_timeout_s == 60.0
    assert gym.make("mtenvs/Sql-v0", query_timeout_s=3).unwrapped.submit_timeout_s == 3.0
    with pytest.raises(
        InvalidArgumentError, match=r"submit_timeout_s must be a number in \(0, 600\]"
    ):
        gym.make("mtenvs/Sql-v0", submit_timeout_s=0)
