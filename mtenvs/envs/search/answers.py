"""Grading an answer the way HotpotQA and SQuAD grade one: exact match and token F1 after
the official normalisation, against the gold answer and each of its aliases.

The normalisation is the official evaluation scripts' ``normalize_answer``: lower case,
punctuation removed, the articles *a*, *an*, *the* removed, whitespace collapsed. F1 also
follows HotpotQA's script: a ``yes`` / ``no`` / ``noanswer`` on either side scores 0 unless
both sides are the same word. The best score over the gold answer and its aliases counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from typing import Final

__all__ = ["best_exact_match", "best_f1", "exact_match", "normalize_answer", "token_f1"]

_ARTICLES: Final = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION: Final = str.maketrans("", "", string.punctuation)
_SPECIAL: Final = frozenset({"yes", "no", "noanswer"})
#: Longest answer graded: a reply longer than this is cut first (the grade stays bounded in
#: time; no gold answer is anywhere near it).
MAX_ANSWER_CHARS: Final = 1_000


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the official scripts')."""
    text = text[:MAX_ANSWER_CHARS].lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> bool:
    """Whether ``prediction`` and ``gold`` are equal after :func:`normalize_answer`."""
    return normalize_answer(prediction) == normalize_answer(gold)


def token_f1(prediction: str, gold: str) -> float:
    """Token F1 of ``prediction`` against ``gold`` after :func:`normalize_answer`."""
    pred, truth = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or truth in _SPECIAL) and pred != truth:
        return 0.0
    pred_tokens, truth_tokens = pred.split(), truth.split()
    common = Counter(pred_tokens) & Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def best_exact_match(prediction: str, golds: Iterable[str]) -> bool:
    """Whether ``prediction`` matches any of ``golds`` exactly (after normalisation)."""
    return any(exact_match(prediction, g) for g in golds)


def best_f1(prediction: str, golds: Iterable[str]) -> float:
    """The best :func:`token_f1` of ``prediction`` over ``golds`` (0 for none)."""
    return max((token_f1(prediction, g) for g in golds), default=0.0)
