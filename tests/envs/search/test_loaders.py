"""Search loaders: HotpotQA JSON and question JSONL + corpus JSONL, from small files
written here, and the errors for missing files, fields and layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtenvs.envs.search.loaders import corpus_key, iter_corpus, load_dataset
from mtenvs.error import InvalidArgumentError

HOTPOT = [
    {
        "_id": "5a8b57f25542995d1e6f1371",
        "question": "Which magazine was started first, Arthur's Magazine or First for Women?",
        "answer": "Arthur's Magazine",
        "type": "comparison",
        "level": "medium",
        "supporting_facts": [["Arthur's Magazine", 0], ["First for Women", 0]],
        "context": [
            [
                "Radio City (Indian radio station)",
                ["Radio City is India's first private FM radio station.", " It started in 2001."],
            ],
            [
                "Arthur's Magazine",
                [
                    "Arthur's Magazine (1844-1846) was an American literary periodical.",
                    " It was published in Philadelphia.",
                ],
            ],
            ["First for Women", ["First for Women is a woman's magazine started in 1989."]],
        ],
    },
    {
        "_id": "5a8c7595554299585d9e36b6",
        "question": "The Oberoi family owns a hotel company with a head office in what city?",
        "answer": "Delhi",
        "supporting_facts": [["Oberoi family", 0], ["The Oberoi Group", 1]],
        "context": [
            [
                "Oberoi family",
                ["The Oberoi family is an Indian family.", " It owns The Oberoi Group."],
            ],
            [
                "The Oberoi Group",
                ["The Oberoi Group is a hotel company.", " Its head office is in Delhi."],
            ],
        ],
    },
]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_hotpotqa_records_become_tasks_with_their_own_corpus(tmp_path):
    loaded = load_dataset(write_json(tmp_path / "dev.json", HOTPOT))
    assert loaded.layout == "hotpotqa" and loaded.corpus is None
    first, second = loaded.tasks
    assert first.task_id == "5a8b57f25542995d1e6f1371"
    assert first.answer == "Arthur's Magazine" and first.kind == "loaded"
    assert first.supporting_doc_ids == ("Arthur's Magazine", "First for Women")
    assert [d.id for d in first.documents] == [
        "Radio City (Indian radio station)",
        "Arthur's Magazine",
        "First for Women",
    ]
    doc = first.documents[1]
    assert doc.title == "Arthur's Magazine"
    assert doc.text == (
        "Arthur's Magazine (1844-1846) was an American literary periodical. "
        "It was published in Philadelphia."
    )
    assert second.supporting_doc_ids == ("Oberoi family", "The Oberoi Group")
    assert second.hops == 2


def test_hotpotqa_as_one_record_per_line_loads_too(tmp_path):
    loaded = load_dataset(write_jsonl(tmp_path / "dev.jsonl", HOTPOT))
    assert [t.task_id for t in loaded.tasks] == [r["_id"] for r in HOTPOT]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("answer"), r"record 2: the field 'answer' is missing"),
        (lambda r: r.pop("context"), r"record 2: the field 'context' is missing"),
        (lambda r: r.update(context=[["x", "not a list"]]), r"context\[0\] must be \[title"),
        (lambda r: r.update(supporting_facts=[["Nowhere", 0]]), r"'Nowhere', which is not in"),
        (lambda r: r.update(question=""), r"'question' must be a non-empty string"),
        (lambda r: r.update(_id=HOTPOT[0]["_id"]), r"appears twice"),
    ],
)
def test_hotpotqa_errors_name_the_record_the_field_and_the_layout(tmp_path, change, message):
    records = json.loads(json.dumps(HOTPOT))
    change(records[1])
    path = write_json(tmp_path / "dev.json", records)
    with pytest.raises(InvalidArgumentError, match=message) as err:
        load_dataset(path)
    assert str(path) in str(err.value) and "Expected layout: HotpotQA JSON" in str(err.value)


def test_missing_empty_and_broken_files_are_named(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"'/no/such/file.json' does not exist"):
        load_dataset("/no/such/file.json")
    empty = write_json(tmp_path / "empty.json", [])
    with pytest.raises(InvalidArgumentError, match="no records"):
        load_dataset(empty)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"_id": ', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        load_dataset(broken)
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text('{"id": "a", "question": "q?", "answer": "x"}\n{oops\n', encoding="utf-8")
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "title": "t", "text": "x"}])
    with pytest.raises(InvalidArgumentError, match=r"record 2: not valid JSON"):
        load_dataset(bad_line, corpus)


QUESTIONS = [
    {
        "id": "nq-0",
        "question": "who wrote the velvet ledger",
        "golden_answers": ["Ida Kresh", "I. Kresh"],
    },
    {"_id": "tq-1", "question": "capital of Ostravia?", "answer": "Melk"},
    {"question": "how many moons", "answer": ["two", 2], "supporting_doc_ids": ["d2", 7]},
]
CORPUS = [
    {
        "id": "d1",
        "title": "The Velvet Ledger",
        "text": "The Velvet Ledger is a novel by Ida Kresh.",
    },
    {"id": "d2", "title": "Ostravia", "text": "Ostravia's capital is Melk."},
    {"id": 7, "title": "Moons", "text": "The planet has two moons."},
]


def test_question_jsonl_with_a_corpus(tmp_path):
    questions = write_jsonl(tmp_path / "nq.jsonl", QUESTIONS)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    loaded = load_dataset(questions, corpus)
    assert loaded.layout == "jsonl" and loaded.corpus == corpus
    a, b, c = loaded.tasks
    assert (a.task_id, a.answer, a.aliases) == ("nq-0", "Ida Kresh", ("I. Kresh",))
    assert (b.task_id, b.answer, b.aliases) == ("tq-1", "Melk", ())
    assert (c.task_id, c.answer, c.aliases) == ("q3", "two", ("2",))
    assert c.supporting_doc_ids == ("d2", "7") and not a.documents
    docs = list(iter_corpus(corpus))
    assert [(d.id, d.title) for d in docs] == [
        ("d1", "The Velvet Ledger"),
        ("d2", "Ostravia"),
        ("7", "Moons"),
    ]


def test_flashrag_contents_corpus(tmp_path):
    corpus = write_jsonl(
        tmp_path / "wiki.jsonl",
        [{"id": "0", "contents": '"Velvet Ledger"\nThe Velvet Ledger is a novel.\nSecond line.'}],
    )
    (doc,) = iter_corpus(corpus)
    assert doc.id == "0" and doc.title == "Velvet Ledger"
    assert doc.text == "The Velvet Ledger is a novel.\nSecond line."


def test_question_jsonl_errors(tmp_path):
    questions = write_jsonl(tmp_path / "nq.jsonl", QUESTIONS)
    with pytest.raises(InvalidArgumentError, match=r"need a corpus: pass corpus=PATH") as err:
        load_dataset(questions)
    assert '{"id": str, "title": str, "text": str}' in str(err.value)
    with pytest.raises(InvalidArgumentError, match=r"Corpus file '.*missing.jsonl' does not exist"):
        load_dataset(questions, tmp_path / "missing.jsonl")
    no_answer = write_jsonl(tmp_path / "q.jsonl", [QUESTIONS[0], {"id": "x", "question": "q"}])
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    with pytest.raises(
        InvalidArgumentError,
        match=r"record 2: the field 'golden_answers' or 'answer' or 'answers' is missing",
    ):
        load_dataset(no_answer, corpus)
    hotpot = write_json(tmp_path / "dev.json", HOTPOT)
    with pytest.raises(InvalidArgumentError, match="leave corpus unset"):
        load_dataset(hotpot, corpus)


def test_corpus_errors_and_cache_key(tmp_path):
    bad = write_jsonl(tmp_path / "c.jsonl", [CORPUS[0], {"id": "x", "title": "no text"}])
    with pytest.raises(InvalidArgumentError, match=r"record 2: the field 'text' is missing") as err:
        list(iter_corpus(bad))
    assert "Expected layout: corpus JSONL" in str(err.value)
    good = write_jsonl(tmp_path / "good.jsonl", CORPUS)
    key = corpus_key(good)
    assert key == corpus_key(good) and key.startswith("corpus-")
    write_jsonl(good, CORPUS[:2])
    assert corpus_key(good) != key  # an edited corpus gets a fresh index


MUSIQUE = [
    {
        "id": "2hop__1_2",
        "question": "Where was the author of The Velvet Ledger born?",
        "answer": "Melk",
        "answer_aliases": ["Melk town", "Melk"],
        "answerable": True,
        "paragraphs": [
            {"idx": 0, "title": "Moons", "paragraph_text": "The planet has two moons."},
            {
                "idx": 1,
                "title": "The Velvet Ledger",
                "paragraph_text": "The Velvet Ledger is a novel by Ida Kresh.",
                "is_supporting": True,
            },
            {
                "idx": 2,
                "title": "Ida Kresh",
                "paragraph_text": "Ida Kresh was born in Melk.",
                "is_supporting": True,
            },
        ],
    }
]


def test_musique_records_carry_their_paragraphs(tmp_path):
    loaded = load_dataset(write_jsonl(tmp_path / "musique_ans_dev.jsonl", MUSIQUE))
    assert loaded.layout == "musique" and loaded.corpus is None
    (task,) = loaded.tasks
    assert (task.task_id, task.answer, task.aliases) == ("2hop__1_2", "Melk", ("Melk town",))
    assert task.supporting_doc_ids == ("1", "2") and task.hops == 2
    assert [(d.id, d.title) for d in task.documents] == [
        ("0", "Moons"),
        ("1", "The Velvet Ledger"),
        ("2", "Ida Kresh"),
    ]
    broken = json.loads(json.dumps(MUSIQUE))
    del broken[0]["paragraphs"][1]["paragraph_text"]
    with pytest.raises(InvalidArgumentError, match=r"paragraphs\[1\] must have a string") as err:
        load_dataset(write_jsonl(tmp_path / "bad.jsonl", broken))
    assert "record 1" in str(err.value) and "Expected layout: MuSiQue JSONL" in str(err.value)
    with pytest.raises(InvalidArgumentError, match="leave corpus unset"):
        load_dataset(tmp_path / "musique_ans_dev.jsonl", write_jsonl(tmp_path / "c.jsonl", CORPUS))
