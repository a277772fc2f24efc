"""SQL tasks: template instances on a seeded database, train/test splits, fixed eval sets.

A task is (template, parameter values, phrasing, database seed). Task ``i`` of a split uses
template ``i mod T``; its parameters come from a generator seeded by (split, i) and are
re-drawn until the gold query has a non-empty result (read tasks) or changes at least one
row (write tasks), so an empty answer never passes by accident.

Splits are disjoint twice over: train tasks use database seed 0 and every phrasing but the
last; test tasks use database seed 1 and the held-out last phrasing.

The fixed evaluation set (``mtenvs/assets/sql/sql_test.json``: three test tasks per
template at the default scale) is written by :func:`write_eval_set` and stored whole —
question and gold SQL — so reference scores stay comparable.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np

from mtenvs.envs.sql.data import DEFAULT_SCALE, episode_database, source_database
from mtenvs.envs.sql.engine import execute
from mtenvs.envs.sql.templates import TEMPLATES, Template, TemplateKind
from mtenvs.error import InvalidArgumentError

__all__ = [
    "EVAL_PER_TEMPLATE",
    "TASKS_PER_SPLIT",
    "SqlTask",
    "asset_path",
    "build_eval_set",
    "eval_set",
    "has_effect",
    "make_task",
    "parse_task_id",
    "template_ids",
    "write_eval_set",
]

TASKS_PER_SPLIT: Final = 100_000
EVAL_PER_TEMPLATE: Final = 3
DB_SEEDS: Final = {"train": 0, "test": 1}
_MAX_DRAWS: Final = 40
_ASSET_DIR: Final = "assets/sql"
_EVAL_FILE: Final = "sql_test.json"
_TASK_ID = re.compile(r"^sql-(train|test)-(\d{5})(?:-([a-z]+))?$")


@dataclass(frozen=True)
class SqlTask:
    """One task: the question, its gold SQL and the database it runs on."""

    task_id: str
    template: str
    schema: str
    question: str
    gold_sql: str
    kind: TemplateKind
    db_seed: int
    features: tuple[str, ...]


def template_ids(schema: str | None = None) -> list[str]:
    """Ids of the templates (of one schema when given)."""
    return [t.id for t in TEMPLATES if schema is None or t.schema == schema]


def parse_task_id(task_id: object) -> tuple[str, int, str | None]:
    """``(split, index, schema)`` of a task id such as ``sql-test-00042`` (schema None) or
    ``sql-train-00007-shop`` (a task of an env restricted to one schema)."""
    match = _TASK_ID.match(task_id) if isinstance(task_id, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"Bad SQL task id {task_id!r}; expected 'sql-<train|test>-<5 digits>[-<schema>]', "
            "e.g. 'sql-test-00042'."
        )
    return match.group(1), int(match.group(2)), match.group(3)


def has_effect(kind: TemplateKind, gold: str, schema: str, scale: int, seed: int) -> bool:
    """Whether ``gold`` changes a row (writes) or returns a non-trivial result (reads)."""
    if kind == "write":
        conn = episode_database(schema, scale, seed)
        try:
            return execute(conn, gold, allow_writes=True, timeout_s=10.0).changes > 0
        finally:
            conn.close()
    result = execute(source_database(schema, scale, seed), gold, allow_writes=False, timeout_s=10.0)
    # A lone zero (``COUNT(*)`` of nothing) would be as trivial as an empty result.
    trivial = len(result.rows) == 1 and all(v in (0, None) for v in result.rows[0])
    return result.ok and bool(result.rows) and not trivial


def _templates(schema: str | None) -> tuple[Template, ...]:
    return tuple(t for t in TEMPLATES if schema is None or t.schema == schema)


@lru_cache(maxsize=8192)
def make_task(
    split: str, index: int, scale: int = DEFAULT_SCALE, schema: str | None = None
) -> SqlTask:
    """Task ``index`` of ``split`` (deterministic; see the module doc)."""
    templates = _templates(schema)
    template = templates[index % len(templates)]
    phrasings = template.phrasings[:-1] if split == "train" else template.phrasings[-1:]
    db_seed = DB_SEEDS[split]
    rng = np.random.default_rng([index, db_seed, len(template.id)])
    for _ in range(_MAX_DRAWS):
        values = {
            name: str(choices[int(rng.integers(len(choices)))])
            for name, choices in sorted(template.params.items())
        }
        gold = template.gold.format(**values)
        if has_effect(template.kind, gold, template.schema, scale, db_seed):
            break
    phrasing = phrasings[int(rng.integers(len(phrasings)))]
    suffix = "" if schema is None else f"-{schema}"
    return SqlTask(
        task_id=f"sql-{split}-{index:05d}" + suffix,
        template=template.id,
        schema=template.schema,
        question=phrasing.format(**values),
        gold_sql=gold,
        kind=template.kind,
        db_seed=db_seed,
        features=template.features,
    )


def asset_path(name: str) -> Path:
    """Path of a file in ``mtenvs/assets/sql``."""
    return Path(str(resources.files("mtenvs"))) / _ASSET_DIR / name


def _eval_path() -> Path:
    return asset_path(_EVAL_FILE)


def build_eval_set() -> list[SqlTask]:
    """The fixed eval set as generated now (test tasks ``0 … 3T-1`` at the default scale)."""
    return [make_task("test", i) for i in range(EVAL_PER_TEMPLATE * len(TEMPLATES))]


def write_eval_set() -> Path:
    """Regenerate ``mtenvs/assets/sql/sql_test.json`` (only when templates change)."""
    path = _eval_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(t) for t in build_eval_set()]
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return path


@lru_cache(maxsize=1)
def eval_set() -> tuple[SqlTask, ...]:
    """The stored fixed eval set."""
    rows = json.loads(_eval_path().read_text(encoding="utf-8"))
    return tuple(SqlTask(**{**row, "features": tuple(row["features"])}) for row in rows)
