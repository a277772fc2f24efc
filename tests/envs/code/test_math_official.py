"""The GSM8K and MATH official answer checks (mtenvs/envs/code/math_official.py).

Every expected value below is what the official code returns for the same strings
(openai/grade-school-math ``dataset.py``; hendrycks/math ``math_equivalence.py``,
``dataset/util.py::last_boxed_only_string``, ``eval_math_gpt.py::remove_boxed``), quirks
included: the port must agree with the official grader, not with mathematics.
"""

from __future__ import annotations

import time

import pytest

from mtenvs.envs.code.math_official import (
    grade_gsm8k,
    grade_math,
    gsm8k_final_number,
    gsm8k_gold,
    is_equiv,
    last_boxed_only_string,
    math_final_answer,
    remove_boxed,
    strip_string,
)
from mtenvs.envs.code.math_verify import MAX_ANSWER_CHARS

# hendrycks/math modeling/math_equivalence_test.py, all fifteen cases.
OFFICIAL_TESTS = [
    ("\\tfrac{1}{2} + \\frac1{72}", "\\\\frac{1}{2} + 2/3", False),
    ("10, 4, -2", "4, 10, -2", False),
    ("10, 4, 2", "4, 12, 2", False),
    ("\\tfrac{1}{2} +\\! \\frac1{72}", "\\\\dfrac{1}{2} +\\frac{1}{72}", True),
    ("10\\text{ units}", "10 ", True),
    ("10\\text{ units}", "100 ", False),
    ("10", "\\$10", True),
    ("\\left(x-2\\right)\\left(x+2\\right)", "(x-2)(x+2)", True),
    ("0.1, 4, 2", "4, .1, 2", False),
    ("0.1", ".1", True),
    ("10\\%", "10", True),
    ("10\\sqrt{3} + \\sqrt4", "10\\sqrt3 + \\sqrt{4}", True),
    ("\\frac34i", "\\frac{3}{4}i", True),
    ("\\tfrac83", "\\frac{8}{3}", True),
    ("5x - 7y + 11z + 4 = 0", "x + y - z + 2 = 0", False),
    ("1/2", "\\frac{1}{2}", True),
]


@pytest.mark.parametrize(("a", "b", "equal"), OFFICIAL_TESTS)
def test_the_official_test_cases(a, b, equal):
    assert is_equiv(a, b) is equal


@pytest.mark.parametrize(
    ("answer", "gold", "equal"),
    [
        # 0.5 is the one decimal the official code turns into a fraction.
        ("0.5", "\\frac{1}{2}", True),
        (".5", "\\frac{1}{2}", True),
        ("\\dfrac12", "\\frac{1}{2}", True),
        ("0.50", "\\frac{1}{2}", False),
        ("2/4", "\\frac{1}{2}", False),
        ("17/50", "\\dfrac{17}{50}", True),
        ("0.34", "\\dfrac{17}{50}", False),
        # degrees and units after "\text{ " are dropped; words without \text are not
        ("180", "180^\\circ", True),
        ("180^{\\circ}", "180^\\circ", True),
        ("180\\text{ degrees}", "180^\\circ", True),
        ("180 degrees", "180^\\circ", False),
        ("5", "5\\text{ cm}", True),
        ("5\\text{ cm}", "5", True),
        # the official fraction fix only reaches \fracab and \fraca{b}: MATH's own
        # \frac{270}7 is equal to itself, not to \frac{270}{7}
        ("\\frac{270}7", "\\frac{270}7\\text{ degrees}", True),
        ("\\frac{270}{7}", "\\frac{270}7\\text{ degrees}", False),
        ("270/7", "\\frac{270}7\\text{ degrees}", False),
        # \$ and \! go, the thousands comma stays
        ("32,348", "\\$32,\\!348", True),
        ("\\$32,348", "\\$32,\\!348", True),
        ("32348", "\\$32,\\!348", False),
        # nested braces and \sqrt3
        ("\\frac{\\sqrt3}{3}", "\\frac{\\sqrt{3}}{3}", True),
        ("\\dfrac{\\sqrt{3}}{3}", "\\frac{\\sqrt{3}}{3}", True),
        ("\\frac{1}{\\sqrt{3}}", "\\frac{\\sqrt{3}}{3}", False),
        # a left side of at most two characters before the one "="
        ("x = 4", "4", True),
        ("k=4", "4", True),
        ("abc = 4", "4", False),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", True),
        # where the official normalisation raises, the raw strings are compared
        ("5\\text{ cm}\\text{ cm}", "5", False),
        ("5\\text{ cm}\\text{ cm}", "5\\text{ cm}\\text{ cm}", True),
        ("\\sqrt", "\\sqrt", True),
        ("\\frac", "\\frac{}", False),
    ],
)
def test_normalisation_as_the_official_is_equiv(answer, gold, equal):
    assert is_equiv(answer, gold) is equal


def test_none_and_strip_string_details():
    assert is_equiv(None, None) and not is_equiv(None, "1") and not is_equiv("1", None)
    assert strip_string("\\left(1,\\!2\\right)\n") == "(1,2)"
    assert strip_string("\\frac1{72}") == "\\frac{1}{72}"
    assert strip_string("") == ""


def test_boxes_are_brace_balanced_and_the_last_one_counts():
    solution = "So $\\sin 60^\\circ = \\boxed{\\frac{\\sqrt{3}}{2}}$, not $\\boxed{1}$?"
    assert last_boxed_only_string(solution) == "\\boxed{1}"
    assert remove_boxed(last_boxed_only_string(solution[:-13])) == "\\frac{\\sqrt{3}}{2}"
    assert remove_boxed(last_boxed_only_string("thus \\fbox{5}.")) == "5"
    assert last_boxed_only_string("\\boxed{\\frac{1}{2}") is None  # never closed
    assert remove_boxed(last_boxed_only_string("\\boxed 5 and {x}")) is None
    assert last_boxed_only_string("no box") is None and remove_boxed(None) is None


def test_the_agent_s_math_answer():
    assert math_final_answer("The answer is $\\boxed{\\dfrac{1}{2}}$.") == "\\dfrac{1}{2}"
    assert math_final_answer("  $\\frac12$ ") == "\\frac12"
    assert math_final_answer("$$x$$") == "x" and math_final_answer("\\(3\\)") == "3"
    assert math_final_answer("$1$ or $2$") == "$1$ or $2$"
    assert math_final_answer("\\boxed{3") is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("18", "18"),
        ("$18", "18"),
        ("She makes $18 a day.", "18"),
        ("\\boxed{18}", "18"),
        ("1,234.5 dollars", "1234.5"),
        ("#### 1,000", "1000"),
        ("#### 7 but the last number is 8", "7"),
        ("-10", "-10"),
        ("\u221210 degrees", "-10"),
        ("= -$5", "-5"),
        ("5-3", "3"),
        ("2, 3", "3"),
        (".5", ".5"),
        ("none", None),
    ],
)
def test_the_gsm8k_final_number(text, number):
    assert gsm8k_final_number(text) == number


def test_gsm8k_gold_is_the_official_extraction():
    assert gsm8k_gold("So 2125 blocks\n#### 2,125") == "2125"
    assert gsm8k_gold("#### -10") == "-10"
    assert gsm8k_gold("no marker 5") is None


@pytest.mark.parametrize(
    ("answer", "correct", "reason"),
    [
        ("18", True, "correct"),
        ("$18.00", True, "correct"),
        ("18.", True, "correct"),
        ("The answer is 18 dollars.", True, "correct"),
        ("17.99", False, "wrong"),
        ("18/1", False, "wrong"),
        ("eighteen", False, "unparseable"),
        ("   ", False, "unparseable"),
        ("1" * (MAX_ANSWER_CHARS + 1), False, "unparseable"),
    ],
)
def test_grade_gsm8k(answer, correct, reason):
    verdict = grade_gsm8k(answer, "18")
    assert (verdict.correct, verdict.reason) == (correct, reason)
    assert verdict.score == (1.0 if correct else 0.0)


def test_grade_math():
    assert grade_math("\\boxed{0.5}", "\\frac{1}{2}").correct
    wrong = grade_math("0.34", "\\dfrac{17}{50}")
    assert wrong.reason == "wrong" and "17" not in wrong.message
    assert grade_math("\\boxed{0.5", "\\frac{1}{2}").reason == "unparseable"
    assert grade_math("", "1").reason == "unparseable"


def test_long_pathological_answers_are_cheap():
    start = time.perf_counter()
    for piece in ("\\frac", "\\sqrt", "{", "\\boxed{", "1,", "-", "\\text{ ", "/"):
        answer = (piece * MAX_ANSWER_CHARS)[:MAX_ANSWER_CHARS]
        grade_math(answer, "\\frac{1}{2}")
        grade_gsm8k(answer, "18")
    assert time.perf_counter() - start < 0.5
