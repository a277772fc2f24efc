"""The reference policy of Clinical-v0: greedy expected information gain, then MAP.

Each turn it scores every action not taken yet by its *exact* expected information gain
(bits, normalised by ``log2(#conditions)`` like the ``process`` reward) minus its cost: a
question (scaled by the chance the patient is sure), an exam (all findings of the system,
every joint outcome enumerated) or a test (minus its cost). It takes the best one, and
diagnoses the maximum-a-posteriori condition once the top posterior reaches
:data:`ORACLE_CONFIDENCE`, no action earns :data:`ORACLE_MIN_GAIN`, or one turn is left. It
uses only what has been revealed (never the true condition), so it can be wrong.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import numpy as np

from mtenvs.envs.clinical import bayes
from mtenvs.envs.clinical.kb import KnowledgeBase
from mtenvs.envs.clinical.patients import UNSURE_RATE
from mtenvs.envs.clinical.simulator import question_for

__all__ = ["ORACLE_CONFIDENCE", "ORACLE_MIN_GAIN", "greedy_eig_reply"]

#: The oracle diagnoses once the top posterior reaches this.
ORACLE_CONFIDENCE: Final = 0.9
#: The oracle diagnoses once no action is expected to earn at least this (normalised gain
#: minus cost).
ORACLE_MIN_GAIN: Final = 0.004


def greedy_eig_reply(
    kb: KnowledgeBase,
    post: np.ndarray,
    likelihood: np.ndarray,
    *,
    asked: Collection[int],
    examined: Collection[str],
    tests: Collection[str],
    turns_left: int,
) -> str:
    """The oracle's next reply given the posterior and the actions already taken."""
    norm = np.log2(len(kb.conditions))
    best_score, best_reply = ORACLE_MIN_GAIN, None
    if post.max() < ORACLE_CONFIDENCE and turns_left > 1:
        candidates = np.array([i for i in kb.askable if i not in asked], dtype=np.int64)
        if len(candidates):
            gains = bayes.single_finding_gains(post, likelihood, candidates)
            gains *= (1.0 - UNSURE_RATE) / norm
            top = int(np.argmax(gains))
            if gains[top] > best_score:
                best_score = float(gains[top])
                best_reply = f"<action>{question_for(kb, int(candidates[top]))}</action>"
        for system in kb.systems:
            if system not in examined:
                group = kb.group_findings[("exam", system)]
                score = bayes.expected_info_gain(post, likelihood, group) / norm
                if score > best_score:
                    best_score, best_reply = score, f"<action>examine({system})</action>"
        for test in kb.tests:
            if test.id not in tests:
                group = kb.group_findings[("test", test.id)]
                score = bayes.expected_info_gain(post, likelihood, group) / norm - test.cost
                if score > best_score:
                    best_score, best_reply = score, f"<action>order_test({test.id})</action>"
    if best_reply is not None:
        return best_reply
    return f"<answer>{kb.conditions[int(np.argmax(post))].id}</answer>"
