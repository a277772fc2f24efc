"""Clinical-v0 with dataset=PATH (MediQ records) and with an agent voicing the patient."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.clinical.env import ClinicalEnv
from mtenvs.envs.clinical.mediq import (
    MEDIQ_MAX_QUESTIONS,
    NO_ANSWER,
    REQUIRED_FIELDS,
    load_mediq,
    match_fact,
)
from mtenvs.error import InvalidArgumentError

SAMPLE = Path(__file__).parent / "data" / "mediq_sample.jsonl"


def test_loader_reads_records_and_strips_fact_numbers():
    records = load_mediq(SAMPLE)
    assert [r.id for r in records] == ["s1", "s2", "s3"]
    assert records[0].facts[2] == "She has no cough." and records[0].patient["age"] == 34
    assert records[2].facts[0] == "She needs to urinate often."  # from atomic_facts


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
def test_a_record_missing_a_field_is_named(tmp_path, missing):
    record = json.loads(SAMPLE.read_text().splitlines()[0])
    del record[missing]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(InvalidArgumentError, match=f"lacks the field '{missing}'"):
        ClinicalEnv(dataset=str(path))


def test_bad_files(tmp_path):
    with pytest.raises(InvalidArgumentError, match="is not a file"):
        ClinicalEnv(dataset=str(tmp_path / "none.jsonl"))
    (tmp_path / "x.jsonl").write_text("{not json\n")
    with pytest.raises(InvalidArgumentError, match="Line 1"):
        ClinicalEnv(dataset=str(tmp_path / "x.jsonl"))
    with pytest.raises(InvalidArgumentError, match="cannot be combined"):
        ClinicalEnv(dataset=str(SAMPLE), eval_set=True)


def test_questions_reveal_only_the_fact_they_ask_about():
    record = load_mediq(SAMPLE)[0]
    assert match_fact(record, "Do you have a cough?") == 2
    assert match_fact(record, "How high was the fever?") == 1
    assert match_fact(record, "Any tender lymph nodes in your neck?") == 4
    assert match_fact(record, "What's the weather like?") is None


def test_episode_opens_with_context_question_options_and_grades_the_letter():
    env = ClinicalEnv(dataset=str(SAMPLE))
    obs, info = env.reset(options={"task_id": "mediq-s1"})
    assert obs.startswith("A 34-year-old woman comes to the clinic with a sore throat.")
    assert "Question: What is the most likely diagnosis?" in obs and "B. Streptococcal" in obs
    assert "fever" not in obs and info["task_id"] == "mediq-s1"
    obs, *_, info = env.step("Do you have a fever?")
    assert "38.9 °C" in obs and info["findings_revealed"] == 1
    obs, *_, info = env.step("<answer>E</answer>")
    assert "not an option" in info["parse_error"]
    _, reward, terminated, _, info = env.step('<action>answer("B")</action>')
    assert terminated and info["success"] and reward == 1.0
    env.reset(options={"task_id": "mediq-s1"})
    _, reward, terminated, _, info = env.step("<answer>Influenza</answer>")
    assert terminated and not info["success"] and reward == 0.0 and info["diagnosis"] == "C"


def test_mediq_oracle_and_random_replies():
    env = ClinicalEnv(dataset=str(SAMPLE))
    for seed in range(6):
        env.reset(seed=seed)
        _, _, terminated, _, info = env.step(env.oracle_action())
        assert terminated and info["success"]
    env = gym.make("mtenvs/Clinical-v0", dataset=str(SAMPLE))
    env.reset(seed=0)
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(50):
        _, _, terminated, truncated, info = env.step(env.unwrapped.random_action(rng))
        assert info["parse_error"] is None
        if terminated or truncated:
            env.reset()


class _EchoPatient:
    """A stand-in for an LLM: repeats the facts it was given (records its prompts)."""

    name = "echo"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def act(self, batch: Sequence) -> list[str]:
        system = batch[0].messages[0]["content"]
        self.prompts.append(system)
        facts = [line[2:] for line in system.splitlines() if line.startswith("- ")]
        return ["Well… " + " ".join(facts) if facts else "I don't know, doctor."]


def test_an_agent_voices_the_patient_grounded_on_the_revealed_facts_only():
    voice = _EchoPatient()
    env = ClinicalEnv(patient=voice)
    env.reset(seed=3)
    present = set(env.privileged()["present_findings"])
    obs, *_ = env.step("Do you have a fever?")
    assert obs.startswith("Patient: “Well… ") and len(voice.prompts) == 1
    said = voice.prompts[0]
    assert ("I have had a fever" in said) == ("fever" in present) or "not sure" in said
    assert env.privileged()["true_condition"] not in said
    env.step("<action>order_test(cbc)</action>")
    assert len(voice.prompts) == 1  # only questions are voiced
    mediq = ClinicalEnv(dataset=str(SAMPLE), patient=voice)
    mediq.reset(options={"task_id": "mediq-s1"})
    obs, *_ = mediq.step("Any cough?")
    assert obs.startswith("Patient: “Well… She has no cough.”")
    with pytest.raises(InvalidArgumentError, match="Unknown patient 'llm'"):
        ClinicalEnv(patient="llm")
    # Spec strings go to the agent factory, whose errors name the expected form.
    with pytest.raises(InvalidArgumentError, match="needs a model path: 'hf:PATH'"):
        ClinicalEnv(patient="hf:")


def test_mediq_abstain_and_the_all_env_checks_in_dataset_mode():
    from gymnasium.utils.env_checker import check_env

    env = ClinicalEnv(dataset=str(SAMPLE))
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step("<action>abstain()</action>")
    assert terminated and reward == 0.0 and not info["success"]
    check_env(ClinicalEnv(dataset=str(SAMPLE)), skip_render_check=True)
    env.reset(seed=2)
    snap = env.snapshot()
    first = [env.step(q)[0] for q in ("Any pain?", "Do you smoke?")]
    env.restore(snap)
    assert [env.step(q)[0] for q in ("Any pain?", "Do you smoke?")] == first


# ------------------------------------------------- fidelity to the official MediQ benchmark


def _write(tmp_path: Path, *records: dict) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


_CASE = {
    "id": 7,
    "question": "What is the most likely diagnosis?",
    "context": "A 60-year-old man has crushing chest pain. The pain spreads to his left arm. "
    "He is a smoker",
    "options": {"A": "Myocardial infarction", "B": "Gastritis"},
    "answer": "Myocardial infarction",
    "answer_idx": "A",
}


def test_a_context_string_is_split_as_mediq_splits_it_and_only_its_first_sentence_shown(
    tmp_path,
):
    (record,) = load_mediq(_write(tmp_path, _CASE))  # no facts: the context's sentences
    assert record.context == (
        "A 60-year-old man has crushing chest pain.",
        "The pain spreads to his left arm.",
        "He is a smoker",
    )
    assert record.facts == record.context and record.id == "7"
    env = ClinicalEnv(dataset=_write(tmp_path, _CASE))
    obs, info = env.reset(seed=0)
    assert obs.startswith("A 60-year-old man has crushing chest pain.\n\nQuestion:")
    assert "left arm" not in obs and "smoker" not in obs  # the old opening showed it all
    assert info["task_id"] == "mediq-7"
    obs, *_ = env.step("Does the pain spread to your arm?")
    assert "The pain spreads to his left arm." in obs


def test_initial_info_atomic_facts_and_repeated_ids_follow_mediq(tmp_path):
    case = dict(
        _CASE,
        initial_info="A man comes to the emergency room.",
        facts=["1. He has chest pain."],
        atomic_facts=["1. He has crushing chest pain.", "2. He smokes a pack a day."],
    )
    later = dict(case, question="Which test comes first?", options={"A": "ECG", "B": "MRI"})
    records = load_mediq(_write(tmp_path, case, dict(_CASE, id=8), later))
    assert [r.id for r in records] == ["7", "8"]  # id 7 replaced by the later record
    assert records[0].question == "Which test comes first?"
    assert records[0].facts == ("He has crushing chest pain.", "He smokes a pack a day.")
    env = ClinicalEnv(dataset=_write(tmp_path, case))
    obs, _ = env.reset(seed=0)
    assert obs.startswith("A man comes to the emergency room.\n\nQuestion:")


def test_the_patient_says_mediqs_sentence_when_no_fact_answers():
    env = ClinicalEnv(dataset=str(SAMPLE))
    env.reset(options={"task_id": "mediq-s1"})
    obs, *_ = env.step("What's the weather like?")
    assert obs.startswith(f"Patient: “{NO_ANSWER}”")
    assert NO_ANSWER == (
        "The patient cannot answer this question, please do not ask this question again."
    )


def test_mediqs_budget_thirty_questions_then_the_answer(tmp_path):
    env = gym.make("mtenvs/Clinical-v0", dataset=str(SAMPLE))
    _, info = env.reset(options={"task_id": "mediq-s1"})
    assert info["max_turns"] == MEDIQ_MAX_QUESTIONS + 1 == 31  # was 20
    for turn in range(1, 31):
        obs, _, terminated, truncated, _ = env.step("Do you have a fever?")
        assert "38.9" in obs and not (terminated or truncated)
        assert ("No questions left: answer now" in obs) == (turn == 30)
    _, reward, terminated, _, info = env.step("<answer>B</answer>")
    assert terminated and info["success"] and reward == 1.0
    env.reset(options={"task_id": "mediq-s1"})
    for _ in range(30):
        env.step("Any cough?")
    obs, reward, terminated, truncated, info = env.step("Do you have a fever?")
    assert truncated and not terminated and reward == 0.0 and not info["success"]
    assert "38.9" not in obs and "ends without an answer" in obs
    assert ClinicalEnv(dataset=str(SAMPLE), max_turns=5).max_turns == 5
    assert ClinicalEnv().max_turns == 20
