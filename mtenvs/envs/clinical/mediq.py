"""MediQ-format cases: the loader, and a rule-based patient that reveals atomic facts.

``Clinical-v0`` with ``dataset=PATH`` plays MediQ JSONL records (one JSON object a line),
read as the official benchmark (github.com/stellalisy/mediQ, ``src/mediQ_benchmark.py``
and ``src/patient.py``) reads them::

    {"id": "…", "question": "…", "context": ["first sentence", …],
     "options": {"A": "…", "B": "…"}, "answer": "…", "answer_idx": "B",
     "facts": ["1. …", "2. …"], "patient": {"gender": "female", "age": 34}}

* The patient's facts are ``atomic_facts`` (what MediQ's fact-selecting patient reads),
  else ``facts`` (the name in MediQ's released files), else the context's sentences (MediQ
  would ask its language model to split the context into facts). ``patient`` is optional.
* ``initial_info``, when present, is what the doctor is told first; otherwise the first
  context sentence (a context given as one string is split at ``". "``, as MediQ does).
* Records are keyed by ``id`` as in MediQ: a later record with the same id replaces an
  earlier one.

As in MediQ, the episode opens with the initial information, the question and the
options; every fact is revealed only when a question asks about it. The rule-based patient
scores each fact by the content words it shares with the question (weighted by how rare the
word is among the case's facts, with light stemming) and answers with the best one, or with
MediQ's :data:`NO_ANSWER`. The answer is graded as MediQ grades it: the option letter
against ``answer_idx``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from mtenvs.error import InvalidArgumentError

__all__ = [
    "MEDIQ_MAX_QUESTIONS",
    "NO_ANSWER",
    "REQUIRED_FIELDS",
    "MediQEpisode",
    "MediQRecord",
    "fact_words",
    "load_mediq",
    "match_fact",
]

#: Fields every record must have.
REQUIRED_FIELDS: Final = ("id", "question", "context", "options", "answer", "answer_idx")
#: What MediQ's patient says when no fact answers a question (``src/patient.py``).
NO_ANSWER: Final = "The patient cannot answer this question, please do not ask this question again."
#: MediQ's default question budget (``--max_questions``), after which the doctor must answer.
MEDIQ_MAX_QUESTIONS: Final = 30
_WORD = re.compile(r"[a-z0-9]+")
_NUMBERING = re.compile(r"^\s*\d+[.)]\s*")
_STOP: Final = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "during",
        "each",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "patient",
        "s",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "ever",
        "recently",
        "currently",
        "noticed",
        "tell",
        "describe",
        "please",
        "any",
        "experienced",
        "experiencing",
        "feel",
        "feeling",
    ]
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def fact_words(text: str) -> frozenset[str]:
    """Stemmed content words of a text (stop words dropped)."""
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP)


@dataclass(frozen=True)
class MediQRecord:
    """One MediQ case."""

    id: str
    question: str
    context: tuple[str, ...]
    options: dict[str, str]
    answer: str
    answer_idx: str
    facts: tuple[str, ...]
    patient: dict[str, Any]
    initial_info: str

    @property
    def task_id(self) -> str:
        return f"mediq-{self.id}"

    def opening(self) -> str:
        options = "\n".join(f"{k}. {v}" for k, v in self.options.items())
        return f"{self.initial_info}\n\nQuestion: {self.question}\nOptions:\n{options}"


def _sentences(context: str) -> list[str]:
    """A context string split as MediQ's patient splits it (at ". ", periods kept)."""
    parts = context.split(". ")
    return [
        p + "." if i != len(parts) - 1 and not p.endswith(".") else p for i, p in enumerate(parts)
    ]


def _record(raw: object, where: str) -> MediQRecord:
    if not isinstance(raw, dict):
        raise InvalidArgumentError(f"MediQ record {where} is not a JSON object.")
    for name in REQUIRED_FIELDS:
        if name not in raw:
            raise InvalidArgumentError(
                f"MediQ record {where} lacks the field {name!r}; every record needs "
                f"{', '.join(REQUIRED_FIELDS)}."
            )
    context, options = raw["context"], raw["options"]
    if isinstance(context, str):
        context = _sentences(context)
    if not isinstance(context, list) or not context or not all(isinstance(s, str) for s in context):
        raise InvalidArgumentError(f"MediQ record {where}: 'context' must be a list of sentences.")
    facts = raw.get("atomic_facts") or raw.get("facts") or context
    initial = raw.get("initial_info", context[0])
    if not isinstance(options, dict) or not options:
        raise InvalidArgumentError(f"MediQ record {where}: 'options' must map letters to choices.")
    if str(raw["answer_idx"]) not in options:
        raise InvalidArgumentError(
            f"MediQ record {where}: answer_idx {raw['answer_idx']!r} is not one of the options "
            f"{', '.join(options)}."
        )
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise InvalidArgumentError(f"MediQ record {where}: 'facts' must be a list of strings.")
    if not isinstance(initial, str):
        raise InvalidArgumentError(f"MediQ record {where}: 'initial_info' must be a string.")
    patient = raw.get("patient") if isinstance(raw.get("patient"), dict) else {}
    return MediQRecord(
        id=str(raw["id"]),
        question=str(raw["question"]),
        context=tuple(context),
        options={str(k): str(v) for k, v in options.items()},
        answer=str(raw["answer"]),
        answer_idx=str(raw["answer_idx"]),
        facts=tuple(_NUMBERING.sub("", f).strip() for f in facts if f.strip()),
        patient=dict(patient or {}),
        initial_info=initial,
    )


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> tuple[MediQRecord, ...]:
    records: dict[str, MediQRecord] = {}  # by id, as MediQ's load_data: the last one wins
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as e:
                raise InvalidArgumentError(
                    f"Line {number} of {path} is not valid JSON ({e}); MediQ files hold one "
                    "JSON object per line."
                ) from e
            record = _record(raw, f"on line {number} of {path}")
            records[record.id] = record
    if not records:
        raise InvalidArgumentError(f"The MediQ file {path} holds no records.")
    return tuple(records.values())


def load_mediq(path: str | Path) -> tuple[MediQRecord, ...]:
    """Every record of a MediQ JSONL file (validated; cached while the file is unchanged)."""
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"dataset {str(path)!r} is not a file; pass a MediQ JSONL path.")
    return _load(str(file.resolve()), file.stat().st_mtime_ns)


def match_fact(record: MediQRecord, question: str) -> int | None:
    """Index of the fact a question asks about (most shared rare words), or ``None``."""
    words = fact_words(question)
    if not words:
        return None
    per_fact = [fact_words(f) for f in record.facts]
    counts = Counter(w for fw in per_fact for w in fw)
    best, best_score = None, 0.0
    for index, fw in enumerate(per_fact):
        score = sum(1.0 + math.log(len(per_fact) / counts[w]) for w in words & fw)
        if score > best_score:
            best, best_score = index, score
    return best


@dataclass
class MediQEpisode:
    """The state of one MediQ episode: the record and the facts revealed so far."""

    record: MediQRecord
    revealed: list[int]

    def respond(self, kind: str, arg: str) -> tuple[str, int | None]:
        """The patient's reply to a question (exams and tests are asked as questions about
        their name) and the index of the fact it reveals, if any."""
        query = arg if kind == "ask" else f"{arg} {'examination' if kind == 'examine' else 'test'}"
        index = match_fact(self.record, query)
        if index is None:
            return f"Patient: “{NO_ANSWER}”", None
        if index not in self.revealed:
            self.revealed.append(index)
        return f"Patient: “{self.record.facts[index]}”", index

    def option(self, answer: str) -> str | None:
        """The option letter an answer names (its letter or its text), else ``None``."""
        text = answer.strip().strip("\"'`“”‘’.").strip()
        if text.upper() in self.record.options:
            return text.upper()
        folded = " ".join(text.lower().split())
        for letter, choice in self.record.options.items():
            if " ".join(choice.lower().split()) == folded:
                return letter
        return None

    def system_prompt(self, max_turns: int, action_format: str) -> str:
        return (
            "You are a doctor answering a multiple-choice clinical question about a patient. "
            "You see only part of the case; ask the patient questions (one per turn, in plain "
            "words) to learn the rest, then answer with the letter of one option. You have "
            f"{max_turns} turns. Answer: <answer>LETTER</answer> or <action>answer(LETTER)"
            f"</action>; ask: <action>QUESTION</action>.\nReply format: {action_format}"
        )
