"""The hidden-test harness: plain-value encoding, host-side judging, feedback."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from mtenvs.envs.code.code_verify import (
    CodeTest,
    decode_value,
    encode_value,
    extract_solution,
    precheck,
    run_tests,
    values_match,
)
from mtenvs.sandbox import LocalSandbox

ADD = "def add(a, b):\n    return a + b\n"
TESTS = (
    CodeTest("candidate(1, 2)", 3),
    CodeTest("candidate('a', 'b')", "ab"),
    CodeTest("candidate([1], [2])", [1, 2]),
    CodeTest("candidate((1,), (2,))", (1, 2)),
    CodeTest("candidate(1, 2) > 2", None, "truthy"),
    CodeTest("assert candidate(2, 2) == 4", None, "assert"),
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalSandbox]:
    sb = LocalSandbox()
    yield sb
    sb.close()


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**40),
        1.5,
        "é\n",
        [1, [2]],
        (1, "a"),
        {"k": (1, 2), 3: None},
        {1, 2},
        frozenset({(1, 2)}),
        float("inf"),
        [(), {}],
    ],
)
def test_encode_decode_round_trip(value):
    assert decode_value(encode_value(value)) == value


def test_encoding_rejects_subclasses_and_foreign_objects():
    class Sneaky(int):
        def __eq__(self, other):
            return True

    for value in (Sneaky(3), object(), [1, Sneaky(1)], {"a": object()}, 1j):
        with pytest.raises(TypeError, match="plain Python values"):
            encode_value(value)
    assert math.isnan(decode_value(encode_value(float("nan"))))
    with pytest.raises(ValueError):
        decode_value({"__eval__": "1"})


def test_values_match_lenient_and_strict():
    assert values_match((1, 2), [1, 2], lenient=True)
    assert not values_match((1, 2), [1, 2], lenient=False)
    assert values_match(0.1 + 0.2, 0.3, lenient=True)
    assert not values_match(0.1 + 0.2, 0.3, lenient=False)
    assert not values_match(True, 1, lenient=True)
    assert not values_match("1", 1, lenient=True)
    assert values_match({"a": [1.0]}, {"a": [1]}, lenient=True)


def test_correct_solution_passes_every_test(sandbox):
    verdict = run_tests(sandbox, ADD, "add", TESTS)
    assert verdict.correct and verdict.score == 1.0 and verdict.passed == 6


def test_wrong_solution_gets_partial_credit_and_mint_feedback(sandbox):
    source = "def add(a, b):\n    return a + b if isinstance(a, int) else None\n"
    verdict = run_tests(sandbox, source, "add", TESTS)
    assert verdict.passed == 3 and verdict.score == pytest.approx(0.5)
    text = verdict.feedback()
    assert text.startswith("3 of 6 hidden tests passed.")
    assert "Failed: add('a', 'b'): expected 'ab', got None" in text


def test_errors_timeouts_and_load_failures(sandbox):
    verdict = run_tests(sandbox, "def add(a, b):\n    while True: pass\n", "add", TESTS[:1])
    assert not verdict.correct and "timed out" in verdict.outcomes[0].got
    verdict = run_tests(sandbox, "raise ValueError('boom')\ndef add(a, b): pass", "add", TESTS)
    assert verdict.score == 0 and "failed to load: ValueError: boom" in verdict.feedback()
    verdict = run_tests(sandbox, "add = 3", "add", TESTS)
    assert verdict.score == 0 and "does not define a function add" in verdict.feedback()


def test_large_values_are_compared_by_digest(sandbox):
    big = list(range(50_000))
    tests = (CodeTest("candidate(50_000)", big),)
    assert run_tests(sandbox, "def f(n):\n    return list(range(n))", "f", tests).correct
    wrong = run_tests(sandbox, "def f(n):\n    return list(range(1, n + 1))", "f", tests)
    assert not wrong.correct and "differs" in wrong.outcomes[0].got


def test_hidden_expected_values_never_reach_the_sandbox():
    from mtenvs.envs.code.code_verify import judge_request

    sent = repr(judge_request((CodeTest("candidate(1, 2)", "SECRET-EXPECTED"),)))
    assert "SECRET-EXPECTED" not in sent and "candidate(1, 2)" in sent


def test_host_prechecks_and_solution_extraction():
    assert precheck("def f(:", "f") is not None
    assert "does not define" in str(precheck("def g(): pass", "f"))
    assert precheck("def f(): pass", "f") is None
    assert precheck("from math import gcd as f", "f") is None
    assert extract_solution("Here:\n```python\ndef f(): pass\n```\n") == "def f(): pass\n"
    assert extract_solution("def f(): pass") == "def f(): pass"


def test_the_solution_runs_in_a_child_process(sandbox):
    source = "import os\ndef pid():\n    return os.getpid()\n"
    tests = (CodeTest("candidate() != __import__('os').getpid()", None, "truthy"),)
    assert run_tests(sandbox, source, "pid", tests).correct


def test_agent_code_that_breaks_the_parser_is_a_bad_reply(monkeypatch):
    """``ast.parse`` may raise RecursionError, MemoryError or (CPython 3.11 < 3.11.8,
    gh-106905, seen in the demo) SystemError on agent text: each is a message, never an
    exception out of ``step``."""
    import ast

    from mtenvs.envs.code import code_verify

    assert "RecursionError" in str(code_verify.parse_untrusted("x" + "[0]" * 100_000, "x"))

    def broken(*args, **kwargs):
        raise SystemError("AST constructor recursion depth mismatch (before=57, after=53)")

    monkeypatch.setattr(ast, "parse", broken)
    assert "SystemError" in str(precheck("def f(): pass", "f"))
