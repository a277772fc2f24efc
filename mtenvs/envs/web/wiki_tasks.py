"""Wiki tasks: multi-hop questions over linked articles, edit history, and edits.

Questions are checked against an exact answer; edits against the wiki server's state (the
article's text and its new revision). No I/O here except reading the assets.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mtenvs.envs.web.shop_tasks import answers_match, balanced_eval_ids
from mtenvs.envs.web.wiki_data import load

__all__ = [
    "EVAL_SET_PATH",
    "HISTORY_TEMPLATES",
    "TEMPLATES",
    "WebWikiTask",
    "eval_set",
    "make_task",
    "reached_subgoals",
    "subgoal_count",
    "task_from_id",
    "verify",
    "write_eval_set",
]

EVAL_SET_PATH = Path(__file__).resolve().parents[2] / "assets" / "web" / "webwiki_eval.json"
TEMPLATES = (
    "city_fact",
    "birth_country",
    "birth_capital",
    "capital_founder",
    "founder_job",
    "first_editor",
    "revision_count",
    "append_sentence",
    "birth_country_fact",
    "compare_population",
    "latest_summary",
)
#: Templates answered from an article's history page (a ``history`` sub-goal).
HISTORY_TEMPLATES = frozenset({"first_editor", "revision_count", "latest_summary"})
#: Country infobox facts ``birth_country_fact`` asks for, and how the question names them.
_COUNTRY_FACTS = {"Population": "population", "Language": "language", "Founded": "founding year"}
_SENTENCES = tuple(
    f"It is known for its {x}."
    for x in ("markets", "bridges", "festivals", "libraries", "gardens", "harbour", "bell towers")
)
_SUMMARIES = ("add fact", "expand article", "new sentence")
_LINKED = re.compile(r"\[\[([^\[\]]+)\]\]")


@dataclass(frozen=True)
class WebWikiTask:
    """One wiki task: the question or edit, the articles on its path, the gold result."""

    task_id: str
    template: str
    intent: str
    path: tuple[str, ...]
    answer: str | None = None
    new_text: str | None = None
    summary: str | None = None


def _box(article: dict[str, Any], key: str) -> str:
    value = dict((k, v) for k, v in article["infobox"])[key]
    match = _LINKED.fullmatch(value)
    return match.group(1) if match else str(value)


def _split_of(key: str) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return "test" if digest[0] % 4 == 0 else "train"


def _draft(rng: random.Random, arts: dict[str, Any], template: str) -> dict[str, Any]:
    def pick(category: str) -> str:
        return rng.choice(sorted(t for t, a in arts.items() if a["category"] == category))

    if template == "city_fact":
        city, key = pick("Cities"), rng.choice(("Population", "River"))
        return {
            "intent": f"What is the {key.lower()} of {city}, according to its wiki "
            "article? Give it with answer(...).",
            "path": (city,),
            "answer": _box(arts[city], key),
        }
    if template in ("birth_country", "birth_capital"):
        person = pick("People")
        city = _box(arts[person], "Born in")
        country = _box(arts[city], "Country")
        if template == "birth_country":
            return {
                "intent": f"In which country was {person} born? Give it with answer(...).",
                "path": (person, city),
                "answer": country,
            }
        return {
            "intent": f"What is the capital of the country where {person} was born? Give "
            "it with answer(...).",
            "path": (person, city, country),
            "answer": _box(arts[country], "Capital"),
        }
    if template == "capital_founder":
        country = pick("Countries")
        capital = _box(arts[country], "Capital")
        return {
            "intent": f"Who founded the capital of {country}? Give the name with answer(...).",
            "path": (country, capital),
            "answer": _box(arts[capital], "Founded by"),
        }
    if template == "founder_job":
        city = pick("Cities")
        founder = _box(arts[city], "Founded by")
        return {
            "intent": f"What was the occupation of the founder of {city}? Give it with "
            "answer(...).",
            "path": (city, founder),
            "answer": _box(arts[founder], "Occupation"),
        }
    if template == "birth_country_fact":
        person, key = pick("People"), rng.choice(sorted(_COUNTRY_FACTS))
        city = _box(arts[person], "Born in")
        country = _box(arts[city], "Country")
        return {
            "intent": f"What is the {_COUNTRY_FACTS[key]} of the country where {person} was "
            "born, according to the wiki? Give it with answer(...).",
            "path": (person, city, country),
            "answer": _box(arts[country], key),
        }
    if template == "compare_population":
        cities = sorted(t for t, a in arts.items() if a["category"] == "Cities")
        while True:
            a, b = rng.sample(cities, 2)
            pop_a, pop_b = (int(_box(arts[t], "Population").replace(",", "")) for t in (a, b))
            if pop_a != pop_b:
                break
        return {
            "intent": f"Which city has the larger population, {a} or {b}? Give the city's "
            "name with answer(...).",
            "path": (a, b),
            "answer": a if pop_a > pop_b else b,
        }
    if template == "latest_summary":
        title = rng.choice(sorted(t for t, a in arts.items() if len(a["revisions"]) > 1))
        return {
            "intent": f"What is the edit summary of the most recent revision of the wiki "
            f"article {title}? Give it with answer(...).",
            "path": (title,),
            "answer": arts[title]["revisions"][-1]["summary"],
        }
    title = rng.choice(sorted(arts))
    if template == "first_editor":
        return {
            "intent": f"Which user created the wiki article {title}? Give the user name "
            "with answer(...).",
            "path": (title,),
            "answer": arts[title]["revisions"][0]["user"],
        }
    if template == "revision_count":
        return {
            "intent": f"How many revisions does the wiki article {title} have? Give the "
            "number with answer(...).",
            "path": (title,),
            "answer": str(len(arts[title]["revisions"])),
        }
    sentence, summary = rng.choice(_SENTENCES), rng.choice(_SUMMARIES)
    return {
        "intent": f'Add the sentence "{sentence}" at the end of the wiki article {title} '
        f'(after the existing text), with the edit summary "{summary}". Reply '
        "answer(done) when it is saved.",
        "path": (title,),
        "new_text": f"{arts[title]['text']} {sentence}",
        "summary": summary,
    }


@lru_cache(maxsize=4096)
def make_task(split: str, index: int) -> WebWikiTask:
    """Task ``index`` of ``split`` (deterministic; train and test never share a task)."""
    arts = _data()["articles"]
    rng = random.Random(f"webwiki-{split}-{index}")
    while True:
        template = rng.choice(TEMPLATES)
        for _ in range(30):
            spec = _draft(rng, arts, template)
            if _split_of(json.dumps(spec, sort_keys=True)) == split:
                return WebWikiTask(
                    task_id=f"webwiki-{split}-{index:05d}", template=template, **spec
                )


def task_from_id(task_id: str) -> WebWikiTask:
    """The task named ``webwiki-<split>-<index>``; ``ValueError`` for anything else."""
    match = re.fullmatch(r"webwiki-(train|test)-(\d{5})", task_id)
    if match is None:
        raise ValueError(
            f"Unknown task id {task_id!r}; expected webwiki-<train|test>-<00000..09999>."
        )
    return make_task(match.group(1), int(match.group(2)))


def eval_set() -> list[str]:
    """The fixed evaluation task ids (test split), from ``assets/web/webwiki_eval.json``."""
    ids: list[str] = json.loads(EVAL_SET_PATH.read_text(encoding="utf-8"))["task_ids"]
    return ids


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return load()


def _edits(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """New revisions per article (those beyond the seeded ones)."""
    initial = _data()["articles"]
    out = {}
    for title, art in state["articles"].items():
        seeded = len(initial[title]["revisions"]) if title in initial else 0
        if len(art["revisions"]) > seeded:
            out[title] = art["revisions"][seeded:]
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


def verify(task: WebWikiTask, state: dict[str, Any], answer: str) -> bool:
    """Whether the episode solved ``task``, from the final server ``state`` and answer."""
    if task.answer is not None:
        return answers_match(answer, task.answer)
    title = task.path[0]
    edits = _edits(state)
    return (
        list(edits) == [title]
        and len(edits[title]) == 1
        and edits[title][0]["summary"] == task.summary
        and _norm(state["articles"][title]["text"]) == _norm(task.new_text or "")
    )


def reached_subgoals(task: WebWikiTask, state: dict[str, Any], path: str) -> set[str]:
    """Sub-goals reached now: each article of the path opened, history or edit page, saved."""
    reached = set()
    for title in task.path:
        if path == "/wiki/" + title.replace(" ", "_"):
            reached.add(f"page:{title}")
    base = "/wiki/" + task.path[0].replace(" ", "_")
    if task.template in HISTORY_TEMPLATES and path == base + "/history":
        reached.add("history")
    if task.new_text is not None:
        if path == base + "/edit":
            reached.add("edit_page")
        if verify(task, state, ""):
            reached.add("saved")
    return reached


def subgoal_count(task: WebWikiTask) -> int:
    """How many sub-goals :func:`reached_subgoals` can report for ``task``."""
    return (
        len(task.path)
        + (1 if task.answer is None or task.template in HISTORY_TEMPLATES else 0)
        + (1 if task.new_text is not None else 0)
    )


def write_eval_set() -> None:
    """Rewrite ``assets/web/webwiki_eval.json`` (``python -m mtenvs.envs.web.wiki_tasks``)."""
    ids = balanced_eval_ids(make_task, TEMPLATES)
    EVAL_SET_PATH.write_text(json.dumps({"task_ids": ids}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_eval_set()
