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
    "GoldResult",
    "check_statement",
    "is_ordered",
    "normalize_row",
    "normalize_rows",
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
    if isinstance(v, (list, tuple)):  # PostgreSQL arrays: hashable, compared element-wise
        return tuple(_value(x) for x in v)
    if isinstance(v, dict):  # PostgreSQL json
        return repr(sorted(v.items(), key=repr))
    return v


#: Value types :func:`normalize_row` leaves as they are.
_PLAIN_TYPES: frozenset[type] = frozenset({int, str, type(None)})


def normalize_row(row: Iterable[object]) -> tuple[Any, ...]:
    """A row with numbers rounded to 2 decimals (``3`` equals ``3.0``)."""
    if isinstance(row, tuple) and _PLAIN_TYPES.issuperset(map(type, row)):
        return row  # nothing to round or convert (the common case; checked in C)
    return tuple(map(_value, row))


#: Up to this many rows :func:`normalize_rows` works row by row.
_ROW_WISE_MAX = 4
#: Column value types :func:`normalize_rows` rounds in one pass without :func:`_value`.
_NUMBER_TYPES: frozenset[type] = frozenset({int, float, type(None)})


def normalize_rows(rows: Iterable[Iterable[object]]) -> list[tuple[Any, ...]]:
    """:func:`normalize_row` of every row, a column at a time: the value types of each
    column are checked once, in C, and a column of numbers is rounded in one pass."""
    tuples = [r if isinstance(r, tuple) else tuple(r) for r in rows]
    if len(tuples) <= _ROW_WISE_MAX:  # a few rows: one C-level type check per row is cheaper
        return [normalize_row(r) for r in tuples]
    columns: list[tuple[Any, ...]] = list(zip(*tuples, strict=True))
    changed = False
    for i, col in enumerate(columns):
        types = set(map(type, col))
        if types <= _PLAIN_TYPES:
            continue
        changed = True
        if types <= _NUMBER_TYPES:  # + 0.0 turns a rounded -0.0 into 0.0
            columns[i] = tuple(round(v, 2) + 0.0 if type(v) is float else v for v in col)
        else:
            columns[i] = tuple(map(_value, col))
    return list(zip(*columns, strict=True)) if changed else tuples


class GoldResult:
    """A gold result prepared once for the many comparisons of an episode: normalised
    rows, their multiset and each column's multiset of values."""

    def __init__(self, rows: Iterable[Iterable[object]]) -> None:
        self.source = rows
        self.rows = normalize_rows(rows)
        self.counts: Counter[Any] = Counter(self.rows)
        self.width = len(self.rows[0]) if self.rows else 0
        self._index: dict[Any, list[tuple[int, int]]] | None = None

    @property
    def value_index(self) -> dict[Any, list[tuple[int, int]]]:
        """Each value's (column, count) pairs: how often each gold column holds it."""
        if self._index is None:  # only needed when the rows differ
            index: dict[Any, list[tuple[int, int]]] = {}
            for i, col in enumerate(zip(*self.rows)):
                for value, n in Counter(col).items():
                    index.setdefault(value, []).append((i, n))
            self._index = index
        return self._index


Rows = Sequence[Sequence[object]]


def _gold(gold: Rows | GoldResult) -> GoldResult:
    return gold if isinstance(gold, GoldResult) else GoldResult(gold)


def results_match(gold: Rows | GoldResult, pred: Rows, *, ordered: bool) -> bool:
    """Execution accuracy: same rows (as a multiset, or a list when ``ordered``)."""
    g, p = _gold(gold), normalize_rows(pred)
    if ordered:
        return g.rows == p
    return len(p) == len(g.rows) and g.counts == Counter(p)


def _common(a: Counter[Any], b: Counter[Any]) -> int:
    """Size of the multiset intersection, walking the smaller side (a small query result
    against a large gold one costs the small one)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(min(n, b[k]) for k, n in a.items())


def _f1_counts(common: int, n_gold: int, n_pred: int) -> float:
    if n_gold == 0 and n_pred == 0:
        return 1.0
    if common == 0:
        return 0.0
    return 2 * common / (n_gold + n_pred)


def _f1(gold: Counter[Any], pred: Counter[Any]) -> float:
    return _f1_counts(_common(gold, pred), gold.total(), pred.total())


def _column_f1(gold: GoldResult, pred: list[tuple[Any, ...]]) -> float:
    """F1 of columns: each column scored by its best value-multiset F1 on the other side.

    Each column's multiset has one value per row, so a pair's F1 is ``2 * common / (gold
    rows + pred rows)``; the common counts come from the gold value index, touching only
    the values the two sides share."""
    if not gold.rows or not pred:
        return 0.0
    index = gold.value_index
    common: dict[tuple[int, int], int] = {}
    for j, col in enumerate(zip(*pred)):
        counts = Counter(col) if len(col) > 1 else {col[0]: 1}
        for value, n in counts.items():
            for i, n_gold in index.get(value, ()):
                common[i, j] = common.get((i, j), 0) + min(n, n_gold)
    best_gold, best_pred = [0.0] * gold.width, [0.0] * len(pred[0])
    scale = 2 / (len(gold.rows) + len(pred))
    for (i, j), n in common.items():
        f1 = n * scale
        best_gold[i] = max(best_gold[i], f1)
        best_pred[j] = max(best_pred[j], f1)
    recall = sum(best_gold) / len(best_gold)
    precision = sum(best_pred) / len(best_pred)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def overlap_score(gold: Rows | GoldResult, pred: Rows) -> float:
    """Partial credit in [0, 1]: mean of row F1 and column F1 (1.0 iff the multisets match)."""
    g, p = _gold(gold), normalize_rows(pred)
    rows = _f1_counts(_common(g.counts, Counter(p)), len(g.rows), len(p))
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
