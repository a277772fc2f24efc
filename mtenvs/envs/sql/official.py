"""The official execution checks of Spider and BIRD, for ``Sql-v0`` with ``dataset=PATH``.

A submitted query on a Spider or BIRD question is judged the way the dataset's own
evaluation script judges a prediction (docs/sql.md, "Fidelity to the official evaluation",
compares them rule by rule):

* **Spider**: test-suite execution accuracy (``exec_eval.py`` of
  github.com/taoyds/test-suite-sql-eval, run as ``evaluation.py --etype exec`` with its
  defaults). Both statements are prepared by :func:`spider_statement` (``DISTINCT``
  dropped, ``> =`` closed up, ``YEAR(CURDATE())`` read as 2020); the results match
  (:func:`spider_results_match`) when some order of the prediction's columns makes its rows
  equal to the gold rows as a multiset, or as a list when the gold statement contains
  ``order by`` anywhere (:func:`spider_order_matters`); values compare exactly. The
  comparison runs on the question's database and on every other ``*.sqlite`` file of its
  folder (the test-suite databases, when they are there).
* **BIRD**: ``set(predicted_res) == set(ground_truth_res)`` (``bird/llm/src/evaluation.py``
  of github.com/AlibabaResearch/DAMO-ConvAI; ``evaluation_ex.py`` of bird-bench/mini_dev):
  rows as a set, so row order and duplicate rows never count; columns in the order the
  query gives them; values compare exactly (:func:`bird_results_match`).

The functions here are the rules alone, on rows already read; running the statements is
:meth:`mtenvs.envs.sql.execution.QueryRunner.check_official`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Final, Literal

__all__ = [
    "OFFICIAL_TIMEOUT_S",
    "DatasetFormat",
    "bird_results_match",
    "results_match",
    "spider_order_matters",
    "spider_results_match",
    "spider_statement",
    "statements",
]

DatasetFormat = Literal["spider", "bird"]
#: The time limit of the submitted statement by dataset format: the 60 s of Spider's
#: ``exec_eval.TIMEOUT`` and BIRD's ``--meta_time_out 30.0`` (there for the prediction and
#: the gold query together; here for the prediction alone).
OFFICIAL_TIMEOUT_S: Final[dict[str, float]] = {"spider": 60.0, "bird": 30.0}
#: Column orders tried at most by :func:`spider_results_match`; only results with many
#: columns holding the same values (Spider's never do) could need more.
MAX_COLUMN_ORDERS: Final = 10_000

Row = Sequence[object]
Rows = Sequence[Row]

# Spider's exec_eval drops each sqlparse token that reads "distinct"; these are the tokens
# whose text could: quoted strings and names, comments and bare words.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/|\w+|\s+|.""",
    re.DOTALL,
)
_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def spider_statement(sql: str) -> str:
    """``sql`` as Spider's execution check runs it: ``> =``, ``< =``, ``! =`` closed up,
    every ``DISTINCT`` keyword removed (``evaluation.py`` without ``--keep_distinct``) and
    ``YEAR(CURDATE())`` replaced by ``2020``."""
    sql = sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
    sql = "".join(t for t in _TOKEN.findall(sql) if t.lower() != "distinct")
    return _CUR_YEAR.sub("2020", sql)


def spider_order_matters(gold_sql: str) -> bool:
    """Whether Spider compares rows in order: the (prepared) gold statement contains
    ``order by`` anywhere, a subquery's included."""
    return "order by" in gold_sql.lower()


def _unordered(row: Row) -> tuple[object, ...]:
    # exec_eval's unorder_row: values sorted by their text and type name.
    return tuple(sorted(row, key=lambda v: str(v) + str(type(v))))


def _column_orders(gold: Rows, pred: Rows, width: int) -> Iterator[tuple[int, ...]]:
    """Orders of the prediction's columns whose every column holds the same multiset of
    values as the gold column it faces (the only orders that can match), each distinct
    column content tried once."""
    gold_bags = [Counter(col) for col in zip(*gold)]
    pred_cols = list(zip(*pred))
    first: dict[tuple[object, ...], int] = {}
    for j, col in enumerate(pred_cols):
        first.setdefault(col, j)
    left = Counter(first[col] for col in pred_cols)  # each content, by its first column
    bags = {j: Counter(pred_cols[j]) for j in left}
    options = [[j for j in left if bags[j] == gold_bags[i]] for i in range(width)]
    chosen: list[int] = []

    def extend(i: int) -> Iterator[tuple[int, ...]]:
        if i == width:
            yield tuple(chosen)
            return
        for j in options[i]:
            if left[j]:
                left[j] -= 1
                chosen.append(j)
                yield from extend(i + 1)
                chosen.pop()
                left[j] += 1

    return extend(0)


def spider_results_match(gold: Rows, pred: Rows, *, order_matters: bool) -> bool:
    """Spider's ``result_eq``: the rows are equal as a multiset (as a list when
    ``order_matters``) under some order of the prediction's columns; the same number of
    rows and of columns; values compare with ``==`` (``1 == 1.0``, no rounding)."""
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    # exec_eval's quick rejection, kept for its one side effect: an int and an equal float
    # in rows with other values can sort apart and reject a match.
    gold_unordered = [_unordered(r) for r in gold]
    pred_unordered = [_unordered(r) for r in pred]
    if order_matters:
        if gold_unordered != pred_unordered:
            return False
        # in order, the rows match iff each gold column equals some prediction column
        return Counter(zip(*gold)) == Counter(zip(*pred))
    if set(gold_unordered) != set(pred_unordered):
        return False
    target = Counter(tuple(r) for r in gold)
    for n, order in enumerate(_column_orders(gold, pred, width)):
        if n == MAX_COLUMN_ORDERS:
            break
        if Counter(tuple(row[j] for j in order) for row in pred) == target:
            return True
    return False


def bird_results_match(gold: Rows, pred: Rows) -> bool:
    """BIRD's check: ``set(pred) == set(gold)`` (rows in any order, duplicates ignored,
    columns in order, values compared with ``==``)."""
    return {tuple(r) for r in pred} == {tuple(r) for r in gold}


def statements(fmt: DatasetFormat, sql: str, gold_sql: str) -> tuple[str, str]:
    """The submitted and the gold statement as ``fmt``'s evaluation runs them."""
    if fmt == "spider":
        return spider_statement(sql), spider_statement(gold_sql)
    return sql, gold_sql


def results_match(fmt: DatasetFormat, gold: Rows, pred: Rows, gold_sql: str) -> bool:
    """The official verdict of ``fmt`` on rows already read (``gold_sql`` the gold
    statement as run: Spider's decides whether order matters)."""
    if fmt == "spider":
        return spider_results_match(gold, pred, order_matters=spider_order_matters(gold_sql))
    return bird_results_match(gold, pred)
