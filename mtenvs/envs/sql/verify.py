"""Checking SQL answers: static checks with sqlglot and execution accuracy with partial credit.

* :func:`check_statement` parses a statement with sqlglot: a syntax error is reported with
  its line and column, and a statement the task does not allow (a write in a read-only
  task, DDL, ``ATTACH``, ``PRAGMA``…) is named as such. The envs call it when the
  database refuses or fails a statement, to explain why; the refusal itself comes from
  the database's guards (SQLite's authorizer in :mod:`mtenvs.envs.sql.engine`, an
  unprivileged role in read-only transactions in :mod:`mtenvs.envs.sql.postgres`), which
  a query cannot slip past by confusing a parser.
* :func:`results_match` is execution accuracy: the rows as a multiset, in order only when
  the gold query orders its result; numbers compare to 2 decimals.
* :func:`overlap_score` is the partial credit (``process``): the mean of a row F1 (multiset
  overlap of rows) and a column F1 (columns matched by their multiset of values, so a
  query with the right rows and one extra column still earns most of it).
* :func:`state_delta_score` does the same for write tasks over the rows a statement added
  and removed.
* :func:`transpile` turns gold SQL into another dialect.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

try:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, SqlglotError
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError('The SQL envs need sqlglot: pip install "mtenvs[sql]".') from e

__all__ = [
    "check_statement",
    "is_ordered",
    "normalize_row",
    "overlap_score",
    "results_match",
    "state_delta_score",
    "transpile",
]

# sqlglot warns (via logging) on every statement it can only read as a bare command, which
# untrusted replies produce at will; the refusal message says it already.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
_TOKEN = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")
_READ_TYPES: tuple[type[exp.Expression], ...] = (exp.Select, exp.SetOperation, exp.Subquery)
_WRITE_TYPES: tuple[type[exp.Expression], ...] = (exp.Insert, exp.Update, exp.Delete)


def check_statement(sql: str, *, allow_writes: bool, dialect: str = "sqlite") -> str | None:
    """Why ``sql`` may not run (syntax error with position, forbidden statement), or None."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        where = (
            f" at line {first.get('line')}, column {first.get('col')}"
            if first.get("line") is not None
            else ""
        )
        desc = _TOKEN.sub(r"'\1'", str(first.get("description") or e).splitlines()[0])
        return f"syntax error{where}: {desc}"
    except (SqlglotError, RecursionError, ValueError):
        return None  # sqlglot cannot read it; the database decides
    if len(statements) != 1:
        return f"send exactly one SQL statement, got {len(statements)}."
    statement = statements[0]
    if isinstance(statement, _READ_TYPES):
        return None
    if isinstance(statement, _WRITE_TYPES):
        if allow_writes:
            return None
        return (
            f"this task is read-only: {statement.key.upper()} statements are not allowed; "
            "use SELECT."
        )
    kind = (str(statement.this) if isinstance(statement, exp.Command) else statement.key).upper()
    allowed = "SELECT, INSERT, UPDATE or DELETE" if allow_writes else "SELECT"
    return f"{kind} statements are not allowed; use {allowed}."


@lru_cache(maxsize=4096)
def is_ordered(sql: str, dialect: str = "sqlite") -> bool:
    """Whether the statement's final result is ordered (a top-level ``ORDER BY``)."""
    try:
        statement = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return False
    return statement.args.get("order") is not None


def transpile(sql: str, dialect: str, source: str = "sqlite") -> str:
    """``sql`` written for ``source`` rewritten for ``dialect`` (e.g. ``"postgres"``)."""
    return sqlglot.transpile(sql, read=source, write=dialect)[0]


def _value(v: object) -> object:
    if isinstance(v, float):
        r = round(v, 2)
        return 0.0 if r == 0 else r
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


def normalize_row(row: Iterable[object]) -> tuple[Any, ...]:
    """A row with numbers rounded to 2 decimals (``3`` equals ``3.0``)."""
    return tuple(_value(v) for v in row)


def _hashable_rows(rows: Iterable[Iterable[object]]) -> list[tuple[Any, ...]]:
    if isinstance(rows, tuple):
        try:
            return _normalized(rows)
        except TypeError:  # an unhashable value: normalise without the cache
            pass
    return [normalize_row(r) for r in rows]


@lru_cache(maxsize=64)
def _normalized(rows: tuple[tuple[Any, ...], ...]) -> list[tuple[Any, ...]]:
    # The gold result is compared with every query of an episode: normalise it once.
    return [normalize_row(r) for r in rows]


def results_match(
    gold: Sequence[Sequence[object]], pred: Sequence[Sequence[object]], *, ordered: bool
) -> bool:
    """Execution accuracy: same rows (as a multiset, or a list when ``ordered``)."""
    g, p = _hashable_rows(gold), _hashable_rows(pred)
    if ordered:
        return g == p
    return Counter(g) == Counter(p)


def _f1(gold: Counter[Any], pred: Counter[Any]) -> float:
    common = sum((gold & pred).values())
    if not gold and not pred:
        return 1.0
    if common == 0:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


def _column_f1(gold: list[tuple[Any, ...]], pred: list[tuple[Any, ...]]) -> float:
    """F1 of columns: each column scored by its best value-multiset F1 on the other side."""
    g = [Counter(col) for col in zip(*gold)]
    p = [Counter(col) for col in zip(*pred)]
    if not g or not p:
        return 0.0
    pair = [[_f1(gc, pc) for pc in p] for gc in g]
    recall = sum(max(row) for row in pair) / len(g)
    precision = sum(max(pair[i][j] for i in range(len(g))) for j in range(len(p))) / len(p)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def overlap_score(gold: Sequence[Sequence[object]], pred: Sequence[Sequence[object]]) -> float:
    """Partial credit in [0, 1]: mean of row F1 and column F1 (1.0 iff the multisets match)."""
    g, p = _hashable_rows(gold), _hashable_rows(pred)
    rows = _f1(Counter(g), Counter(p))
    if rows == 1.0:
        return 1.0
    return (rows + _column_f1(g, p)) / 2


def _delta(base: Counter[Any], after: Counter[Any]) -> Counter[Any]:
    removed = base - after
    added = after - base
    out: Counter[Any] = Counter()
    for row, n in removed.items():
        out[("-", row)] += n
    for row, n in added.items():
        out[("+", row)] += n
    return out


def state_delta_score(base: Counter[Any], gold: Counter[Any], pred: Counter[Any]) -> float:
    """Write tasks: F1 of the (table, row) additions and removals against the gold ones."""
    return _f1(_delta(base, gold), _delta(base, pred))
