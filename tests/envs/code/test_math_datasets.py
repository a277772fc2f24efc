"""PythonMath-v0 with ``dataset=``: GSM8K JSONL, MATH folders and JSONL, official grading.

The records are real: five GSM8K test problems (openai/grade-school-math
``data/test.jsonl``, lines 1, 2, 3, 147, 490) and six MATH test problems (hendrycks/math,
as MATH-500 selects them), in tests/envs/code/data/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.code.math_datasets import load_math_dataset
from mtenvs.envs.code.math_env import PythonMathEnv
from mtenvs.error import InvalidArgumentError

DATA = Path(__file__).parent / "data"
GSM8K = DATA / "gsm8k_test_sample.jsonl"
MATH = DATA / "math_test_sample.jsonl"
GSM8K_GOLDS = ["18", "3", "70000", "2125", "-10"]
#: The folder and file each MATH sample record goes to in the official layout.
MATH_FILES = [
    "algebra/1.json",
    "algebra/2.json",
    "counting_and_probability/10.json",
    "geometry/3.json",
    "prealgebra/11.json",
    "prealgebra/4.json",
]
MATH_GOLDS = {
    "algebra-1": "\\frac{\\sqrt{3}}{3}",
    "algebra-2": "\\$32,\\!348",
    "counting_and_probability-10": "\\frac{1}{2}",
    "geometry-3": "180^\\circ",
    "prealgebra-11": "\\frac{270}7\\text{ degrees}",
    "prealgebra-4": "\\dfrac{17}{50}",
}


def _math_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in MATH.read_text().splitlines()]


@pytest.fixture
def gsm8k(tmp_path: Path) -> Path:
    path = tmp_path / "gsm8k" / "test.jsonl"
    path.parent.mkdir()
    shutil.copy(GSM8K, path)
    return path


@pytest.fixture
def math_folder(tmp_path: Path) -> Path:
    """The official layout: MATH/<split>/<type>/<n>.json, one record a file."""
    root = tmp_path / "MATH"
    for name, record in zip(MATH_FILES, _math_records(), strict=True):
        file = root / "test" / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(record, indent=4))
    (root / "train" / "algebra").mkdir(parents=True)
    shutil.copy(root / "test" / "algebra" / "1.json", root / "train" / "algebra" / "7.json")
    return root


@pytest.fixture
def math_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "math_test.jsonl"
    shutil.copy(MATH, path)
    return path


def make(dataset: Path, **kwargs: Any) -> gym.Env:
    return gym.make("mtenvs/PythonMath-v0", dataset=str(dataset), sandbox="local", **kwargs)


def answer(env: gym.Env, text: str) -> tuple[float, bool, dict[str, Any]]:
    _, reward, terminated, _, info = env.step(f"<answer>{text}</answer>")
    return float(reward), terminated, info


# --------------------------------------------------------------------------- GSM8K


def test_gsm8k_records_and_golds(gsm8k):
    records = load_math_dataset(gsm8k, "test")
    assert [r.answer for r in records] == GSM8K_GOLDS
    assert [r.task_id for r in records] == [f"gsm8k-test-{i:05d}" for i in range(5)]
    assert records[0].question.startswith("Janet\u2019s ducks") and records[0].format == "gsm8k"
    assert records[0].source == f"{gsm8k}:1"


def test_gsm8k_episodes_are_graded_like_gsm8k(gsm8k):
    env = make(gsm8k)
    obs, info = env.reset(seed=0)
    assert "Janet\u2019s ducks lay 16 eggs" in obs and "one number" in obs
    assert info["task_id"] == "gsm8k-test-00000" and info["split"] == "test"
    assert "Give the final number only." in info["system_prompt"]
    reward, terminated, info = answer(env, "She makes $18 every day.")
    assert (reward, terminated, info["success"]) == (1.0, True, True)
    assert info["answer_verdict"] == "correct" and info["family"] == "gsm8k"
    assert info["answer_kind"] == "gsm8k"
    assert env.unwrapped._checker.pid is None  # graded on the host: no sympy checker process

    env.reset(seed=0)
    reward, terminated, info = answer(env, "17")
    assert (reward, terminated, info["success"], info["answer_verdict"]) == (
        0.0,
        True,
        False,
        "wrong",
    )

    env.reset(seed=3)  # gold "#### 2,125"
    _, _, _, _, info = env.step({"name": "submit", "arguments": {"answer": "2,125"}})
    assert info["success"]
    env.reset(seed=9)  # 9 % 5: the -10 degrees one
    assert answer(env, "10")[0] == 0.0
    env.reset(seed=4)
    assert answer(env, "#### -10")[0] == 1.0
    env.close()


def test_gsm8k_with_a_code_turn(gsm8k):
    env = make(gsm8k, max_turns=3)
    env.reset(options={"task_id": "gsm8k-test-00002"})
    obs, reward, terminated, _, info = env.step(
        "```python\ncost = 80_000 + 50_000\nprint((80_000 * 2.5) - cost)\n```"
    )
    assert "70000.0" in obs and not terminated and info["turn_type"] == "code"
    reward, terminated, info = answer(env, "70000.0")  # 70000.0 equals 70000
    assert reward == 1.0 and terminated and info["code_cells"] == 1
    env.close()


def test_tests_feedback_never_shows_the_gold(gsm8k):
    env = make(gsm8k, feedback="tests", max_turns=3)
    env.reset(seed=1)
    obs, _, terminated, _, info = env.step("<answer>four</answer>")
    assert not terminated and info["answer_verdict"] == "unparseable" and "no number" in obs
    obs, *_ = env.step("<answer>4</answer>")
    assert "not the expected one" in obs and "3" not in obs.split("Turns left")[0]
    assert answer(env, "3")[0] == 1.0
    env.close()


def test_seeds_walk_the_records(gsm8k):
    env = make(gsm8k)
    assert [env.reset(seed=s)[1]["task_id"] for s in (4, 5)] == [
        "gsm8k-test-00004",
        "gsm8k-test-00000",
    ]
    assert [env.reset()[1]["task_id"] for _ in range(2)] == [
        "gsm8k-test-00001",
        "gsm8k-test-00002",
    ]
    env.close()


# --------------------------------------------------------------------------- MATH


def test_math_folder_reads_the_split_in_natural_order(math_folder):
    records = load_math_dataset(math_folder, "test")
    ids = [r.task_id.removeprefix("hendrycks-math-test-") for r in records]
    assert ids[4:] == ["prealgebra-4", "prealgebra-11"]  # 4 before 11
    assert {i: r.answer for i, r in zip(ids, records)} == MATH_GOLDS
    assert records[3].level == "Level 1" and records[3].type == "Geometry"
    train = load_math_dataset(math_folder, "train")
    assert [r.task_id for r in train] == ["hendrycks-math-train-algebra-7"]
    # a folder without train/ and test/ is read whole
    whole = load_math_dataset(math_folder / "test" / "prealgebra", "test")
    assert [r.task_id for r in whole] == ["hendrycks-math-test-4", "hendrycks-math-test-11"]


def test_math_jsonl_and_json_files(math_jsonl, tmp_path):
    records = load_math_dataset(math_jsonl, "test")
    assert [r.answer for r in records] == list(MATH_GOLDS.values())
    assert records[0].task_id == "hendrycks-math-test-00000"
    # MATH-500 style: 'subject' for 'type', an int level, an extra 'answer'
    one = {**_math_records()[3], "level": 1, "answer": "180^\\circ"}
    one["subject"] = one.pop("type")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(one))
    (record,) = load_math_dataset(single, "train")
    assert (record.type, record.level, record.task_id) == (
        "Geometry",
        "1",
        "hendrycks-math-train-00000",
    )
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(_math_records()))
    assert [r.answer for r in load_math_dataset(listed, "test")] == list(MATH_GOLDS.values())


# Answers as the official MATH grader judges them (see test_math_official.py).
MATH_ANSWERS = [
    ("algebra-1", "\\boxed{\\frac{\\sqrt3}{3}}", 1.0),
    ("algebra-1", "\\frac{1}{\\sqrt{3}}", 0.0),
    ("algebra-2", "\\$32,\\!348", 1.0),
    ("algebra-2", "32,348", 1.0),
    ("algebra-2", "32348", 0.0),
    ("counting_and_probability-10", "0.5", 1.0),
    ("counting_and_probability-10", "$\\dfrac{1}{2}$", 1.0),
    ("counting_and_probability-10", "0.50", 0.0),
    ("geometry-3", "180", 1.0),
    ("geometry-3", "m\\angle J + m\\angle H = \\boxed{180^{\\circ}}", 1.0),
    ("geometry-3", "180 degrees", 0.0),
    ("prealgebra-11", "\\frac{270}7", 1.0),
    ("prealgebra-11", "\\frac{270}{7}", 0.0),  # the official fraction fix misses this
    ("prealgebra-4", "17/50", 1.0),
    ("prealgebra-4", "0.34", 0.0),
]


@pytest.mark.parametrize(("name", "reply", "outcome"), MATH_ANSWERS)
def test_math_episodes_are_graded_like_math(math_folder, name, reply, outcome):
    env = make(math_folder)
    obs, info = env.reset(options={"task_id": f"hendrycks-math-test-{name}"})
    assert "LaTeX" in obs and "normalisation" in info["system_prompt"]
    reward, terminated, info = answer(env, reply)
    assert (reward, terminated) == (outcome, True)
    assert info["reward_components"]["outcome"] == outcome
    assert info["answer_kind"] == "math" and info["answer_verdict"] in ("correct", "wrong")
    env.close()


def test_math_oracle_solves_every_record(math_folder, math_jsonl):
    for dataset in (math_folder, math_jsonl):
        env = make(dataset)
        for seed in range(len(MATH_GOLDS)):
            _, info = env.reset(seed=seed)
            assert env.unwrapped.privileged()["answer"] in MATH_GOLDS.values()
            _, reward, *_ = env.step(env.unwrapped.oracle_action())
            assert reward == 1.0, info["task_id"]
        env.close()


def test_check_env_on_dataset_envs(gsm8k, math_folder):
    for dataset in (gsm8k, math_folder):
        env = make(dataset)
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=2)
        assert env.observation_space.contains(obs)
        obs, *_ = env.step(env.unwrapped.random_action(np.random.default_rng(0)))
        assert env.observation_space.contains(obs)
        env.close()


# --------------------------------------------------------------------------- errors


def _write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_bad_paths_and_records_are_named(tmp_path, gsm8k):
    gsm = [json.loads(line) for line in GSM8K.read_text().splitlines()]
    math = _math_records()
    cases: list[tuple[Path, str]] = [
        (tmp_path / "nope.jsonl", r"'.*nope\.jsonl' does not exist.*GSM8K.*MATH"),
        (
            _write_lines(tmp_path / "neither.jsonl", [{"q": 1}]),
            r"neither\.jsonl:1 is neither GSM8K \(missing 'question', 'answer'\) nor "
            r"MATH \(missing 'problem', 'solution'\)",
        ),
        (
            _write_lines(tmp_path / "field.jsonl", [gsm[0], gsm[1], {"question": "q"}]),
            r"field\.jsonl:3 lacks the GSM8K field\(s\) 'answer'",
        ),
        (
            _write_lines(tmp_path / "marker.jsonl", [{**gsm[0], "answer": "18"}]),
            r"marker\.jsonl:1: field 'answer' has no '#### N' line",
        ),
        (
            _write_lines(tmp_path / "box.jsonl", [math[0], {**math[1], "solution": "32348"}]),
            r"box\.jsonl:2: field 'solution' has no \\boxed\{\.\.\.\} answer",
        ),
        (
            _write_lines(tmp_path / "mtype.jsonl", [math[0], {"problem": "p"}]),
            r"mtype\.jsonl:2 lacks the MATH field\(s\) 'solution'",
        ),
        (
            _write_lines(tmp_path / "empty.jsonl", [{**gsm[0], "question": ""}]),
            r"field 'question' must be a non-empty string",
        ),
    ]
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(GSM8K.read_text() + "{not json\n")
    cases.append((bad_json, r"bad\.jsonl:6 is not valid JSON"))
    (tmp_path / "empty_folder").mkdir()
    cases.append((tmp_path / "empty_folder", r"empty_folder holds no \.json files"))
    gsm_folder = tmp_path / "gsm_folder"
    gsm_folder.mkdir()
    (gsm_folder / "1.json").write_text(json.dumps(gsm[0]))
    cases.append((gsm_folder, r"1\.json is a GSM8K record; a folder holds MATH problems"))
    for path, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            make(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"difficulty": "hard"}, "difficulty='hard' does not apply with dataset=PATH"),
        ({"eval_set": True}, "eval_set=True does not apply with dataset=PATH"),
        ({"split": "dev"}, "Unknown split 'dev'"),
    ],
)
def test_arguments_that_do_not_apply(gsm8k, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        make(gsm8k, **kwargs)


def test_dataset_type_and_unknown_task_ids(gsm8k):
    with pytest.raises(InvalidArgumentError, match="dataset must be a path"):
        PythonMathEnv(dataset=3)  # type: ignore[arg-type]
    env = make(gsm8k)
    with pytest.raises(
        InvalidArgumentError,
        match=r"'math-easy-test-00000' is not in dataset .*'gsm8k-test-00000' to "
        r"'gsm8k-test-00004'",
    ):
        env.reset(options={"task_id": "math-easy-test-00000"})
    env.close()
