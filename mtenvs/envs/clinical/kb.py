"""The clinical knowledge base: conditions, findings, tests and their probabilities.

``mtenvs/assets/clinical/kb.json`` is an *educational toy model*, hand-authored from general
medical knowledge for reinforcement-learning research. Its numbers are rough, it is not
clinical data, and it is **not medical advice**.

The model is naive Bayes over conditions: a patient has exactly one condition ``c``, drawn
with probability ``P(c | age band, sex) ∝ prevalence(c) · age(c, band) · sex(c, sex)``, and
every finding ``f`` (symptom, history item, exam finding, test result) is present
independently with probability ``P(f | c)``: the authored value where ``c`` lists ``f``,
else the finding's background rate ``base_rate``. Findings restricted to one sex
(``"sex": "F"``) have probability 0 in the other.

:func:`validate_kb` checks the raw JSON (probabilities in range, names unique, every finding
reachable by some action and used by some condition); :func:`load_kb` validates and caches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

import numpy as np

from mtenvs.error import Error

__all__ = [
    "AGE_BANDS",
    "ASKABLE_KINDS",
    "SEXES",
    "Condition",
    "Finding",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "MedicalTest",
    "kb_from_dict",
    "kb_summary_markdown",
    "load_kb",
    "normalize_name",
    "validate_kb",
]

FindingKind = Literal["symptom", "history", "exam", "test"]
Sex = Literal["F", "M"]
SEXES: Final[tuple[Sex, ...]] = ("F", "M")
AGE_BANDS: Final = ("child", "adult", "older")
#: Finding kinds the patient answers questions about (exam and test findings need actions).
ASKABLE_KINDS: Final = frozenset({"symptom", "history"})
_KINDS: Final = ("symptom", "history", "exam", "test")
_ASSET: Final = "assets/clinical/kb.json"


class KnowledgeBaseError(Error, ValueError):
    """The knowledge-base JSON breaks a rule of :func:`validate_kb`."""


def normalize_name(text: str) -> str:
    """Lowercase, with ``_``, ``-`` and repeated spaces folded to one space."""
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Finding:
    """A symptom, history item, exam finding or test result (present or absent)."""

    id: str
    kind: FindingKind
    #: The exam system (``kind="exam"``) or test id (``kind="test"``) that reveals it.
    where: str | None
    #: Lay text when present (symptoms: completes "I've had …"; exams/tests: the result).
    text: str
    #: Result text when absent (exams and tests; may be empty).
    negative_text: str
    #: Words a question may use for it (lay language first).
    synonyms: tuple[str, ...]
    base_rate: float
    red_flag: bool
    #: Only this sex can have it, or ``None``.
    sex: Sex | None
    #: A question asking about it (symptoms and history; used by the oracle agent).
    question: str = ""


@dataclass(frozen=True)
class Condition:
    """A diagnosis of the knowledge base."""

    id: str
    display: str
    category: str
    prevalence: float
    age: dict[str, float]
    sex: dict[str, float]
    synonyms: tuple[str, ...]
    #: ``P(finding present | condition)`` for the findings the condition lists.
    findings: dict[str, float]


@dataclass(frozen=True)
class MedicalTest:
    """An orderable test: its display name, cost (outcome units) and request synonyms."""

    id: str
    display: str
    cost: float
    synonyms: tuple[str, ...]


class KnowledgeBase:
    """The parsed knowledge base with its likelihood matrices.

    ``likelihood(sex)[c, f]`` is ``P(finding f present | condition c)`` for a patient of that
    sex; ``prior(band, sex)`` is ``P(condition | age band, sex)``.
    """

    def __init__(
        self,
        conditions: list[Condition],
        findings: list[Finding],
        tests: list[MedicalTest],
        systems: dict[str, tuple[str, ...]],
        age_bands: dict[str, tuple[int, int]],
        disclaimer: str,
    ) -> None:
        self.conditions = conditions
        self.findings = findings
        self.tests = tests
        self.systems = systems
        self.age_bands = age_bands
        self.disclaimer = disclaimer
        self.condition_index = {c.id: i for i, c in enumerate(conditions)}
        self.finding_index = {f.id: i for i, f in enumerate(findings)}
        self.test_index = {t.id: i for i, t in enumerate(tests)}
        #: Finding indices revealed by each exam system / test.
        self.group_findings: dict[tuple[str, str], np.ndarray] = {}
        for kind, names in (("exam", list(systems)), ("test", [t.id for t in tests])):
            for name in names:
                self.group_findings[(kind, name)] = np.array(
                    [i for i, f in enumerate(findings) if f.kind == kind and f.where == name],
                    dtype=np.int64,
                )
        self.askable = np.array(
            [i for i, f in enumerate(findings) if f.kind in ASKABLE_KINDS], dtype=np.int64
        )
        base = np.array([f.base_rate for f in findings])
        table = np.tile(base, (len(conditions), 1))
        for ci, cond in enumerate(conditions):
            for fid, p in cond.findings.items():
                table[ci, self.finding_index[fid]] = p
        self._likelihood: dict[str, np.ndarray] = {}
        for sex in SEXES:
            lik = table.copy()
            for fi, f in enumerate(findings):
                if f.sex is not None and f.sex != sex:
                    lik[:, fi] = 0.0
            lik.setflags(write=False)
            self._likelihood[sex] = lik
        self._priors: dict[tuple[str, str], np.ndarray] = {}
        for band in AGE_BANDS:
            for sex in SEXES:
                weights = np.array([c.prevalence * c.age[band] * c.sex[sex] for c in conditions])
                prior = weights / weights.sum()
                prior.setflags(write=False)
                self._priors[(band, sex)] = prior

    def likelihood(self, sex: str) -> np.ndarray:
        """``(n_conditions, n_findings)`` matrix of ``P(f present | c)`` for this sex."""
        return self._likelihood[sex]

    def prior(self, band: str, sex: str) -> np.ndarray:
        """``P(condition | age band, sex)`` as a read-only vector summing to 1."""
        return self._priors[(band, sex)]

    def age_band(self, age: int) -> str:
        """The age band an age in years falls in."""
        for band, (low, high) in self.age_bands.items():
            if low <= age <= high:
                return band
        raise KnowledgeBaseError(f"Age {age} is outside every age band {self.age_bands}.")

    def test_cost(self, test_id: str) -> float:
        return self.tests[self.test_index[test_id]].cost


def _problems(raw: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(raw, dict):
        return ["the knowledge base must be a JSON object"]
    for key in ("conditions", "findings", "tests", "systems", "age_bands"):
        if not isinstance(raw.get(key), dict) or not raw[key]:
            problems.append(f"missing or empty object {key!r}")
    if problems:
        return problems
    systems, tests, findings = raw["systems"], raw["tests"], raw["findings"]
    if set(raw["age_bands"]) != set(AGE_BANDS):
        problems.append(f"age_bands must be exactly {AGE_BANDS}")
    for tid, test in tests.items():
        cost = test.get("cost")
        if not isinstance(cost, (int, float)) or not 0 <= cost <= 1:
            problems.append(f"test {tid!r}: cost must be in [0, 1], got {cost!r}")
        if not test.get("synonyms"):
            problems.append(f"test {tid!r}: no synonyms")
    for fid, f in findings.items():
        if f.get("kind") not in _KINDS:
            problems.append(f"finding {fid!r}: kind must be one of {_KINDS}")
            continue
        rate = f.get("base_rate")
        if not isinstance(rate, (int, float)) or not 0 < rate < 1:
            problems.append(f"finding {fid!r}: base_rate must be in (0, 1), got {rate!r}")
        if not f.get("synonyms") or not all(isinstance(s, str) and s for s in f["synonyms"]):
            problems.append(f"finding {fid!r}: needs lay-language synonyms")
        if not f.get("text"):
            problems.append(f"finding {fid!r}: needs a text")
        if f.get("sex") not in (None, *SEXES):
            problems.append(f"finding {fid!r}: sex must be F, M or absent")
        where = f.get("where")
        if f["kind"] == "exam" and where not in systems:
            problems.append(f"finding {fid!r}: exam system {where!r} is not in systems")
        if f["kind"] == "test" and where not in tests:
            problems.append(f"finding {fid!r}: test {where!r} is not in tests")
    used: set[str] = set()
    names: dict[str, str] = {}
    for cid, c in raw["conditions"].items():
        aliases = (cid, c.get("display", ""), *c.get("synonyms", []))
        for name in {normalize_name(n) for n in aliases} - {""}:
            if name in names and names[name] != cid:
                problems.append(f"condition name {name!r} used by {names[name]!r} and {cid!r}")
            names[name] = cid
        if not isinstance(c.get("prevalence"), (int, float)) or c["prevalence"] <= 0:
            problems.append(f"condition {cid!r}: prevalence must be > 0")
        if set(c.get("age", {})) != set(AGE_BANDS) or set(c.get("sex", {})) != set(SEXES):
            problems.append(f"condition {cid!r}: needs age weights {AGE_BANDS} and sex F, M")
        elif any(v < 0 for v in (*c["age"].values(), *c["sex"].values())):
            problems.append(f"condition {cid!r}: age/sex weights must be >= 0")
        for fid, p in c.get("findings", {}).items():
            used.add(fid)
            if fid not in findings:
                problems.append(f"condition {cid!r}: unknown finding {fid!r}")
            elif not isinstance(p, (int, float)) or not 0 < p < 1:
                problems.append(f"condition {cid!r}: P({fid}) must be in (0, 1), got {p!r}")
    for fid in findings:
        if fid not in used:
            problems.append(f"finding {fid!r} is used by no condition")
    seen: dict[str, str] = {}
    for fid, f in findings.items():
        if f.get("kind") not in ASKABLE_KINDS:
            continue
        for syn in f.get("synonyms", []):
            key = normalize_name(syn)
            if key in seen and seen[key] != fid:
                problems.append(f"synonym {syn!r} used by findings {seen[key]!r} and {fid!r}")
            seen[key] = fid
    for band in AGE_BANDS:
        for sex in SEXES:
            if not any(
                c["prevalence"] * c["age"][band] * c["sex"][sex] > 0
                for c in raw["conditions"].values()
                if set(c.get("age", {})) == set(AGE_BANDS) and set(c.get("sex", {})) == set(SEXES)
            ):
                problems.append(f"no condition is possible for age band {band}, sex {sex}")
    return problems


def validate_kb(raw: Any) -> None:
    """Raise :class:`KnowledgeBaseError` listing every rule the raw KB JSON breaks."""
    problems = _problems(raw)
    if problems:
        raise KnowledgeBaseError(
            f"Invalid clinical knowledge base ({len(problems)} problem(s)): "
            + "; ".join(problems[:20])
        )


def kb_from_dict(raw: dict[str, Any]) -> KnowledgeBase:
    """Validate raw KB JSON and build a :class:`KnowledgeBase` (used for test KBs too)."""
    validate_kb(raw)
    findings = [
        Finding(
            id=fid,
            kind=f["kind"],
            where=f.get("where"),
            text=f["text"],
            negative_text=f.get("negative_text", ""),
            synonyms=tuple(f["synonyms"]),
            base_rate=float(f["base_rate"]),
            red_flag=bool(f.get("red_flag", False)),
            sex=f.get("sex"),
            question=f.get("question", ""),
        )
        for fid, f in raw["findings"].items()
    ]
    conditions = [
        Condition(
            id=cid,
            display=c.get("display", cid),
            category=c.get("category", "general"),
            prevalence=float(c["prevalence"]),
            age={k: float(v) for k, v in c["age"].items()},
            sex={k: float(v) for k, v in c["sex"].items()},
            synonyms=tuple(c.get("synonyms", ())),
            findings={k: float(v) for k, v in c["findings"].items()},
        )
        for cid, c in raw["conditions"].items()
    ]
    tests = [
        MedicalTest(
            id=tid,
            display=t.get("display", tid),
            cost=float(t["cost"]),
            synonyms=tuple(t["synonyms"]),
        )
        for tid, t in raw["tests"].items()
    ]
    return KnowledgeBase(
        conditions,
        findings,
        tests,
        {k: tuple(v) for k, v in raw["systems"].items()},
        {k: (int(v[0]), int(v[1])) for k, v in raw["age_bands"].items()},
        str(raw.get("disclaimer", "")),
    )


@cache
def load_kb() -> KnowledgeBase:
    """The shipped knowledge base (validated once per process)."""
    text = resources.files("mtenvs").joinpath(_ASSET).read_text(encoding="utf-8")
    return kb_from_dict(json.loads(text))


def kb_summary_markdown(kb: KnowledgeBase) -> str:
    """A Markdown summary of the knowledge base: counts, then conditions by category."""
    by_category: dict[str, list[Condition]] = {}
    for c in kb.conditions:
        by_category.setdefault(c.category, []).append(c)
    kinds = {k: sum(f.kind == k for f in kb.findings) for k in _KINDS}
    lines = [
        "# Clinical knowledge base",
        "",
        f"> {kb.disclaimer}",
        "",
        f"`mtenvs/assets/clinical/kb.json`: {len(kb.conditions)} conditions in "
        f"{len(by_category)} categories; {len(kb.findings)} findings ({kinds['symptom']} "
        f"symptoms, {kinds['history']} history items, {kinds['exam']} exam findings in "
        f"{len(kb.systems)} systems, {kinds['test']} test results from {len(kb.tests)} tests); "
        f"{sum(f.red_flag for f in kb.findings)} red-flag findings. Regenerate this page with "
        "`python -m mtenvs.envs.clinical.kb`.",
        "",
        "| category | conditions (relative prevalence; findings listed) |",
        "|---|---|",
    ]
    for category in sorted(by_category):
        cells = ", ".join(
            f"{c.display} ({c.prevalence:g}; {len(c.findings)})" for c in by_category[category]
        )
        lines.append(f"| {category} | {cells} |")
    lines += ["", "| test | cost | results |", "|---|---:|---|"]
    for t in kb.tests:
        results = ", ".join(f.id for f in kb.findings if f.kind == "test" and f.where == t.id)
        lines.append(f"| {t.display} (`{t.id}`) | {t.cost:.2f} | {results} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - maintenance command
    from pathlib import Path

    target = Path(__file__).resolve().parents[3] / "docs" / "envs" / "clinical-kb.md"
    target.write_text(kb_summary_markdown(load_kb()), encoding="utf-8")
    print(target)
