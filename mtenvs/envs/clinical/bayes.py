"""Exact inference in the naive-Bayes clinical model: posterior, entropy, information gain.

Everything here is computed exactly from the model (no sampling): the posterior over
conditions given observed findings, its Shannon entropy in bits, and the expected
information gain of revealing a group of findings, enumerating every joint outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import product
from typing import Final

import numpy as np

__all__ = [
    "MAX_GROUP_FINDINGS",
    "entropy_bits",
    "expected_info_gain",
    "posterior",
    "single_finding_gains",
    "update",
]

#: Largest group of findings :func:`expected_info_gain` enumerates (2**k outcomes).
MAX_GROUP_FINDINGS: Final = 14


def update(post: np.ndarray, likelihood: np.ndarray, finding: int, present: bool) -> np.ndarray:
    """Bayes' rule for one observed finding: ``P(c | e, f) ∝ P(c | e) P(f | c)``."""
    column = likelihood[:, finding]
    new = post * (column if present else 1.0 - column)
    total = new.sum()
    if total <= 0.0:
        raise ValueError(
            f"Finding {finding} observed {'present' if present else 'absent'} has probability "
            "0 under every condition still possible; the evidence is impossible in the model."
        )
    return new / total


def posterior(
    prior: np.ndarray, likelihood: np.ndarray, evidence: Iterable[tuple[int, bool]]
) -> np.ndarray:
    """``P(condition | evidence)`` for ``(finding index, present)`` pairs."""
    post = np.asarray(prior, dtype=np.float64).copy()
    for finding, present in evidence:
        post = update(post, likelihood, finding, present)
    return post


def entropy_bits(p: np.ndarray) -> float:
    """Shannon entropy ``-Σ p log2 p`` in bits (``0 log 0 = 0``)."""
    nz = p[p > 0.0]
    return float(-(nz * np.log2(nz)).sum())


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of ``p`` (rows need not be normalised; zero rows give 0)."""
    totals = p.sum(axis=-1, keepdims=True)
    q = np.divide(p, totals, out=np.zeros_like(p), where=totals > 0)
    logs = np.log2(q, out=np.zeros_like(q), where=q > 0)
    return -(q * logs).sum(axis=-1)


def single_finding_gains(
    post: np.ndarray, likelihood: np.ndarray, findings: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Expected information gain (bits) of observing each finding alone, vectorised.

    ``EIG(f) = H(C) − Σ_{x∈{present, absent}} P(x) H(C | x)``.
    """
    cols = likelihood[:, np.asarray(findings, dtype=np.int64)].T  # (k, n_conditions)
    joint_yes = cols * post
    joint_no = (1.0 - cols) * post
    p_yes = joint_yes.sum(axis=1)
    p_no = joint_no.sum(axis=1)
    expected = p_yes * _entropy_rows(joint_yes) + p_no * _entropy_rows(joint_no)
    return np.maximum(entropy_bits(post) - expected, 0.0)


def expected_info_gain(
    post: np.ndarray, likelihood: np.ndarray, findings: Sequence[int] | np.ndarray
) -> float:
    """Expected information gain (bits) of observing ``findings`` together, exactly.

    Enumerates all ``2**k`` joint outcomes (findings are independent given the condition):
    ``EIG = H(C) − Σ_o P(o) H(C | o)``.
    """
    idx = np.asarray(findings, dtype=np.int64)
    if len(idx) == 0:
        return 0.0
    if len(idx) > MAX_GROUP_FINDINGS:
        raise ValueError(f"{len(idx)} findings is too many to enumerate exactly.")
    cols = likelihood[:, idx]  # (n_conditions, k)
    outcomes = np.array(list(product((True, False), repeat=len(idx))))  # (2**k, k)
    # P(o | c) = Π_j (L[c, j] if o_j else 1 − L[c, j]).
    per = np.where(outcomes[:, None, :], cols[None, :, :], 1.0 - cols[None, :, :])
    joint = per.prod(axis=2) * post[None, :]  # (2**k, n_conditions)
    p_out = joint.sum(axis=1)
    expected = float((p_out * _entropy_rows(joint)).sum())
    return max(entropy_bits(post) - expected, 0.0)
