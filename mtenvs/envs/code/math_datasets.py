"""GSM8K and MATH from a local path, for ``gym.make("mtenvs/PythonMath-v0", dataset=PATH)``.

Expected layouts (the format is detected from the first record's fields):

* **GSM8K** (openai/grade-school-math ``train.jsonl`` / ``test.jsonl``): a JSONL file, one
  ``{"question": str, "answer": str}`` a line, the answer's last line ``#### N``. The gold
  is the official extraction of ``N`` (commas removed).
* **MATH** (hendrycks/math): records ``{"problem", "solution", "level", "type"}`` (``level``
  and ``type`` optional; ``subject`` is read for a missing ``type``, as MATH-500 names it),
  either

  - a folder of JSON files, one record each: the official ``MATH/<split>/<type>/<n>.json``.
    A folder holding ``train/`` and ``test/`` reads the env's split from them; any other
    folder is read whole (every ``*.json`` below it, in natural order);
  - a JSONL file, one record a line, or a JSON file holding one record or a list.

  The gold is the content of the solution's last ``\\boxed{…}`` (or ``\\fbox{…}``),
  brace-balanced (:mod:`~mtenvs.envs.code.math_official`).

Task ids: ``gsm8k-<split>-<index:05d>`` and ``hendrycks-math-<split>-<index:05d>`` for the
records of a file (index from 0, blank lines skipped), ``hendrycks-math-<split>-<path>`` for
a folder's files (``hendrycks-math-test-algebra-1234`` for ``algebra/1234.json``). The split
is the env's ``split`` argument (a file is one task list).

A missing path, unreadable JSON, a record without its format's fields or a gold answer
raises :class:`~mtenvs.error.InvalidArgumentError` naming the file (and line or record) and
the expected layout.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from mtenvs.envs.code.math_official import (
    grade_gsm8k,
    grade_math,
    gsm8k_gold,
    last_boxed_only_string,
    remove_boxed,
)
from mtenvs.envs.code.math_verify import Verdict
from mtenvs.error import InvalidArgumentError

__all__ = [
    "DATASET_LAYOUT",
    "GSM8K_FIELDS",
    "MATH_FIELDS",
    "DatasetFormat",
    "MathRecord",
    "load_math_dataset",
]

DatasetFormat = Literal["gsm8k", "math"]
GSM8K_FIELDS: Final = ("question", "answer")
MATH_FIELDS: Final = ("problem", "solution")
DATASET_LAYOUT: Final = (
    "Expected GSM8K (a JSONL file of {'question', 'answer'} records whose answer ends with "
    "a '#### N' line) or MATH (records {'problem', 'solution', 'level', 'type'} whose "
    "solution holds the answer in \\boxed{...}: a folder of JSON files such as "
    "MATH/test/algebra/1.json, a JSONL file, or a JSON file of one record or a list)."
)
_PREFIX: Final = {"gsm8k": "gsm8k", "math": "hendrycks-math"}
_ANSWER_KINDS: Final = {"gsm8k": "gsm8k", "math": "math"}


@dataclass(frozen=True)
class MathRecord:
    """One dataset problem: the question, the gold answer as the official grader extracts
    it, and the record's worked solution."""

    task_id: str
    format: DatasetFormat
    split: str
    question: str
    #: The gold answer: GSM8K's number (commas removed), MATH's last boxed content.
    answer: str
    #: The record's worked solution (GSM8K's ``answer`` field, MATH's ``solution``).
    solution: str
    #: MATH's ``level`` (``Level 5``); empty for GSM8K.
    level: str
    #: MATH's ``type`` (``Algebra``); empty for GSM8K.
    type: str
    #: Where the record was read: ``file:line`` or the JSON file.
    source: str

    @property
    def family(self) -> str:
        """The ``family`` info value: MATH's type, or ``gsm8k``."""
        return self.type or self.format

    @property
    def kind(self) -> str:
        """The ``answer_kind`` info value: the grader, ``gsm8k`` or ``math``."""
        return _ANSWER_KINDS[self.format]

    def grade(self, answer: str) -> Verdict:
        """The official grader's verdict on ``answer`` (pure string work, bounded)."""
        if self.format == "gsm8k":
            return grade_gsm8k(answer, self.answer)
        return grade_math(answer, self.answer)


def load_math_dataset(path: str | os.PathLike[str], split: str) -> tuple[MathRecord, ...]:
    """The records of a GSM8K or MATH file or folder (see the module doc), cached while the
    path's modification times stay the same."""
    root = Path(path)
    if not root.exists():
        raise InvalidArgumentError(
            f"dataset {str(path)!r} does not exist; pass a local file or folder. {DATASET_LAYOUT}"
        )
    if root.is_dir():
        folder = root / split if (root / split).is_dir() else root
        stamp = tuple(p.stat().st_mtime_ns for p in (folder, *_subfolders(folder)))
        return _load_folder(str(folder), split, stamp)
    return _load_file(str(root), split, root.stat().st_mtime_ns)


def _subfolders(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_dir()]


@lru_cache(maxsize=16)
def _load_file(path: str, split: str, mtime_ns: int) -> tuple[MathRecord, ...]:
    del mtime_ns  # part of the cache key: an edited file is read again
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgumentError(f"Cannot read dataset file {file} ({e}).") from e
    records: list[tuple[str, Any]] = []
    whole = _whole_json(text) if file.suffix.lower() == ".json" else None
    if whole is not None:
        items = whole if isinstance(whole, list) else [whole]
        records = [(f"{file} record {i}", item) for i, item in enumerate(items)]
    else:  # JSONL (also a .json file that is not one JSON value)
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                records.append((f"{file}:{number}", _parse_json(line, f"{file}:{number}")))
    if not records:
        raise InvalidArgumentError(f"Dataset file {file} has no records. {DATASET_LAYOUT}")
    fmt = _detect_format(*records[0])
    return tuple(
        _record(fmt, split, f"{_PREFIX[fmt]}-{split}-{index:05d}", where, item)
        for index, (where, item) in enumerate(records)
    )


@lru_cache(maxsize=4)
def _load_folder(path: str, split: str, stamp: tuple[int, ...]) -> tuple[MathRecord, ...]:
    del stamp  # part of the cache key: a file added or removed is seen
    folder = Path(path)
    files = sorted(folder.rglob("*.json"), key=lambda p: _natural(p.relative_to(folder)))
    if not files:
        raise InvalidArgumentError(
            f"dataset folder {folder} holds no .json files. {DATASET_LAYOUT}"
        )
    tasks = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidArgumentError(f"Cannot read dataset file {file} ({e}).") from e
        item = _parse_json(text, str(file))
        if _detect_format(str(file), item) != "math":
            raise InvalidArgumentError(
                f"{file} is a GSM8K record; a folder holds MATH problems, one a JSON file "
                f"(GSM8K comes as one JSONL file). {DATASET_LAYOUT}"
            )
        name = re.sub(r"[^A-Za-z0-9_.]+", "-", file.relative_to(folder).with_suffix("").as_posix())
        tasks.append(_record("math", split, f"hendrycks-math-{split}-{name}", str(file), item))
    return tuple(tasks)


def _natural(path: Path) -> list[tuple[int, int | str]]:
    # algebra/2.json before algebra/10.json
    return [
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", path.with_suffix("").as_posix())
        if part
    ]


def _whole_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidArgumentError(f"{where} is not valid JSON ({e}). {DATASET_LAYOUT}") from e


def _missing(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    return ", ".join(repr(k) for k in fields if k not in item)


def _detect_format(where: str, item: Any) -> DatasetFormat:
    if not isinstance(item, dict):
        raise InvalidArgumentError(f"{where} is not a JSON object. {DATASET_LAYOUT}")
    if all(k in item for k in GSM8K_FIELDS):
        return "gsm8k"
    if all(k in item for k in MATH_FIELDS):
        return "math"
    raise InvalidArgumentError(
        f"{where} is neither GSM8K (missing {_missing(item, GSM8K_FIELDS)}) nor MATH "
        f"(missing {_missing(item, MATH_FIELDS)}). {DATASET_LAYOUT}"
    )


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(
            f"{where}: field {key!r} must be a non-empty string, got {value!r:.60}."
        )
    return value


def _record(fmt: DatasetFormat, split: str, task_id: str, where: str, item: Any) -> MathRecord:
    if not isinstance(item, dict):
        raise InvalidArgumentError(f"{where} is not a JSON object. {DATASET_LAYOUT}")
    fields = GSM8K_FIELDS if fmt == "gsm8k" else MATH_FIELDS
    missing = _missing(item, fields)
    if missing:
        raise InvalidArgumentError(
            f"{where} lacks the {'GSM8K' if fmt == 'gsm8k' else 'MATH'} field(s) {missing}. "
            f"{DATASET_LAYOUT}"
        )
    question = _text(item, fields[0], where).strip()
    solution = _text(item, fields[1], where)
    if fmt == "gsm8k":
        gold = gsm8k_gold(solution)
        if gold is None or not _is_number(gold):
            raise InvalidArgumentError(
                f"{where}: field 'answer' has no '#### N' line with a number N (GSM8K ends "
                f"each answer with one). {DATASET_LAYOUT}"
            )
        return MathRecord(task_id, fmt, split, question, gold, solution, "", "", where)
    boxed = remove_boxed(last_boxed_only_string(solution))
    if not boxed:
        raise InvalidArgumentError(
            f"{where}: field 'solution' has no \\boxed{{...}} answer (MATH's gold answer is "
            f"the content of the solution's last \\boxed{{...}}). {DATASET_LAYOUT}"
        )
    kind = item.get("type", item.get("subject", ""))
    level = item.get("level", "")
    return MathRecord(task_id, fmt, split, question, boxed, solution, str(level), str(kind), where)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True
