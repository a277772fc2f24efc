"""CodeTasks-v0: HumanEval- and MBPP-format JSONL files, format detection and errors."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.code.code_datasets import load_dataset
from mtenvs.envs.code.code_tasks_env import CodeTasksEnv
from mtenvs.error import InvalidArgumentError

DATA = Path(__file__).parent / "data"
HUMANEVAL = DATA / "humaneval_sample.jsonl"
MBPP = DATA / "mbpp_sample.jsonl"


def _play_oracle(env: CodeTasksEnv) -> list[bool]:
    wins = []
    for seed in range(len(env.tasks)):
        env.reset(seed=seed)
        _, _, _, _, info = env.step(env.oracle_action())
        wins.append(info["success"])
    return wins


@pytest.mark.parametrize("path", [HUMANEVAL, MBPP, None])
def test_oracle_solves_every_record(path):
    env = CodeTasksEnv(dataset=path, sandbox="local")
    assert all(_play_oracle(env))
    env.close()


def test_formats_are_detected_and_asserts_judged_on_the_host():
    he = load_dataset(HUMANEVAL)
    assert [t.source for t in he] == ["humaneval"] * len(he)
    assert he[0].prelude == "from typing import List" and "METADATA" in he[0].setup
    assert [t.kind for t in he[0].tests] == ["equal", "equal", "equal", "truthy", "falsy"]
    loop = next(t for t in he if t.entry_point == "pairs_sum")
    assert [t.kind for t in loop.tests] == ["assert"]  # a loop in check(): one whole test
    mbpp = load_dataset(MBPP)
    ids = ["mbpp-901", "mbpp-902", "mbpp-903", "mbpp-904", "mbpp-905"]
    assert [t.task_id for t in mbpp] == ids
    assert [t.entry_point for t in mbpp] == [
        "remove_char",
        "common",
        "scale",
        "is_even",
        "circle_area",
    ]
    assert mbpp[4].setup == "import math"  # test_imports run with the tests
    assert "remove_char('hello', 'l')" in mbpp[0].prompt and "'heo'" not in mbpp[0].prompt
    assert mbpp[2].setup == "FACTOR = 3"
    assert [t.kind for t in mbpp[1].tests] == ["assert", "equal", "equal"]


def test_strict_comparison_keeps_the_benchmark_semantics():
    env = CodeTasksEnv(dataset=MBPP, sandbox="local", feedback="tests")
    env.reset(options={"task_id": "mbpp-902"})
    obs, *_ = env.step("<answer>def common(a, b):\n    return sorted(set(a) & set(b))</answer>")
    assert "1 of 3 hidden tests passed" in obs  # lists are not tuples here
    env.close()


def test_unknown_formats_name_the_missing_fields(tmp_path):
    with pytest.raises(
        InvalidArgumentError,
        match=r"missing 'task_id', 'prompt', "
        r"'entry_point', 'test'\).*missing 'text', 'test_list'",
    ):
        load_dataset(DATA / "unknown_format.jsonl")
    mixed = tmp_path / "mixed.jsonl"
    lines = [json.loads(x) for x in HUMANEVAL.read_text().splitlines()]
    del lines[1]["test"]
    mixed.write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(
        InvalidArgumentError,
        match=r"mixed.jsonl:2 lacks the humaneval "
        r"field\(s\) 'test'",
    ):
        load_dataset(mixed)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        gym.make("mtenvs/CodeTasks-v0", dataset=str(tmp_path / "nope.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json")
    with pytest.raises(InvalidArgumentError, match=r"bad\.jsonl:1 is not valid JSON"):
        load_dataset(bad)
    no_check = tmp_path / "nocheck.jsonl"
    no_check.write_text(json.dumps({**lines[0], "test": "x = 1"}))
    with pytest.raises(InvalidArgumentError, match=r"check\(candidate\)"):
        load_dataset(no_check)


def test_records_without_a_solution_make_the_oracle_fail_honestly(tmp_path):
    path = tmp_path / "nosol.jsonl"
    rows = [json.loads(x) for x in MBPP.read_text().splitlines()]
    path.write_text(
        "\n".join(json.dumps({k: v for k, v in r.items() if k != "code"}) for r in rows)
    )
    env = CodeTasksEnv(dataset=path, sandbox="local")
    assert not env.oracle_always_succeeds
    assert not any(_play_oracle(env))
    env.close()


def test_task_id_option_and_unknown_ids():
    env = CodeTasksEnv(dataset=MBPP, sandbox="local")
    _, info = env.reset(options={"task_id": "mbpp-903"})
    assert info["task_id"] == "mbpp-903" and info["category"] == "mbpp"
    with pytest.raises(InvalidArgumentError, match="mbpp-901"):
        env.reset(options={"task_id": "mbpp-1"})


def test_helpers_from_the_prompt_are_available_to_the_answer():
    env = CodeTasksEnv(dataset=HUMANEVAL, sandbox="local")
    env.reset(options={"task_id": "Sample/10"})
    answer = (
        "def make_palindrome(s):\n    for i in range(len(s) + 1):\n"
        "        if is_palindrome(s[i:]):\n            return s + s[:i][::-1]\n"
    )
    _, reward, terminated, _, info = env.step(f"<answer>{answer}</answer>")
    assert info["success"] and reward == 1.0 and terminated
    env.close()


def test_tests_call_the_prompt_s_helpers_which_the_answer_cannot_redefine():
    """HumanEval/38's shape: check() calls ``encode_cyclic`` from the prompt. The official
    harness runs prompt + completion + test in one namespace; the judge gives the tests the
    prompt's helpers, so the canonical solution passes and redefining a helper does not."""
    env = CodeTasksEnv(dataset=HUMANEVAL, sandbox="local")
    try:
        env.reset(options={"task_id": "Sample/38"})
        _, reward, _, _, info = env.step(env.oracle_action())
        assert info["success"] and reward == 1.0
        env.reset(options={"task_id": "Sample/38"})
        cheat = "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n"
        _, reward, _, _, info = env.step(f"<answer>{cheat}</answer>")
        assert not info["success"] and reward == 0.0
        env.reset(options={"task_id": "Sample/38"})
        broken = "def decode_cyclic(s):\n    return encode_cyclic(s)\n"
        _, reward, _, _, info = env.step(f"<answer>{broken}</answer>")
        assert not info["success"]
    finally:
        env.close()


def test_mbpp_test_imports_run_with_the_tests():
    """The sanitized MBPP's ``test_imports`` (``import math`` for ``math.isclose`` asserts)
    are part of the test program, as in the official harness."""
    env = CodeTasksEnv(dataset=MBPP, sandbox="local", feedback="tests")
    try:
        env.reset(options={"task_id": "mbpp-905"})
        answer = "def circle_area(r):\n    return 3.14159265 * r * r\n"  # no import of its own
        _, reward, _, _, info = env.step(f"<answer>{answer}</answer>")
        assert info["success"] and reward == 1.0
        env.reset(options={"task_id": "mbpp-905"})
        obs, _, _, _, info = env.step("<answer>def circle_area(r):\n    return 2 * r</answer>")
        assert not info["success"] and "0 of 2" in obs
    finally:
        env.close()
