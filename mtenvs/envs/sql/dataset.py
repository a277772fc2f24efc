"""Spider and BIRD text-to-SQL datasets from a local path (``gym.make(…, dataset=PATH)``).

Expected layout (both are SQLite; the format is detected from the question fields)::

    PATH/tables.json                       schemas (BIRD: dev_tables.json / train_tables.json)
    PATH/dev.json                          questions of split "test"
    PATH/train_spider.json | train.json    questions of split "train"
    PATH/database/<db_id>/<db_id>.sqlite   (BIRD: dev_databases/ or train_databases/)

* **Spider** questions: ``db_id``, ``question``, ``query`` (the gold SQL).
* **BIRD** questions: ``db_id``, ``question``, ``SQL`` and an optional ``evidence`` (the
  external knowledge BIRD gives with each question; it is appended to the request).

``tables.json`` lists each database's ``table_names_original`` and
``column_names_original`` (``[table_index, name]`` pairs), with optional
``column_types``, ``primary_keys`` and ``foreign_keys``; the env shows these tables and
the database's own column definitions. Every question becomes a read task
(:class:`~mtenvs.envs.sql.tasks.SqlTask`) checked by execution against its gold query as
the dataset's official evaluation checks it (:mod:`mtenvs.envs.sql.official`); each
episode runs on a fresh in-memory copy of the question's database
(:class:`DatasetDatabase`, SQLite backup API), so no episode sees another's writes. Other
``*.sqlite`` files in a Spider database's folder are its test-suite databases: a
submission must match the gold result on each of them too, as in Spider's test-suite
evaluation.

A wrong layout raises :class:`~mtenvs.error.InvalidArgumentError` naming the missing file
or field and the expected layout.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mtenvs.envs.sql.backend import SqliteDatabase
from mtenvs.envs.sql.data import _connect
from mtenvs.envs.sql.official import DatasetFormat
from mtenvs.envs.sql.schemas import Column, Schema, Table
from mtenvs.envs.sql.sqlite_worker import SqliteWorker, WorkerDatabase
from mtenvs.envs.sql.tasks import SqlTask
from mtenvs.error import InvalidArgumentError

__all__ = [
    "DATASET_LAYOUT",
    "DatasetDatabase",
    "SqlDataset",
    "copy_database",
    "load_dataset",
]

DATASET_LAYOUT: Final = (
    "Expected a Spider or BIRD layout: PATH/tables.json (BIRD: dev_tables.json or "
    "train_tables.json), a question file (dev.json for split 'test'; train_spider.json or "
    "train.json for split 'train'; or question_file=NAME) whose records have 'db_id', "
    "'question' and 'query' (Spider) or 'SQL' (BIRD, with optional 'evidence'), and "
    "PATH/database/<db_id>/<db_id>.sqlite (BIRD: dev_databases/ or train_databases/)."
)
#: Question files tried for each split, in order.
QUESTION_FILES: Final = {"test": ("dev.json",), "train": ("train_spider.json", "train.json")}
_TABLE_FILES: Final = {
    "test": ("tables.json", "dev_tables.json"),
    "train": ("tables.json", "train_tables.json"),
}
_DATABASE_DIRS: Final = {
    "test": ("database", "dev_databases", "train_databases"),
    "train": ("database", "train_databases", "dev_databases"),
}
#: Gold-SQL field of each format.
_GOLD_FIELDS: Final[dict[DatasetFormat, str]] = {"spider": "query", "bird": "SQL"}
_TABLE_FIELDS: Final = ("db_id", "table_names_original", "column_names_original")


@dataclass(frozen=True)
class SqlDataset:
    """A loaded Spider/BIRD split: its questions as tasks, schemas and database files
    (``suites``: each Spider database's test-suite databases, the other ``*.sqlite`` files
    of its folder; none for BIRD)."""

    format: DatasetFormat
    root: Path
    question_file: Path
    tasks: tuple[SqlTask, ...]
    schemas: Mapping[str, Schema]
    databases: Mapping[str, Path]
    suites: Mapping[str, tuple[Path, ...]]

    def task(self, task_id: object) -> SqlTask:
        """The task with id ``task_id`` (e.g. ``spider-test-00003``)."""
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        first, last = self.tasks[0].task_id, self.tasks[-1].task_id
        raise InvalidArgumentError(
            f"Task {task_id!r} is not in dataset {self.question_file}; its ids run from "
            f"{first!r} to {last!r}."
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidArgumentError(f"Cannot read {path} as JSON ({e}). {DATASET_LAYOUT}") from e


def _first_existing(root: Path, names: tuple[str, ...], what: str) -> Path:
    for name in names:
        if (root / name).is_file():
            return root / name
    raise InvalidArgumentError(
        f"No {what} in {root}: looked for {', '.join(names)}. {DATASET_LAYOUT}"
    )


def _schema(record: Any, number: int, path: Path, fmt: str) -> Schema:
    if not isinstance(record, dict):
        raise InvalidArgumentError(f"{path}: entry {number} is not a JSON object.")
    missing = [f for f in _TABLE_FIELDS if f not in record]
    if missing:
        raise InvalidArgumentError(
            f"{path}: entry {number} lacks field(s) {', '.join(map(repr, missing))}. "
            f"{DATASET_LAYOUT}"
        )
    tables: list[str] = [str(t) for t in record["table_names_original"]]
    columns: list[tuple[int, str]] = [(int(t), str(c)) for t, c in record["column_names_original"]]
    types = [str(t).upper() for t in record.get("column_types", [])]
    keys: set[int] = set()
    for key in record.get("primary_keys", []):  # BIRD lists composite keys as lists
        keys.update(key if isinstance(key, list) else [key])
    references = {
        int(src): f"{tables[columns[int(dst)][0]]}.{columns[int(dst)][1]}"
        for src, dst in record.get("foreign_keys", [])
    }
    by_table: list[list[Column]] = [[] for _ in tables]
    for index, (table, name) in enumerate(columns):
        if 0 <= table < len(tables):  # index -1 is Spider's "*"
            by_table[table].append(
                Column(
                    name,
                    types[index] if index < len(types) else "TEXT",
                    primary_key=index in keys,
                    nullable=True,
                    references=references.get(index),
                )
            )
    return Schema(
        name=str(record["db_id"]),
        description=f"a {fmt.capitalize()} database",
        tables=tuple(Table(t, tuple(c), 0.0) for t, c in zip(tables, by_table)),
    )


def _database_file(root: Path, db_id: str, split: str) -> Path:
    candidates = [root / d / db_id / f"{db_id}.sqlite" for d in _DATABASE_DIRS[split]]
    for path in candidates:
        if path.is_file():
            return path
    raise InvalidArgumentError(
        f"Database {db_id!r} not found: looked for {', '.join(map(str, candidates))}. "
        f"{DATASET_LAYOUT}"
    )


def _detect_format(record: dict[str, Any], number: int, path: Path) -> DatasetFormat:
    for fmt, field in _GOLD_FIELDS.items():
        if field in record:
            return fmt
    raise InvalidArgumentError(
        f"{path}: question {number} has neither 'query' (Spider) nor 'SQL' (BIRD); its "
        f"fields are {', '.join(map(repr, record))}. {DATASET_LAYOUT}"
    )


def load_dataset(
    path: str | os.PathLike[str], split: str, question_file: str | None = None
) -> SqlDataset:
    """Load the questions of ``split`` (or ``question_file``) of a Spider/BIRD directory."""
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"dataset {str(path)!r} is not a directory. {DATASET_LAYOUT}")
    if question_file is not None:
        questions_path = root / question_file
        if not questions_path.is_file():
            raise InvalidArgumentError(
                f"question_file {question_file!r} does not exist in {root}. {DATASET_LAYOUT}"
            )
    else:
        questions_path = _first_existing(root, QUESTION_FILES[split], f"{split} question file")
    records = _read_json(questions_path)
    if not isinstance(records, list) or not records:
        raise InvalidArgumentError(
            f"{questions_path} must hold a non-empty JSON list of questions. {DATASET_LAYOUT}"
        )
    first = records[0]
    if not isinstance(first, dict):
        raise InvalidArgumentError(f"{questions_path}: question 0 is not a JSON object.")
    fmt = _detect_format(first, 0, questions_path)
    tables_path = _first_existing(root, _TABLE_FILES[split], "tables file")
    table_records = _read_json(tables_path)
    if not isinstance(table_records, list):
        raise InvalidArgumentError(f"{tables_path} must hold a JSON list. {DATASET_LAYOUT}")
    schemas = {
        s.name: s for s in (_schema(r, i, tables_path, fmt) for i, r in enumerate(table_records))
    }
    tasks: list[SqlTask] = []
    databases: dict[str, Path] = {}
    suites: dict[str, tuple[Path, ...]] = {}
    for number, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidArgumentError(f"{questions_path}: question {number} is not a JSON object.")
        gold_field = _GOLD_FIELDS[fmt]
        missing = [f for f in ("db_id", "question", gold_field) if not record.get(f)]
        if missing:
            raise InvalidArgumentError(
                f"{questions_path}: question {number} lacks field(s) "
                f"{', '.join(map(repr, missing))} ({fmt.capitalize()} format). {DATASET_LAYOUT}"
            )
        db_id = str(record["db_id"])
        if db_id not in schemas:
            raise InvalidArgumentError(
                f"{questions_path}: question {number} uses database {db_id!r}, which "
                f"{tables_path.name} does not describe. {DATASET_LAYOUT}"
            )
        if db_id not in databases:
            path = databases[db_id] = _database_file(root, db_id, split)
            if fmt == "spider":
                suites[db_id] = tuple(sorted(set(path.parent.glob("*.sqlite")) - {path}))
        question = str(record["question"]).strip()
        evidence = str(record.get("evidence") or "").strip()
        if evidence:
            question += f"\nEvidence: {evidence}"
        tasks.append(
            SqlTask(
                task_id=f"{fmt}-{split}-{number:05d}",
                template=fmt,
                schema=db_id,
                question=question,
                gold_sql=str(record[gold_field]).strip(),
                kind="read",
                db_seed=0,
                features=(),
            )
        )
    return SqlDataset(fmt, root, questions_path, tuple(tasks), schemas, databases, suites)


def _lenient_text(data: bytes) -> str:
    # Some Spider databases hold text that is not valid UTF-8.
    return data.decode("utf-8", errors="replace")


def copy_database(path: Path) -> sqlite3.Connection:
    """A fresh in-memory copy of the SQLite file at ``path`` (opened read-only)."""
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise InvalidArgumentError(f"Cannot open database {path} ({e}).") from e
    try:
        conn = _connect()
        source.backup(conn)
    except sqlite3.Error as e:
        raise InvalidArgumentError(f"{path} is not a readable SQLite database ({e}).") from e
    finally:
        source.close()
    conn.text_factory = _lenient_text
    return conn


class DatasetDatabase(SqliteDatabase):
    """One episode's file copy of a dataset's SQLite file (agent statements in ``worker``)."""

    def __init__(self, path: Path, schema: Schema, worker: SqliteWorker | None = None) -> None:
        self.schema = schema
        self.source = path
        conn = copy_database(path)
        try:
            image = conn.serialize()
        finally:
            conn.close()
        WorkerDatabase.__init__(self, image, worker, lenient=True)
