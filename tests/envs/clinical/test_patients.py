"""Simulated patients and the rule-based patient: determinism, splits, consistent answers."""

from __future__ import annotations

import re
from dataclasses import asdict

import numpy as np
import pytest

from mtenvs.envs.clinical.kb import load_kb, normalize_name
from mtenvs.envs.clinical.patients import (
    EVAL_SET_SIZE,
    content_split,
    eval_set,
    make_patient,
    parse_task_id,
)
from mtenvs.envs.clinical.simulator import (
    MAX_FINDINGS_PER_QUESTION,
    Lexicon,
    answer_question,
    exam_report,
    lab_report,
    opening_statement,
    question_for,
)
from mtenvs.error import InvalidArgumentError

KB = load_kb()
LEX = Lexicon(KB)


def test_patients_are_deterministic_and_well_formed():
    make_patient.cache_clear()
    a = [asdict(make_patient("train", s)) for s in range(50)]
    make_patient.cache_clear()
    assert a == [asdict(make_patient("train", s)) for s in range(50)]
    for d in a:
        p = make_patient("train", d["seed"])
        assert p.chief_complaint in p.present and p.chief_complaint not in p.unsure
        assert KB.findings[KB.finding_index[p.chief_complaint]].kind == "symptom"
        band = KB.age_band(p.age)
        assert KB.prior(band, p.sex)[KB.condition_index[p.condition]] > 0
        for fid in p.present:
            f = KB.findings[KB.finding_index[fid]]
            assert f.sex in (None, p.sex)


def test_splits_are_disjoint_by_id_and_content():
    def content(p):
        return (p.condition, p.age, p.sex, p.present)

    train = {content(make_patient("train", s)) for s in range(400)}
    test = {content(make_patient("test", s)) for s in range(400)}
    assert not train & test
    assert all(content_split(*c) == "train" for c in train)
    assert len({make_patient("test", s).condition for s in range(400)}) > 40


def test_eval_set_is_the_frozen_first_test_patients():
    patients = eval_set()
    assert len(patients) == EVAL_SET_SIZE
    assert [asdict(p) for p in patients] == [
        asdict(make_patient("test", s)) for s in range(EVAL_SET_SIZE)
    ]


def test_task_ids_and_bad_seeds():
    assert parse_task_id("clinical-test-0000012") == ("test", 12)
    with pytest.raises(InvalidArgumentError, match="clinical-test-0000012"):
        parse_task_id("maze-easy-test-00001")
    with pytest.raises(InvalidArgumentError, match="seed"):
        make_patient("train", -1)


def test_every_synonym_maps_to_its_finding_and_oracle_questions_are_exact():
    for i in KB.askable:
        finding = KB.findings[i]
        assert LEX.findings_in(question_for(KB, int(i))) == [i], finding.id
        for syn in finding.synonyms:
            assert LEX.findings_in(f"Tell me: {syn.upper()}?") == [i], (finding.id, syn)
    assert LEX.findings_in("Do you have a FEVER, a cough or chest pain?") == [
        KB.finding_index["fever"],
        KB.finding_index["cough"],
        KB.finding_index["chest_pain"],
    ]
    assert LEX.findings_in("feverish? unfeverishly") == [KB.finding_index["fever"]]
    assert LEX.system("Respiratory ") == "respiratory" and LEX.system("lungs") == "respiratory"
    assert LEX.test("Chest X-ray") == "chest_xray" and LEX.test("'CBC'") == "cbc"
    assert LEX.condition("heart attack") == "acute_mi" and LEX.condition("flu") == "influenza"
    assert LEX.condition("not a disease") is None


def _names_of_conditions() -> list[re.Pattern[str]]:
    names = {normalize_name(n) for c in KB.conditions for n in (c.id, c.display, *c.synonyms)}
    return [re.compile(rf"(?<![a-z]){re.escape(n)}(?![a-z])") for n in names]


def test_patient_answers_agree_with_the_case_and_never_name_a_condition():
    names = _names_of_conditions()
    rng = np.random.default_rng(0)
    for seed in range(40):
        patient = make_patient("test", seed)
        said = [opening_statement(KB, patient)]
        for i in KB.askable:
            answer = answer_question(KB, LEX, patient, question_for(KB, int(i)), rng)
            fid = KB.findings[i].id
            if fid in patient.unsure:
                assert answer.revealed == () and answer.unsure == (i,)
            else:
                assert answer.revealed == ((i, fid in patient.present),)
            said.append(answer.text)
        for text in said:
            folded = normalize_name(text)
            assert not [p.pattern for p in names if p.search(folded)], text


def test_unrelated_and_overlong_questions():
    patient = make_patient("train", 0)
    rng = np.random.default_rng(1)
    answer = answer_question(KB, LEX, patient, "What's your favourite colour?", rng)
    assert answer.revealed == () and answer.text
    many = "Fever? cough? chest pain? rash? headache? nausea?"
    answer = answer_question(KB, LEX, patient, many, rng)
    assert len(answer.revealed) + len(answer.unsure) == MAX_FINDINGS_PER_QUESTION
    assert "one at a time" in answer.text


def test_exam_and_test_reports_reveal_their_group_consistently():
    patient = make_patient("train", 3)
    for system in KB.systems:
        text, revealed = exam_report(KB, patient, system)
        assert [i for i, _ in revealed] == list(KB.group_findings[("exam", system)])
        for i, present in revealed:
            assert present == (KB.findings[i].id in patient.present)
            if present:
                assert KB.findings[i].text in text
    for test in KB.tests:
        text, revealed = lab_report(KB, patient, test.id)
        assert revealed and all(
            present == (KB.findings[i].id in patient.present) for i, present in revealed
        )
