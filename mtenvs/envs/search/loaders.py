"""Question sets from local files: HotpotQA's JSON, MuSiQue's JSONL, and question JSONL with
a corpus JSONL.

Three layouts (``dataset=PATH``, and ``corpus=PATH`` for the last), told apart by the first
record's fields:

* **HotpotQA** (distractor setting): a JSON list of records (or one record per line) with
  ``_id``, ``question``, ``answer``, ``context`` (a list of ``[title, [sentence, …]]``) and
  ``supporting_facts`` (a list of ``[title, sentence_index]``). Each record's ``context`` is
  the corpus of its episode (document id = title, text = the sentences joined); the titles
  named in ``supporting_facts`` are the supporting documents of the process reward.
  2WikiMultihopQA's own JSON has this layout too.
* **MuSiQue** (its own JSONL): ``id``, ``question``, ``answer``, ``answer_aliases`` and
  ``paragraphs`` (``{"idx", "title", "paragraph_text", "is_supporting"}``): the paragraphs
  are the episode's corpus (document id = ``idx``), the supporting ones drive the process
  reward.
* **Question JSONL** (Search-R1 / FlashRAG: NQ, TriviaQA, 2Wiki, MuSiQue…): one record per
  line with ``id`` (or ``_id``), ``question`` and ``golden_answers`` (a list: the first is
  the answer, the rest aliases) or ``answer`` (a string or a list); optional
  ``supporting_doc_ids`` (corpus ids). The questions share one corpus, ``corpus=PATH``: a
  JSONL of ``{"id", "title", "text"}`` or FlashRAG's ``{"id", "contents"}`` whose
  ``contents`` is ``"title\\ntext"``.

Errors name the file, the record number and the missing field, and show the layout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mtenvs.envs.search.types import Document, SearchTask
from mtenvs.error import InvalidArgumentError

__all__ = [
    "CORPUS_LAYOUT",
    "HOTPOTQA_LAYOUT",
    "MUSIQUE_LAYOUT",
    "QUESTIONS_LAYOUT",
    "LoadedDataset",
    "corpus_key",
    "iter_corpus",
    "load_dataset",
]

HOTPOTQA_LAYOUT: Final = (
    'HotpotQA JSON: a list of {"_id": str, "question": str, "answer": str, "context": '
    '[[title, [sentence, ...]], ...], "supporting_facts": [[title, sentence_index], ...]}'
)
MUSIQUE_LAYOUT: Final = (
    'MuSiQue JSONL: one {"id": str, "question": str, "answer": str, "answer_aliases": [str, '
    '...], "paragraphs": [{"idx": int, "title": str, "paragraph_text": str, "is_supporting": '
    "bool}, ...]} per line"
)
QUESTIONS_LAYOUT: Final = (
    'question JSONL: one {"id": str, "question": str, "golden_answers": [str, ...]} '
    '(or "answer": str) per line, with corpus=PATH'
)
CORPUS_LAYOUT: Final = (
    'corpus JSONL: one {"id": str, "title": str, "text": str} '
    '(or FlashRAG\'s {"id": str, "contents": "title\\ntext"}) per line'
)


@dataclass(frozen=True)
class LoadedDataset:
    """The tasks of a dataset file and where their documents are."""

    tasks: tuple[SearchTask, ...]
    #: ``hotpotqa`` or ``musique`` (each task carries its corpus), or ``jsonl`` (the shared
    #: ``corpus``).
    layout: str
    #: The shared corpus file (``jsonl`` layout), else ``None``.
    corpus: Path | None = None


def _fail(where: str, message: str, layout: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where}: {message}. Expected layout: {layout}.")


def _existing(path: str | os.PathLike[str], what: str, layout: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(
            f"{what} file {str(path)!r} does not exist (or is not a file); pass the path of "
            f"a local file. Expected layout: {layout}."
        )
    return file


def _records(file: Path, layout: str) -> Iterator[tuple[int, Any]]:
    """``(record number from 1, record)`` of a JSON list or a JSONL file."""
    with file.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("["):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as e:
            raise _fail(str(file), f"not valid JSON ({e})", layout) from e
        yield from enumerate(data, 1)
        return
    with file.open(encoding="utf-8") as handle:
        number = 0
        for line in handle:
            if not line.strip():
                continue
            number += 1
            try:
                yield number, json.loads(line)
            except ValueError as e:
                raise _fail(f"{file} record {number}", f"not valid JSON ({e})", layout) from e


def _field(record: dict[str, Any], names: tuple[str, ...], where: str, layout: str) -> Any:
    for name in names:
        if name in record:
            return record[name]
    spelled = " or ".join(repr(n) for n in names)
    raise _fail(where, f"the field {spelled} is missing", layout)


def _string(value: Any, name: str, where: str, layout: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{name!r} must be a non-empty string, got {value!r:.60}", layout)
    return value.strip()


def load_dataset(
    path: str | os.PathLike[str], corpus: str | os.PathLike[str] | None = None
) -> LoadedDataset:
    """The tasks of ``path`` (layout detected from its first record; see the module doc)."""
    every = f"{HOTPOTQA_LAYOUT}; or {MUSIQUE_LAYOUT}; or {QUESTIONS_LAYOUT}"
    file = _existing(path, "Dataset", every)
    records = _records(file, HOTPOTQA_LAYOUT)
    first = next(records, None)
    if first is None:
        raise _fail(str(file), "no records", every)
    head = first[1] if isinstance(first[1], dict) else {}
    kind = "hotpotqa" if "context" in head else "musique" if "paragraphs" in head else "jsonl"
    layout = {"hotpotqa": HOTPOTQA_LAYOUT, "musique": MUSIQUE_LAYOUT}.get(kind, QUESTIONS_LAYOUT)
    if kind != "jsonl" and corpus is not None:
        field = "context" if kind == "hotpotqa" else "paragraphs"
        raise InvalidArgumentError(
            f"{file} is {layout.split(':')[0]}: each record's {field!r} is the corpus of its "
            f"episode, so corpus={str(corpus)!r} is not used; leave corpus unset."
        )
    corpus_file: Path | None = None
    if kind == "jsonl":
        if corpus is None:
            raise InvalidArgumentError(
                f"{file} is a question file ({QUESTIONS_LAYOUT}); its questions need a "
                f"corpus: pass corpus=PATH, a {CORPUS_LAYOUT}."
            )
        corpus_file = _existing(corpus, "Corpus", CORPUS_LAYOUT)
    tasks: list[SearchTask] = []
    seen: set[str] = set()
    for number, record in _chain(first, records):
        where = f"{file} record {number}"
        if not isinstance(record, dict):
            raise _fail(where, f"not a JSON object ({type(record).__name__})", layout)
        if kind == "hotpotqa":
            task = _hotpot_task(record, where)
        elif kind == "musique":
            task = _musique_task(record, where)
        else:
            task = _question_task(record, where, number)
        if task.task_id in seen:
            raise _fail(where, f"the id {task.task_id!r} appears twice", layout)
        seen.add(task.task_id)
        tasks.append(task)
    return LoadedDataset(tuple(tasks), kind, corpus_file)


def _chain(first: tuple[int, Any], rest: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    yield first
    yield from rest


def _hotpot_task(record: dict[str, Any], where: str) -> SearchTask:
    layout = HOTPOTQA_LAYOUT
    task_id = _string(_field(record, ("_id", "id"), where, layout), "_id", where, layout)
    question = _string(_field(record, ("question",), where, layout), "question", where, layout)
    answer = _string(_field(record, ("answer",), where, layout), "answer", where, layout)
    context = _field(record, ("context",), where, layout)
    if not isinstance(context, list) or not context:
        raise _fail(where, "'context' must be a non-empty list of [title, sentences]", layout)
    documents: list[Document] = []
    titles: set[str] = set()
    for i, entry in enumerate(context):
        if (
            not isinstance(entry, list | tuple)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], list)
            or not all(isinstance(s, str) for s in entry[1])
        ):
            raise _fail(
                where, f"context[{i}] must be [title, [sentence, ...]], got {entry!r:.80}", layout
            )
        title = entry[0].strip()
        if title and title not in titles:
            titles.add(title)
            text = " ".join(s.strip() for s in entry[1] if s.strip())
            documents.append(Document(id=title, title=title, text=text))
    facts = _field(record, ("supporting_facts",), where, layout)
    if not isinstance(facts, list):
        raise _fail(where, "'supporting_facts' must be a list of [title, sentence_index]", layout)
    supporting: list[str] = []
    for i, fact in enumerate(facts):
        if not isinstance(fact, list | tuple) or not fact or not isinstance(fact[0], str):
            raise _fail(
                where,
                f"supporting_facts[{i}] must be [title, sentence_index], got {fact!r:.60}",
                layout,
            )
        title = fact[0].strip()
        if title not in titles:
            raise _fail(
                where, f"supporting_facts[{i}] names {title!r}, which is not in 'context'", layout
            )
        if title not in supporting:
            supporting.append(title)
    return SearchTask(
        task_id=task_id,
        question=question,
        answer=answer,
        supporting_doc_ids=tuple(supporting),
        hops=max(1, len(supporting)),
        kind="loaded",
        split="test",
        documents=tuple(documents),
    )


def _musique_task(record: dict[str, Any], where: str) -> SearchTask:
    layout = MUSIQUE_LAYOUT
    task_id = _string(_field(record, ("id", "_id"), where, layout), "id", where, layout)
    question = _string(_field(record, ("question",), where, layout), "question", where, layout)
    answer = _string(_field(record, ("answer",), where, layout), "answer", where, layout)
    aliases = record.get("answer_aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise _fail(where, "'answer_aliases' must be a list of strings", layout)
    paragraphs = _field(record, ("paragraphs",), where, layout)
    if not isinstance(paragraphs, list) or not paragraphs:
        raise _fail(where, "'paragraphs' must be a non-empty list", layout)
    documents: list[Document] = []
    supporting: list[str] = []
    for i, para in enumerate(paragraphs):
        if not isinstance(para, dict) or not isinstance(para.get("paragraph_text"), str):
            raise _fail(where, f"paragraphs[{i}] must have a string 'paragraph_text'", layout)
        doc_id = str(para.get("idx", i))
        title = para.get("title", "")
        documents.append(
            Document(
                doc_id, title.strip() if isinstance(title, str) else "", para["paragraph_text"]
            )
        )
        if para.get("is_supporting") is True:
            supporting.append(doc_id)
    if len({d.id for d in documents}) != len(documents):
        raise _fail(where, "two paragraphs share one 'idx'", layout)
    return SearchTask(
        task_id=task_id,
        question=question,
        answer=answer,
        aliases=tuple(a.strip() for a in aliases if a.strip() and a.strip() != answer),
        supporting_doc_ids=tuple(supporting),
        hops=max(1, len(supporting)),
        kind="loaded",
        split="test",
        documents=tuple(documents),
    )


def _answers(record: dict[str, Any], where: str) -> list[str]:
    layout = QUESTIONS_LAYOUT
    raw = _field(record, ("golden_answers", "answer", "answers"), where, layout)
    values = raw if isinstance(raw, list) else [raw]
    answers = []
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip() and value.strip() not in answers:
            answers.append(value.strip())
    if not answers:
        raise _fail(where, f"no non-empty answer string in {raw!r:.80}", layout)
    return answers


def _question_task(record: dict[str, Any], where: str, number: int) -> SearchTask:
    layout = QUESTIONS_LAYOUT
    raw_id = record.get("id", record.get("_id", f"q{number}"))
    task_id = _string(raw_id, "id", where, layout)
    question = _string(_field(record, ("question",), where, layout), "question", where, layout)
    answers = _answers(record, where)
    supporting = record.get("supporting_doc_ids", [])
    if not isinstance(supporting, list) or not all(
        isinstance(s, str | int) and not isinstance(s, bool) for s in supporting
    ):
        raise _fail(where, "'supporting_doc_ids' must be a list of corpus ids", layout)
    return SearchTask(
        task_id=task_id,
        question=question,
        answer=answers[0],
        aliases=tuple(answers[1:]),
        supporting_doc_ids=tuple(dict.fromkeys(str(s) for s in supporting)),
        hops=max(1, len(supporting)),
        kind="loaded",
        split="test",
    )


def iter_corpus(path: str | os.PathLike[str]) -> Iterator[Document]:
    """The documents of a corpus JSONL (see :data:`CORPUS_LAYOUT`), in file order."""
    file = _existing(path, "Corpus", CORPUS_LAYOUT)
    for number, record in _records(file, CORPUS_LAYOUT):
        where = f"{file} record {number}"
        if not isinstance(record, dict):
            raise _fail(where, f"not a JSON object ({type(record).__name__})", CORPUS_LAYOUT)
        doc_id = _string(
            _field(record, ("id", "_id"), where, CORPUS_LAYOUT), "id", where, CORPUS_LAYOUT
        )
        if "contents" in record and "text" not in record:
            contents = record["contents"]
            if not isinstance(contents, str):
                raise _fail(where, "'contents' must be a string", CORPUS_LAYOUT)
            title, _, text = contents.partition("\n")
            title = title.strip().strip('"').strip()
        else:
            text = _field(record, ("text",), where, CORPUS_LAYOUT)
            title = record.get("title", "")
            if not isinstance(text, str) or not isinstance(title, str):
                raise _fail(where, "'title' and 'text' must be strings", CORPUS_LAYOUT)
        yield Document(id=doc_id, title=title.strip(), text=text.strip())


def corpus_key(path: Path) -> str:
    """A cache key of a corpus file: its resolved path, size and modification time (an
    edited corpus gets a fresh index)."""
    stat = path.stat()
    raw = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return "corpus-" + hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()
