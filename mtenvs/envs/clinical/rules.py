"""The rules of a ``Clinical-v0`` consultation, apart from the env that adapts them.

Plain functions over the knowledge base, the patient and numpy arrays, with no env state
and no I/O (:class:`mtenvs.envs.clinical.env.ClinicalEnv` parses replies, keeps the state
and renders the observations):

* :func:`resolve_argument` / :func:`resolve_option`: the system, test or condition an
  action's argument names, or the MediQ option letter;
* :func:`opening_posterior`: the posterior once the chief complaint is known;
* :func:`reveal_findings`: what a turn reveals does to the posterior, and the information
  gain (the ``process`` reward before scaling);
* :func:`check_category_credit`, :func:`grade_diagnosis` / :func:`grade_option`: the
  outcome of a final answer, on a knowledge-base patient or a MediQ record;
* :func:`grounding_facts` / :func:`persona`: what a language-model patient voice is told;
* :func:`posterior_summary`: the privileged view of the posterior;
* :func:`random_reply`: a random reply in the action format (``random_action``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtenvs.core.env import InvalidAction
from mtenvs.envs.clinical import bayes
from mtenvs.envs.clinical.actions import ActionKind
from mtenvs.envs.clinical.kb import KnowledgeBase
from mtenvs.envs.clinical.mediq import MediQEpisode, MediQRecord
from mtenvs.envs.clinical.patients import Patient
from mtenvs.envs.clinical.simulator import Answer, Lexicon, question_for
from mtenvs.error import InvalidArgumentError, did_you_mean

__all__ = [
    "Verdict",
    "check_category_credit",
    "grade_diagnosis",
    "grade_option",
    "grounding_facts",
    "opening_posterior",
    "persona",
    "posterior_summary",
    "random_reply",
    "resolve_argument",
    "resolve_option",
    "reveal_findings",
]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a final answer."""

    #: What the doctor is told (the truth stays hidden when the answer is wrong).
    text: str
    #: The ``outcome`` reward component.
    outcome: float
    #: The answer was right.
    right: bool


def resolve_argument(kb: KnowledgeBase, lexicon: Lexicon, kind: ActionKind, arg: str) -> str:
    """The id of the system (``examine``), test (``order_test``) or condition
    (``diagnose``) that ``arg`` names.

    Raises:
        InvalidAction: Nothing goes by that name; the message lists the systems (or points
            to the system prompt) and suggests the closest name.
    """
    lookup = {
        "examine": lexicon.system,
        "order_test": lexicon.test,
        "diagnose": lexicon.condition,
    }[kind]
    resolved = lookup(arg)
    if resolved is None:
        names = {
            "examine": list(kb.systems),
            "order_test": [t.id for t in kb.tests],
            "diagnose": [c.id for c in kb.conditions],
        }[kind]
        what = {"examine": "system", "order_test": "test", "diagnose": "condition"}[kind]
        listing = ", ".join(names) if kind == "examine" else "see the system prompt"
        raise InvalidAction(
            f"unknown {what} {arg[:60]!r} ({listing}).{did_you_mean(arg[:60].lower(), names)}"
        )
    return resolved


def resolve_option(episode: MediQEpisode, arg: str) -> str:
    """The option letter a MediQ answer names (its letter or its text).

    Raises:
        InvalidAction: ``arg`` is no option; the message lists the letters.
    """
    letter = episode.option(arg)
    if letter is None:
        raise InvalidAction(
            f"{arg[:60]!r} is not an option; answer with one of the letters "
            f"{', '.join(episode.record.options)}."
        )
    return letter


def opening_posterior(kb: KnowledgeBase, patient: Patient) -> tuple[int, np.ndarray]:
    """The chief complaint's finding index, and the posterior over conditions given it
    (the prior of the patient's age band and sex, updated with the complaint)."""
    band = kb.age_band(patient.age)
    chief = kb.finding_index[patient.chief_complaint]
    prior = np.array(kb.prior(band, patient.sex))
    return chief, bayes.update(prior, kb.likelihood(patient.sex), chief, True)


def reveal_findings(
    post: np.ndarray,
    likelihood: np.ndarray,
    known: dict[int, bool],
    revealed: Iterable[tuple[int, bool]],
) -> tuple[np.ndarray, float]:
    """Add the findings not yet in ``known`` to it (in place) and update the posterior.

    Returns the new posterior and the information gain: the drop in its entropy, in bits
    (negative when a finding is surprising).
    """
    before = bayes.entropy_bits(post)
    for index, present in revealed:
        if index not in known:
            known[index] = present
            post = bayes.update(post, likelihood, index, present)
    return post, before - bayes.entropy_bits(post)


def check_category_credit(category_credit: object) -> float:
    """``category_credit`` (the outcome of a wrong diagnosis in the right category) as a float.

    Raises:
        InvalidArgumentError: It is not a number in [0, 1].
    """
    if (
        not isinstance(category_credit, (int, float))
        or isinstance(category_credit, bool)
        or not 0.0 <= category_credit <= 1.0
    ):
        raise InvalidArgumentError(
            f"category_credit must be a number in [0, 1], got {category_credit!r}."
        )
    return float(category_credit)


def grade_diagnosis(
    kb: KnowledgeBase, condition: str, truth: str, category_credit: float
) -> Verdict:
    """A diagnosis of ``condition`` when the patient has ``truth``: 1.0 if right,
    ``category_credit`` if wrong but in the right category, else 0.0."""
    name = kb.conditions[kb.condition_index[condition]].display
    if condition == truth:
        return Verdict(f"You diagnosed {name}. That is correct.", 1.0, True)
    same_category = (
        kb.conditions[kb.condition_index[condition]].category
        == kb.conditions[kb.condition_index[truth]].category
    )
    credit = category_credit if same_category else 0.0
    # The truth stays hidden: TryAgain may reopen the episode after a wrong answer.
    return Verdict(f"You diagnosed {name}. That is not the right diagnosis.", credit, False)


def grade_option(record: MediQRecord, letter: str) -> Verdict:
    """An answer of option ``letter`` to a MediQ record: 1.0 if it is ``answer_idx``."""
    right = letter == record.answer_idx
    text = f"You answered {letter}. That is {'correct' if right else 'not correct'}."
    return Verdict(text, float(right), right)


def grounding_facts(kb: KnowledgeBase, answer: Answer) -> list[str]:
    """The facts a patient voice words an answer from: what it revealed, what it is unsure of."""
    facts = [
        ("I have " if present else "I have NOT ") + kb.findings[index].text
        for index, present in answer.revealed
    ]
    facts += [f"I am not sure about: {kb.findings[index].text}" for index in answer.unsure]
    return facts


def persona(patient: Patient) -> str:
    """Who a patient voice plays, e.g. ``a 34-year-old woman who speaks in a terse way``."""
    sex = "woman" if patient.sex == "F" else "man"
    return f"a {patient.age}-year-old {sex} who speaks in a {patient.style} way"


def posterior_summary(kb: KnowledgeBase, post: np.ndarray) -> dict[str, Any]:
    """``posterior`` (by condition id), ``map_condition`` and ``entropy_bits`` of ``post``."""
    ids = [c.id for c in kb.conditions]
    return {
        "posterior": {cid: float(p) for cid, p in zip(ids, post)},
        "map_condition": ids[int(np.argmax(post))],
        "entropy_bits": bayes.entropy_bits(post),
    }


def random_reply(kb: KnowledgeBase, record: MediQRecord | None, rng: np.random.Generator) -> str:
    """A random reply in the action format: mostly questions, some exams, tests and
    diagnoses (with a MediQ ``record``: questions about its facts, some option letters)."""
    if record is not None:
        if rng.random() < 0.15 or not record.facts:
            letters = list(record.options)
            return f"<answer>{letters[int(rng.integers(len(letters)))]}</answer>"
        words = record.facts[int(rng.integers(len(record.facts)))].split()
        return f"<action>Tell me about {' '.join(words[: int(rng.integers(1, 4))])}</action>"
    roll = rng.random()
    if roll < 0.7:
        finding = int(kb.askable[int(rng.integers(len(kb.askable)))])
        return f"<action>{question_for(kb, finding)}</action>"
    if roll < 0.85:
        systems = list(kb.systems)
        return f"<action>examine({systems[int(rng.integers(len(systems)))]})</action>"
    if roll < 0.95:
        return f"<action>order_test({kb.tests[int(rng.integers(len(kb.tests)))].id})</action>"
    return f"<answer>{kb.conditions[int(rng.integers(len(kb.conditions)))].id}</answer>"
