"""The rule-based user of ``SqlInteract``: answers clarifying questions from hidden facts.

Each ambiguous request hides one or more :class:`Clarification` s. A question that targets
an ambiguity — it mentions one of the clarification's keywords — gets that clarification in
natural language; several ambiguities may be cleared by one question. Any other question
gets a polite non-answer, and a question for the SQL itself a refusal. Overlong questions
(keyword stuffing) and questions beyond the budget are turned away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_QUESTION_CHARS", "Clarification", "UserReply", "answer_question"]

MAX_QUESTION_CHARS: Final = 300
NON_ANSWER: Final = (
    "I'm not sure what you mean. Everything else should be as I described; "
    "feel free to ask about anything that is unclear in my request."
)
NO_SQL: Final = "I don't write SQL myself, sorry — that's why I'm asking you!"
TOO_LONG: Final = "That's a lot at once. Could you ask one short question?"
OUT_OF_BUDGET: Final = "Sorry, I have to go now — please work with what you have."
_SQL_WORDS: Final = ("sql", "query", "select ", "the answer", "solution")


@dataclass(frozen=True)
class Clarification:
    """A hidden fact: the ambiguous ``facet`` of the request, the words that target it and
    the user's answer."""

    facet: str
    keywords: tuple[str, ...]
    answer: str

    def targeted_by(self, question: str) -> bool:
        text = question.lower()
        return self.facet.lower() in text or any(k in text for k in self.keywords)


@dataclass(frozen=True)
class UserReply:
    """What the user said and which facets it revealed."""

    text: str
    revealed: tuple[str, ...] = ()


def answer_question(
    question: str, clarifications: tuple[Clarification, ...], budget_left: int
) -> UserReply:
    """The simulated user's reply to ``question`` (see the module doc)."""
    if budget_left <= 0:
        return UserReply(OUT_OF_BUDGET)
    if len(question) > MAX_QUESTION_CHARS:
        return UserReply(TOO_LONG)
    hits = [c for c in clarifications if c.targeted_by(question)]
    if hits:
        return UserReply(" ".join(c.answer for c in hits), tuple(c.facet for c in hits))
    if any(word in question.lower() for word in _SQL_WORDS):
        return UserReply(NO_SQL)
    return UserReply(NON_ANSWER)
