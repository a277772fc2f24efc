"""The rule-based patient: maps free-text questions to findings and answers in lay language.

:class:`Lexicon` matches a question against every symptom/history synonym of the knowledge
base (word-bounded, case-insensitive, longest phrase first) and resolves the names of exam
systems, tests and conditions. :func:`answer_question` voices the answer for one patient:
only the findings the question asks about are revealed, each consistently with the case
(present, absent, or "not sure" for the persona's unsure items); a question that matches
nothing gets a natural non-answer. Exam and test results are written by
:func:`exam_report` and :func:`lab_report`. No I/O here; the env owns the episode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from mtenvs.envs.clinical.kb import KnowledgeBase, normalize_name
from mtenvs.envs.clinical.patients import Patient

__all__ = [
    "MAX_FINDINGS_PER_QUESTION",
    "Answer",
    "Lexicon",
    "answer_question",
    "exam_report",
    "lab_report",
    "opening_statement",
    "question_for",
]

#: A question touching more findings than this gets answers for the first ones only.
MAX_FINDINGS_PER_QUESTION: Final = 3

_YES: Final[dict[str, tuple[str, ...]]] = {
    "plain": ("Yes, I've {t}.", "Yes — I have {t}."),
    "chatty": (
        "Oh yes, doctor, I've {t}, now that you mention it.",
        "I have, actually — I've {t}, and it's been bothering me.",
    ),
    "terse": ("Yes — {t}.", "Yeah. {T}."),
}
_NO: Final[dict[str, tuple[str, ...]]] = {
    "plain": ("No, I haven't {t}.", "No, not that I've noticed — I haven't {t}."),
    "chatty": ("No, I can't say I've {t} — thank goodness!", "Hmm, no, I definitely haven't {t}."),
    "terse": ("No — haven't {t}.", "No, haven't {t}."),
}
_UNSURE: Final[dict[str, tuple[str, ...]]] = {
    "plain": (
        "I'm not sure, to be honest — I haven't paid attention to {s}.",
        "I don't really know about {s}, sorry.",
    ),
    "chatty": (
        "Oh, {s}? I really couldn't say, doctor, I haven't been keeping track.",
        "Goodness, I'm not sure about {s} — I'd be guessing.",
    ),
    "terse": ("Not sure about {s}.", "Don't know about {s}."),
}
_NON_ANSWER: Final[dict[str, tuple[str, ...]]] = {
    "plain": (
        "I'm not sure what you mean, doctor. Mainly I've {c}.",
        "Sorry, I don't know how to answer that. What bothers me is that I've {c}.",
    ),
    "chatty": (
        "Oh, I wouldn't know about that! All I can tell you is I've {c}, and it's "
        "really getting me down.",
        "Hmm, I'm not sure I follow… I just know I've {c}.",
    ),
    "terse": ("Not sure what you mean.", "Don't know. I've {c}."),
}
_TOO_MANY: Final = "Sorry, that's a lot at once — could you ask me about the rest one at a time?"
_SYSTEM_TITLES: Final = {"ent": "Ear, nose, throat and neck"}
_WORD_EDGE_L: Final = r"(?<![a-z0-9])"
_WORD_EDGE_R: Final = r"(?![a-z0-9])"


def _phrase_regex(phrases: list[str]) -> re.Pattern[str]:
    # Longest first, so "chest pain when breathing" is not read as "chest" alone.
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    body = "|".join(re.escape(p) for p in ordered)
    return re.compile(f"{_WORD_EDGE_L}(?:{body}){_WORD_EDGE_R}")


def _fold(text: str) -> str:
    """Lowercase with curly quotes straightened, for matching."""
    return text.lower().replace("’", "'").replace("‘", "'")


class Lexicon:
    """Synonym lookups for one knowledge base (questions, systems, tests, conditions)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._finding_of: dict[str, int] = {}
        for i in kb.askable:
            for syn in kb.findings[i].synonyms:
                self._finding_of[_fold(syn)] = int(i)
        self._question_re = _phrase_regex(list(self._finding_of))
        self.system_of = {normalize_name(s): s for s in kb.systems}
        for system, syns in kb.systems.items():
            for syn in syns:
                self.system_of.setdefault(normalize_name(syn), system)
        self.test_of: dict[str, str] = {}
        for t in kb.tests:
            for name in (t.id, t.display, *t.synonyms):
                self.test_of.setdefault(normalize_name(name), t.id)
        self.condition_of: dict[str, str] = {}
        for c in kb.conditions:
            for name in (c.id, c.display, *c.synonyms):
                self.condition_of[normalize_name(name)] = c.id

    def findings_in(self, question: str) -> list[int]:
        """Indices of the symptom/history findings a question asks about, in order, unique."""
        out: list[int] = []
        for match in self._question_re.finditer(_fold(question)):
            index = self._finding_of[match.group(0)]
            if index not in out:
                out.append(index)
        return out

    @staticmethod
    def _clean(name: str) -> str:
        return normalize_name(name.strip().strip("\"'`“”‘’.").strip())

    def system(self, name: str) -> str | None:
        return self.system_of.get(self._clean(name))

    def test(self, name: str) -> str | None:
        return self.test_of.get(self._clean(name))

    def condition(self, name: str) -> str | None:
        return self.condition_of.get(self._clean(name))


@dataclass(frozen=True)
class Answer:
    """The patient's reply and the findings it revealed as ``(index, present)``."""

    text: str
    revealed: tuple[tuple[int, bool], ...]
    #: Findings asked about that the patient was unsure of (nothing revealed).
    unsure: tuple[int, ...]


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _fill(template: str, text: str, subject: str = "") -> str:
    return template.format(t=text, T=text[:1].upper() + text[1:], s=subject)


def opening_statement(kb: KnowledgeBase, patient: Patient) -> str:
    """The case presentation and the chief complaint in the patient's words."""
    who = {
        "F": "woman" if patient.age >= 18 else "girl",
        "M": "man" if patient.age >= 18 else "boy",
    }[patient.sex]
    chief = kb.findings[kb.finding_index[patient.chief_complaint]].text
    intro = {
        "plain": f"Hello, doctor. I've {chief}.",
        "chatty": f"Hello, doctor — thanks for seeing me. I've {chief}, and I'm a bit worried.",
        "terse": f"I've {chief}.",
    }[patient.style]
    pronoun = "She says" if patient.sex == "F" else "He says"
    return f"A {patient.age}-year-old {who} comes to see you. {pronoun}: “{intro}”"


def answer_question(
    kb: KnowledgeBase,
    lexicon: Lexicon,
    patient: Patient,
    question: str,
    rng: np.random.Generator,
) -> Answer:
    """The patient's answer to a free-text question (only the asked findings are revealed)."""
    asked = lexicon.findings_in(question)
    style = patient.style
    if not asked:
        chief = kb.findings[kb.finding_index[patient.chief_complaint]].text
        return Answer(_pick(_NON_ANSWER[style], rng).format(c=chief), (), ())
    parts: list[str] = []
    revealed: list[tuple[int, bool]] = []
    unsure: list[int] = []
    present = patient.present_set
    unsure_ids = set(patient.unsure)
    for index in asked[:MAX_FINDINGS_PER_QUESTION]:
        finding = kb.findings[index]
        if finding.id in unsure_ids:
            parts.append(_fill(_pick(_UNSURE[style], rng), finding.text, finding.synonyms[0]))
            unsure.append(index)
            continue
        is_present = finding.id in present
        bank = _YES if is_present else _NO
        parts.append(_fill(_pick(bank[style], rng), finding.text))
        revealed.append((index, is_present))
    if len(asked) > MAX_FINDINGS_PER_QUESTION:
        parts.append(_TOO_MANY)
    return Answer(" ".join(parts), tuple(revealed), tuple(unsure))


def question_for(kb: KnowledgeBase, finding: int) -> str:
    """A question the lexicon maps to exactly this finding (used by the oracle)."""
    f = kb.findings[finding]
    return f.question or f"Have you had any {f.synonyms[0]}?"


def _report(
    title: str, kb: KnowledgeBase, indices: np.ndarray, present: frozenset[str]
) -> tuple[str, tuple[tuple[int, bool], ...]]:
    positives: list[str] = []
    negatives: list[str] = []
    revealed: list[tuple[int, bool]] = []
    for i in indices:
        finding = kb.findings[int(i)]
        is_present = finding.id in present
        revealed.append((int(i), is_present))
        if is_present:
            positives.append(finding.text)
        elif finding.negative_text:
            negatives.append(finding.negative_text)
    if positives:
        text = f"{title}: {'; '.join(positives)}."
        if negatives:
            text += f" Otherwise normal ({'; '.join(negatives)})."
    else:
        text = f"{title}: normal" + (f" ({'; '.join(negatives)})." if negatives else ".")
    return text, tuple(revealed)


def exam_report(
    kb: KnowledgeBase, patient: Patient, system: str
) -> tuple[str, tuple[tuple[int, bool], ...]]:
    """Result text of examining ``system`` and the findings it reveals."""
    title = _SYSTEM_TITLES.get(system, system.capitalize()) + " examination"
    return _report(title, kb, kb.group_findings[("exam", system)], patient.present_set)


def lab_report(
    kb: KnowledgeBase, patient: Patient, test_id: str
) -> tuple[str, tuple[tuple[int, bool], ...]]:
    """Result text of test ``test_id`` and the findings it reveals."""
    display = kb.tests[kb.test_index[test_id]].display
    title = display[:1].upper() + display[1:]
    return _report(title, kb, kb.group_findings[("test", test_id)], patient.present_set)
