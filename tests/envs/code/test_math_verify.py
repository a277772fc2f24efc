"""The math answer checker: equivalent forms pass, near misses fail, nothing is evaluated."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from mtenvs.envs.code.math_parse import AnswerParseError, parse_expression
from mtenvs.envs.code.math_verify import verify

fractions = st.tuples(st.integers(-500, 500), st.integers(1, 60)).map(
    lambda pq: sympy.Rational(*pq)
)


@given(fractions)
@settings(max_examples=150, deadline=None)
def test_equivalent_forms_of_a_fraction_pass(value):
    expected = sympy.sstr(value)
    p, q = value.p, value.q
    forms = [
        f"{p}/{q}",
        f"\\frac{{{p}}}{{{q}}}",
        f"\\boxed{{{p}/{q}}}",
        f"x = {p}/{q}",
        f"$\\dfrac{{{p}}}{{{q}}}$",
        f"{2 * p}/{2 * q}",
        f"{float(value):.10g}",
        f"{p}/{q} cm",
    ]
    for form in forms:
        assert verify(form, expected, "number").correct, form


@given(fractions, st.integers(1, 1000))
@settings(max_examples=150, deadline=None)
def test_near_misses_of_a_fraction_fail(value, k):
    expected = sympy.sstr(value)
    near = value + sympy.Rational(1, 1000 * k)
    assert not verify(sympy.sstr(near), expected, "number").correct
    # a decimal one unit off in the 4th significant digit
    digits = sympy.floor(sympy.log(max(abs(value), sympy.Rational(1, 10**6)), 10)) - 3
    off = value + 2 * sympy.Integer(10) ** digits
    assert not verify(f"{float(off):.12g}", expected, "number").correct


@given(st.integers(1, 50), st.integers(2, 30).filter(lambda n: sympy.sqrt(n).is_irrational))
@settings(max_examples=80, deadline=None)
def test_radicals(a, n):
    expected = sympy.sstr(a * sympy.sqrt(n))
    assert verify(f"{a}\\sqrt{{{n}}}", expected, "number").correct
    assert verify(f"sqrt({a * a * n})", expected, "number").correct
    assert verify(f"{float(a * sympy.sqrt(n)):.6f}", expected, "number").correct
    assert not verify(f"{a}*sqrt({n + 1})", expected, "number").correct


@given(st.lists(st.integers(-30, 30), min_size=1, max_size=5, unique=True), st.randoms())
@settings(max_examples=80, deadline=None)
def test_sets_in_any_order_and_missing_or_extra_elements(values, rnd):
    expected = "{" + ", ".join(map(str, sorted(values))) + "}"
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert verify("{" + ", ".join(map(str, shuffled)) + "}", expected, "set").correct
    assert verify(" or ".join(f"x = {v}" for v in shuffled), expected, "set").correct
    assert not verify("{" + ", ".join(map(str, [*values, 99])) + "}", expected, "set").correct
    if len(values) > 1:
        partial = verify("{" + ", ".join(map(str, values[1:])) + "}", expected, "set")
        assert not partial.correct and 0 < partial.score < 1


@given(st.lists(st.integers(-9, 9), min_size=2, max_size=3))
@settings(max_examples=60, deadline=None)
def test_tuples_are_ordered(values):
    expected = "(" + ", ".join(map(str, values)) + ")"
    assert verify(expected.replace("(", "[").replace(")", "]"), expected, "tuple").correct
    assert verify(f"\\left({', '.join(map(str, values))}\\right)", expected, "tuple").correct
    swapped = [values[1], values[0], *values[2:]]
    assert verify("(" + ", ".join(map(str, swapped)) + ")", expected, "tuple").correct == (
        swapped == values
    )


@pytest.mark.parametrize(
    ("answer", "expected", "kind", "correct"),
    [
        ("[1, 2)", "[1, 2)", "interval", True),
        ("(1, 2)", "[1, 2)", "interval", False),
        ("(-\\infty, 5/2)", "(-oo, 5/2)", "interval", True),
        ("(-inf, 2.5)", "(-oo, 5/2)", "interval", True),
        ("(x+1)^2", "x**2 + 2*x + 1", "expr", True),
        ("x^2 + 2x + 2", "x**2 + 2*x + 1", "expr", False),
        ("1/4 + 5e^6/4", "1/4 + 5*exp(6)/4", "number", True),
        ("2\\ln 2", "log(4)", "number", True),
        ("0.3333", "1/3", "number", True),
        ("0.333", "1/3", "number", False),
        ("50%", "1/2", "number", True),
        ("12 square units", "12", "number", True),
        ("1,000", "1000", "number", True),
        ("{3}", "3", "number", True),
        ("3", "{3}", "set", True),
        ("", "3", "number", False),
        ("(1, 2)", "3", "number", False),
    ],
)
def test_examples(answer, expected, kind, correct):
    assert verify(answer, expected, kind).correct is correct


@pytest.mark.parametrize(
    "hostile",
    [
        '__import__("os").system("x")',
        "().__class__",
        "9^9^9^9",
        "2**3**4**5",
        "(10^60)!",
        "10^10^10",
        "1" * 100 + "!",
        "(" * 500 + "1" + ")" * 500,
        "x" * 5000,
        "lambda: 1",
        "exec('1')",
        "a.b",
        "'1'",
        "\\input{/etc/passwd}",
    ],
)
def test_hostile_answers_are_rejected_quickly(hostile):
    verdict = verify(hostile, "1", "number")
    assert not verdict.correct and verdict.reason == "unparseable"


def test_tests_feedback_never_reveals_the_expected_value():
    for answer in ("4", "(1, 2)", "0.72", "0.7", "zzz("):
        message = verify(answer, "5/7", "number").message
        assert "5/7" not in message and "0.714" not in message


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_never_raises(text):
    for kind, expected in (
        ("number", "1/2"),
        ("set", "{1, 2}"),
        ("interval", "(0, 1]"),
        ("tuple", "(1, 2)"),
        ("expr", "x + 1"),
    ):
        verdict = verify(text, expected, kind)
        assert 0.0 <= verdict.score <= 1.0


def test_parse_expression_rejects_python():
    with pytest.raises(AnswerParseError):
        parse_expression("[x for x in ()]")
