"""The clinical model's rules, checked exactly: KB validation, posterior, information gain."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from itertools import product

import numpy as np
import pytest

from mtenvs.envs.clinical import bayes
from mtenvs.envs.clinical.kb import (
    AGE_BANDS,
    SEXES,
    KnowledgeBaseError,
    kb_from_dict,
    load_kb,
    validate_kb,
)


def _raw_kb() -> dict:
    return json.loads(resources.files("mtenvs").joinpath("assets/clinical/kb.json").read_text())


def _tiny_kb() -> dict:
    """Three conditions, six findings (two asked, two examined, two tested)."""

    def finding(kind, where, base):
        return {
            "kind": kind,
            "where": where,
            "text": "x",
            "synonyms": [f"s{base}"],
            "base_rate": base,
        }

    return {
        "age_bands": {"child": [2, 17], "adult": [18, 64], "older": [65, 90]},
        "systems": {"chest": ["chest"]},
        "tests": {"blood": {"cost": 0.1, "synonyms": ["blood"]}},
        "findings": {
            "a": finding("symptom", None, 0.1),
            "b": finding("symptom", None, 0.2),
            "c": finding("exam", "chest", 0.05),
            "d": finding("exam", "chest", 0.3),
            "e": finding("test", "blood", 0.15),
            "f": finding("test", "blood", 0.25),
        },
        "conditions": {
            name: {
                "prevalence": prev,
                "age": dict.fromkeys(AGE_BANDS, 1.0),
                "sex": {"F": 1.0, "M": sexm},
                "findings": findings,
            }
            for name, prev, sexm, findings in (
                ("x", 3.0, 1.0, {"a": 0.9, "c": 0.7, "e": 0.6}),
                ("y", 1.0, 2.0, {"b": 0.8, "d": 0.9, "f": 0.5, "a": 0.3}),
                ("z", 2.0, 0.5, {"a": 0.5, "b": 0.5, "e": 0.2, "f": 0.9}),
            )
        },
    }


def test_shipped_kb_is_valid_and_big_enough():
    kb = load_kb()
    assert len(kb.conditions) >= 50
    assert len({c.category for c in kb.conditions}) >= 10
    assert all(f.synonyms for f in kb.findings)
    assert any(f.red_flag for f in kb.findings)
    assert "not medical advice" in kb.disclaimer.lower()
    for band in AGE_BANDS:
        for sex in SEXES:
            prior = kb.prior(band, sex)
            assert prior.sum() == pytest.approx(1.0) and (prior >= 0).all()
            lik = kb.likelihood(sex)
            assert ((lik >= 0) & (lik < 1)).all()
    missed = kb.finding_index["missed_period"]
    assert (kb.likelihood("M")[:, missed] == 0).all() and (kb.likelihood("F")[:, missed] > 0).all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda kb: kb["conditions"]["x"]["findings"].update(a=1.5), "must be in (0, 1)"),
        (lambda kb: kb["conditions"]["x"]["findings"].update(q=0.5), "unknown finding 'q'"),
        (lambda kb: kb["conditions"]["y"].update(synonyms=["x"]), "used by 'x' and 'y'"),
        (
            lambda kb: kb["findings"].update(g=dict(kb["findings"]["a"], synonyms=["sg"])),
            "'g' is used by no condition",
        ),
        (lambda kb: kb["findings"]["b"].update(synonyms=["s0.1"]), "used by findings"),
        (lambda kb: kb["findings"]["c"].update(where="legs"), "not in systems"),
        (lambda kb: kb["tests"]["blood"].update(cost=-1), "cost must be in [0, 1]"),
        (lambda kb: kb["findings"]["a"].update(base_rate=0), "base_rate"),
    ],
)
def test_validator_names_each_broken_rule(edit, message):
    raw = _tiny_kb()
    validate_kb(raw)
    broken = copy.deepcopy(raw)
    edit(broken)
    with pytest.raises(
        KnowledgeBaseError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        validate_kb(broken)


def test_validator_checks_the_shipped_kb_rules_too():
    raw = _raw_kb()
    raw["conditions"]["influenza"]["findings"]["fever"] = 0.0
    with pytest.raises(KnowledgeBaseError, match="influenza"):
        validate_kb(raw)


def _brute_force_posterior(raw: dict, sex: str, evidence: dict[str, bool]) -> np.ndarray:
    """P(c | evidence) by enumerating the full joint over (condition, every finding)."""
    conds, finds = list(raw["conditions"]), list(raw["findings"])
    totals = np.zeros(len(conds))
    for ci, cid in enumerate(conds):
        c = raw["conditions"][cid]
        prior = c["prevalence"] * c["age"]["adult"] * c["sex"][sex]
        for values in product((True, False), repeat=len(finds)):
            if any(values[finds.index(f)] != v for f, v in evidence.items()):
                continue
            p = prior
            for fid, present in zip(finds, values):
                q = c["findings"].get(fid, raw["findings"][fid]["base_rate"])
                p *= q if present else 1 - q
            totals[ci] += p
    return totals / totals.sum()


def _entropy(p: np.ndarray) -> float:
    return -sum(x * math.log2(x) for x in p if x > 0)


@pytest.mark.parametrize("sex", ["F", "M"])
@pytest.mark.parametrize(
    "evidence",
    [{}, {"a": True}, {"a": False, "d": True}, {"b": True, "e": False, "f": True, "c": False}],
)
def test_posterior_equals_brute_force_enumeration(sex, evidence):
    raw = _tiny_kb()
    kb = kb_from_dict(raw)
    ev = [(kb.finding_index[f], v) for f, v in evidence.items()]
    post = bayes.posterior(kb.prior("adult", sex), kb.likelihood(sex), ev)
    assert post.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(post, _brute_force_posterior(raw, sex, evidence), atol=1e-12)


@pytest.mark.parametrize("group", [["a"], ["c", "d"], ["a", "c", "e", "f"]])
def test_expected_information_gain_matches_brute_force(group):
    raw = _tiny_kb()
    kb = kb_from_dict(raw)
    given = {"b": True}
    post = _brute_force_posterior(raw, "F", given)
    expected_h = 0.0
    for values in product((True, False), repeat=len(group)):
        joint = dict(given, **dict(zip(group, values)))
        # P(outcome | given) = P(joint) / P(given), each by enumeration.
        p_o = _evidence_prob(raw, joint) / _evidence_prob(raw, given)
        expected_h += p_o * _entropy(_brute_force_posterior(raw, "F", joint))
    brute = _entropy(post) - expected_h
    idx = [kb.finding_index[f] for f in group]
    gain = bayes.expected_info_gain(post, kb.likelihood("F"), idx)
    assert gain == pytest.approx(brute, abs=1e-10)
    if len(group) == 1:
        single = bayes.single_finding_gains(post, kb.likelihood("F"), idx)[0]
        assert single == pytest.approx(brute, abs=1e-10)


def _evidence_prob(raw: dict, evidence: dict[str, bool]) -> float:
    total = 0.0
    for c in raw["conditions"].values():
        p = c["prevalence"] * c["sex"]["F"]
        for fid, v in evidence.items():
            q = c["findings"].get(fid, raw["findings"][fid]["base_rate"])
            p *= q if v else 1 - q
        total += p
    return total


def test_entropy_and_impossible_evidence():
    assert bayes.entropy_bits(np.array([0.5, 0.5, 0.0])) == pytest.approx(1.0)
    kb = load_kb()
    missed = kb.finding_index["missed_period"]
    with pytest.raises(ValueError, match="impossible"):
        bayes.update(np.array(kb.prior("adult", "M")), kb.likelihood("M"), missed, True)


def test_the_kb_summary_page_is_current():
    from pathlib import Path

    from mtenvs.envs.clinical.kb import kb_summary_markdown

    page = Path(__file__).resolve().parents[3] / "docs" / "envs" / "clinical-kb.md"
    assert page.read_text(encoding="utf-8") == kb_summary_markdown(load_kb()), (
        "regenerate with: python -m mtenvs.envs.clinical.kb"
    )
