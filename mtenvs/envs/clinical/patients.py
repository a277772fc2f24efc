"""Simulated patients: cases sampled from the knowledge base, splits and the fixed eval set.

A patient is fully determined by ``(split, seed)`` and named ``clinical-<split>-<seed:07d>``:
sex (even odds), age band (child 20 %, adult 55 %, older 25 %) and age within it, the
condition drawn from ``P(c | age band, sex)``, every finding drawn from ``P(f | c)``, and a
persona (lay vocabulary style, findings the patient is unsure about, the chief complaint
they open with). Train and test use different seed streams and are also disjoint *by
content*: a case whose content hash falls in the other split is redrawn.

The fixed evaluation set (``mtenvs/assets/clinical/eval_test.json``, the first
:data:`EVAL_SET_SIZE` test patients) is a frozen copy, so reference scores stay comparable if
the sampler changes. Regenerate it with::

    python -m mtenvs.envs.clinical.patients --write-eval-set
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

from mtenvs.core.tasks import content_split as split_of_content
from mtenvs.envs.clinical.kb import AGE_BANDS, SEXES, KnowledgeBase, load_kb
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "EVAL_SET_SIZE",
    "SEEDS_PER_SPLIT",
    "STYLES",
    "UNSURE_RATE",
    "Patient",
    "content_split",
    "eval_set",
    "make_patient",
    "parse_task_id",
    "patient_for_task",
    "patient_from_dict",
    "write_eval_set",
]

SEEDS_PER_SPLIT: Final = 1_000_000
EVAL_SET_SIZE: Final = 100
#: Chance that the patient answers "I'm not sure" about a given symptom or history item;
#: independent of the condition, so an unsure answer carries no information.
UNSURE_RATE: Final = 0.08
#: Lay vocabulary styles of the persona (how answers are worded).
STYLES: Final = ("plain", "chatty", "terse")
_AGE_BAND_WEIGHTS: Final = (0.20, 0.55, 0.25)
_SPLITS: Final = ("train", "test")
#: Root of every patient seed stream (changing it changes every case: bump the env version).
_SEED_TAG: Final = 0x434C494E  # "CLIN"
_TASK_ID = re.compile(r"clinical-(train|test)-(\d{1,7})")
_ASSET: Final = "assets/clinical/eval_test.json"


@dataclass(frozen=True)
class Patient:
    """One simulated case (the ground truth the rule-based patient answers from)."""

    task_id: str
    split: str
    seed: int
    condition: str
    age: int
    sex: str
    #: Ids of the findings present (every other finding is absent).
    present: tuple[str, ...]
    #: Symptom/history ids the patient answers "not sure" about.
    unsure: tuple[str, ...]
    #: The present symptom the patient opens with.
    chief_complaint: str
    style: str

    @property
    def present_set(self) -> frozenset[str]:
        return frozenset(self.present)


def content_split(condition: str, age: int, sex: str, present: tuple[str, ...]) -> str:
    """The split a case belongs to by content (so the splits never share a case)."""
    return split_of_content(repr((condition, age, sex, present)))


def _draw(kb: KnowledgeBase, rng: np.random.Generator) -> dict[str, Any] | None:
    sex = SEXES[int(rng.integers(2))]
    band = AGE_BANDS[int(rng.choice(3, p=_AGE_BAND_WEIGHTS))]
    low, high = kb.age_bands[band]
    age = int(rng.integers(low, high + 1))
    prior = kb.prior(band, sex)
    ci = int(rng.choice(len(prior), p=prior))
    lik = kb.likelihood(sex)[ci]
    present_mask = rng.random(len(kb.findings)) < lik
    symptoms = [i for i in np.flatnonzero(present_mask) if kb.findings[i].kind == "symptom"]
    if not symptoms:
        return None
    weights = np.array([lik[i] ** 2 for i in symptoms])
    chief = int(symptoms[int(rng.choice(len(symptoms), p=weights / weights.sum()))])
    unsure_mask = rng.random(len(kb.findings)) < UNSURE_RATE
    unsure = tuple(kb.findings[i].id for i in kb.askable if unsure_mask[i] and i != chief)
    return {
        "condition": kb.conditions[ci].id,
        "age": age,
        "sex": sex,
        "present": tuple(sorted(kb.findings[i].id for i in np.flatnonzero(present_mask))),
        "unsure": unsure,
        "chief_complaint": kb.findings[chief].id,
        "style": STYLES[int(rng.integers(len(STYLES)))],
    }


@lru_cache(maxsize=4096)
def make_patient(split: str, seed: int) -> Patient:
    """The patient ``(split, seed)``; the same arguments always give the same case."""
    check_choice("split", split, _SPLITS)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS_PER_SPLIT:
        raise InvalidArgumentError(
            f"Patient seed must be an int in [0, {SEEDS_PER_SPLIT}), got {seed!r}."
        )
    kb = load_kb()
    for attempt in range(1000):
        rng = np.random.default_rng([_SEED_TAG, _SPLITS.index(split), seed, attempt])
        case = _draw(kb, rng)
        if (
            case is not None
            and content_split(case["condition"], case["age"], case["sex"], case["present"]) == split
        ):
            return Patient(task_id=f"clinical-{split}-{seed:07d}", split=split, seed=seed, **case)
    raise RuntimeError(f"No {split} patient found for seed {seed}.")  # pragma: no cover


def parse_task_id(task_id: object) -> tuple[str, int]:
    """``(split, seed)`` of a task id such as ``clinical-test-0000012``."""
    match = _TASK_ID.fullmatch(task_id) if isinstance(task_id, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"Unknown clinical task id {task_id!r}; ids look like 'clinical-test-0000012'."
        )
    return match.group(1), int(match.group(2))


def patient_from_dict(d: dict[str, Any]) -> Patient:
    """Rebuild a :class:`Patient` from its JSON form."""
    return Patient(
        task_id=d["task_id"],
        split=d["split"],
        seed=int(d["seed"]),
        condition=d["condition"],
        age=int(d["age"]),
        sex=d["sex"],
        present=tuple(d["present"]),
        unsure=tuple(d["unsure"]),
        chief_complaint=d["chief_complaint"],
        style=d["style"],
    )


@cache
def eval_set() -> tuple[Patient, ...]:
    """The frozen evaluation patients (test split)."""
    text = resources.files("mtenvs").joinpath(_ASSET).read_text(encoding="utf-8")
    return tuple(patient_from_dict(d) for d in json.loads(text)["patients"])


def patient_for_task(task_id: object, split: str, *, use_eval_set: bool) -> Patient:
    """The patient named by a ``reset(options={"task_id": …})`` id, checked against the
    env's split and, with ``use_eval_set``, against the eval set."""
    task_split, seed = parse_task_id(task_id)
    if task_split != split:
        raise InvalidArgumentError(
            f"Task {task_id!r} is a {task_split} patient; make the env with split={task_split!r}."
        )
    if use_eval_set:
        for patient in eval_set():
            if patient.task_id == task_id:
                return patient
        raise InvalidArgumentError(
            f"Task {task_id!r} is not in the clinical eval set (test seeds 0-"
            f"{len(eval_set()) - 1}); pass eval_set=False to play it."
        )
    return make_patient(task_split, seed)


def write_eval_set(path: Path | None = None) -> Path:
    """Write the first :data:`EVAL_SET_SIZE` test patients to the eval-set asset."""
    target = path or Path(str(resources.files("mtenvs").joinpath(_ASSET)))
    patients = [asdict(make_patient("test", seed)) for seed in range(EVAL_SET_SIZE)]
    payload = {
        "description": "Fixed clinical eval set: test-split patients sampled from kb.json. "
        "Educational toy cases, not medical data.",
        "patients": patients,
    }
    target.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return target


def _main() -> None:  # pragma: no cover - maintenance command
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-eval-set", action="store_true")
    if parser.parse_args().write_eval_set:
        print(write_eval_set())


if __name__ == "__main__":  # pragma: no cover
    _main()
