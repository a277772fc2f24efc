"""The math answer checker: equivalent forms pass, near misses fail.

:func:`verify` compares an agent's answer text with a task's expected answer (an exact
sympy value written in :mod:`mtenvs.envs.code.math_parse` syntax) of a known *kind*:

| kind | expected | also accepted |
|---|---|---|
| `number` | `3/4`, `2*sqrt(3)`, `pi/4` | `0.75`, `\\frac{3}{4}`, `\\boxed{3/4}`, `x = 3/4`, `3/4 cm` |
| `expr` | `x**2 + 2*x + 1` | any algebraically equal form: `(x+1)^2` |
| `tuple` | `(1, 2)` | `[1, 2]`, `x = 1, y = 2`, `\\left(1, 2\\right)` |
| `set` | `{-2, 3}` | any order, `-2, 3`, `x = -2 or x = 3`, `\\{-2, 3\\}`; `3` for `{3}` |
| `interval` | `(2, 3]` | `(2, 3]` only (brackets matter), `\\infty`/`inf`/`oo` for infinity |

Exact answers are compared exactly (to 50 significant digits, which decides every value the
tasks produce). An answer written with decimals passes when it is within half a unit of the
4th significant digit of the exact value (``0.3333`` and ``0.333333`` pass for 1/3, ``0.333``
and ``0.3334`` do not). Units (``cm``, ``square units``, ``degrees`` ...), ``$…$``, ``\\boxed``,
``\\text{…}`` and LaTeX spacing are stripped first. The parser never evaluates the text as
Python (see :mod:`~mtenvs.envs.code.math_parse`).

:func:`verify` itself is not bounded in time or memory: sympy can be made to work without
end within the parser's size limits. Untrusted answers are checked through
:class:`mtenvs.envs.code.math_checker.MathChecker`, which runs it in a limited process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import sympy

from mtenvs.envs.code.math_parse import AnswerParseError, parse_expression

__all__ = [
    "ANSWER_KINDS",
    "LIMIT_REASONS",
    "MAX_ANSWER_CHARS",
    "AnswerKind",
    "Verdict",
    "normalize_answer",
    "verify",
]

AnswerKind = Literal["number", "expr", "tuple", "set", "interval"]
ANSWER_KINDS: tuple[str, ...] = ("number", "expr", "tuple", "set", "interval")
#: Longest answer text looked at; longer answers are unparseable.
MAX_ANSWER_CHARS = 1000
#: Most elements of a tuple or set answer.
MAX_ITEMS = 20
#: Significant digits a decimal answer must get right.
DECIMAL_DIGITS = 4
Reason = Literal[
    "correct", "wrong", "imprecise", "shape", "unparseable", "time_limit", "memory_limit"
]
#: Reasons of a check that gave up (:mod:`~mtenvs.envs.code.math_checker`).
LIMIT_REASONS: tuple[str, ...] = ("time_limit", "memory_limit")

_UNITS = (
    "square units|sq units|cubic units|units|unit|square centimeters|square meters|"
    "centimeters|centimetres|meters|metres|millimeters|kilometers|inches|inch|feet|foot|"
    "yards|miles|degrees|degree|deg|radians|rad|dollars|cents|seconds|minutes|hours|days|"
    "ways|outcomes|people|cm\\^?2|cm\\^?3|m\\^?2|m\\^?3|cm|mm|km|kg|ft|in|m|g|s"
)
_TRAILING_UNIT = re.compile(rf"(?<=[\d)}}\s])\s*(?:{_UNITS})\.?\s*$", re.IGNORECASE)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_ASSIGN = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*=(?!=)\s*")
_REPLACEMENTS = (
    ("\\left", ""), ("\\right", ""), ("\\displaystyle", ""), ("\\!", ""), ("\\,", ""),
    ("\\;", ""), ("\\:", ""), ("\\ ", " "), ("\\{", "{"), ("\\}", "}"), ("\\(", ""),
    ("\\)", ""), ("\\[", ""), ("\\]", ""), ("\\cdot", "*"), ("\\times", "*"), ("\\div", "/"),
    ("\\le", "<="), ("\\ge", ">="), ("−", "-"), ("–", "-"), ("×", "*"), ("·", "*"),
    ("÷", "/"), ("π", "pi"), ("∞", "oo"), ("√", "sqrt"), ("²", "^2"), ("³", "^3"),
    ("^\\circ", ""), ("^{\\circ}", ""), ("°", ""), ("$", ""), ("\\%", "/100"), ("%", "/100"),
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The result of checking one answer."""

    #: The answer is equivalent to the expected one.
    correct: bool
    #: Fraction of the expected answer's parts that are right (elements of a tuple or set,
    #: endpoints and brackets of an interval); 1.0 exactly when ``correct``.
    score: float
    #: ``correct``, ``wrong``, ``imprecise`` (a decimal close to but not within the
    #: tolerance), ``shape`` (wrong kind or number of parts), ``unparseable``, or
    #: ``time_limit`` / ``memory_limit`` (the bounded checker gave up: a wrong answer).
    reason: Reason
    #: Feedback for the agent that never reveals the expected value.
    message: str


def _boxed(text: str) -> str:
    """Content of the last ``\\boxed{…}`` (brace-matched), else the text."""
    start = text.rfind("\\boxed")
    if start < 0:
        return text
    open_at = text.find("{", start)
    if open_at < 0:
        return text
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return text


def normalize_answer(text: str) -> str:
    """The answer text with LaTeX wrappers, spacing commands and units removed."""
    text = _boxed(text.strip())
    for _ in range(3):
        text = _TEXT_CMD.sub(r" \1", text)
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = text.strip().rstrip(".").strip()
    for _ in range(2):
        text = _TRAILING_UNIT.sub("", text).strip()
    return text


def _top_level_split(text: str, seps: tuple[str, ...] = (",", ";")) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in seps:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _enclosed(text: str) -> tuple[str, str, str] | None:
    """``(open, inner, close)`` when one bracket pair encloses the whole text."""
    if len(text) < 2 or text[0] not in "([{" or text[-1] not in ")]}":
        return None
    depth = 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return None
    return text[0], text[1:-1], text[-1]


def _items(text: str, *, words: bool) -> list[str]:
    if words:
        text = re.sub(r"\s+(?:or|and)\s+", ",", text)
    parts = _top_level_split(text)
    if len(parts) > MAX_ITEMS:
        raise AnswerParseError(f"more than {MAX_ITEMS} elements")
    return [_ASSIGN.sub("", p) for p in parts]


def _scalar(text: str) -> sympy.Expr:
    text = _ASSIGN.sub("", text.strip())
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+", text):  # a thousands separator
        text = text.replace(",", "")
    if "," in text or ";" in text:
        raise AnswerParseError("several values where one was expected")
    return parse_expression(text)


def _parse(text: str, kind: str) -> list[sympy.Expr] | tuple[str, sympy.Expr, sympy.Expr, str]:
    """The answer as a list of values (number/expr: one; tuple/set: the elements) or, for
    an interval, ``(open_bracket, low, high, close_bracket)``."""
    if kind in ("number", "expr"):
        enclosed = _enclosed(text)
        if enclosed and enclosed[0] == "{" and "," not in enclosed[1]:
            text = enclosed[1]  # {3} for a single value
        return [_scalar(text)]
    enclosed = _enclosed(text)
    if kind == "interval":
        if enclosed is None or enclosed[0] == "{":
            raise AnswerParseError("an interval is written like (a, b], [a, oo)")
        parts = _top_level_split(enclosed[1], (",",))
        if len(parts) != 2:
            raise AnswerParseError("an interval has exactly two endpoints")
        return enclosed[0], _scalar(parts[0]), _scalar(parts[1]), enclosed[2]
    inner = enclosed[1] if enclosed is not None else text
    if kind == "tuple" and enclosed is not None and enclosed[0] == "{":
        raise AnswerParseError("a tuple is written in parentheses, e.g. (1, 2)")
    if kind == "set" and inner.strip() in ("", "emptyset", "\\emptyset", "\\varnothing"):
        return []
    return [_scalar(p) for p in _items(inner, words=kind == "set")]


def _decimal(expr: sympy.Expr) -> bool:
    return bool(expr.atoms(sympy.Float))


def _compare(got: sympy.Expr, want: sympy.Expr) -> Reason:
    """``correct``, ``imprecise`` or ``wrong`` for one value."""
    if got.has(sympy.oo, -sympy.oo) or want.has(sympy.oo, -sympy.oo):
        return "correct" if got == want else "wrong"
    if got.free_symbols or want.free_symbols:
        if got.free_symbols - want.free_symbols:
            return "wrong"
        if _decimal(got):
            got = sympy.nsimplify(got, rational=True)
        diff = sympy.expand(got - want)
        if diff == 0:
            return "correct"
        points = [sympy.Rational(p, 7) for p in (3, 5, 11)]
        for point in points:
            subs = {s: point + i for i, s in enumerate(sorted(want.free_symbols, key=str))}
            value = diff.subs(subs).evalf(30)
            if not value.is_number or abs(value) > 1e-20:
                return "wrong"
        return "correct"
    diff = complex((got - want).evalf(50))
    scale = max(abs(complex(want.evalf(50))), 1e-300)
    if abs(diff) <= 1e-40 * max(scale, 1.0):
        return "correct"
    if _decimal(got) and want.is_number:
        tolerance = 0.5 * 10 ** (sympy.floor(sympy.log(scale, 10)) - (DECIMAL_DIGITS - 1))
        if abs(diff) <= float(tolerance) * (1 + 1e-9):
            return "correct"
        if abs(diff) <= 0.01 * scale:
            return "imprecise"
    return "wrong"


_KIND_NAMES = {
    "number": "a single number",
    "expr": "an expression",
    "tuple": "a tuple",
    "set": "a set of values",
    "interval": "an interval",
}


def _shape_message(kind: str, count: int, got: int) -> str:
    what = _KIND_NAMES[kind]
    if kind in ("tuple", "set"):
        return f"The expected answer is {what} with {count} element(s); yours has {got}."
    return f"The expected answer is {what}."


@lru_cache(maxsize=4096)
def _expected(
    expected: str, kind: str
) -> list[sympy.Expr] | tuple[str, sympy.Expr, sympy.Expr, str]:
    return _parse(expected, kind)


def verify(answer: str, expected: str, kind: str) -> Verdict:
    """Check ``answer`` (the agent's text) against ``expected`` of ``kind`` (trusted).

    Never raises for any ``answer``; a malformed one gives ``reason="unparseable"``. Not
    bounded in time or memory: check untrusted answers with
    :class:`~mtenvs.envs.code.math_checker.MathChecker`.
    """
    want = _expected(expected, kind)
    if not isinstance(answer, str) or not answer.strip():
        return Verdict(False, 0.0, "unparseable", "The answer is empty.")
    if len(answer) > MAX_ANSWER_CHARS:
        return Verdict(
            False, 0.0, "unparseable", f"The answer is longer than {MAX_ANSWER_CHARS} characters."
        )
    try:
        got = _parse(normalize_answer(answer), kind)
        return _judge(got, want, kind)
    except AnswerParseError as e:
        hint = {
            "number": "e.g. 3/4, 2*sqrt(3), pi/4",
            "expr": "e.g. x^2 + 2*x + 1",
            "tuple": "e.g. (1, -2)",
            "set": "e.g. {-2, 3}",
            "interval": "e.g. (2, 3] or [1, oo)",
        }[kind]
        return Verdict(
            False,
            0.0,
            "unparseable",
            f"Your answer could not be read as {_KIND_NAMES[kind]} ({e}); write it {hint}.",
        )
    except (ArithmeticError, TypeError, ValueError, RecursionError, AttributeError):
        return Verdict(False, 0.0, "unparseable", "Your answer could not be evaluated.")


def _judge(
    got: list[sympy.Expr] | tuple[str, sympy.Expr, sympy.Expr, str],
    want: list[sympy.Expr] | tuple[str, sympy.Expr, sympy.Expr, str],
    kind: str,
) -> Verdict:
    if kind == "interval":
        assert isinstance(got, tuple) and isinstance(want, tuple)
        parts = [
            got[0] == want[0],
            _compare(got[1], want[1]) == "correct",
            _compare(got[2], want[2]) == "correct",
            got[3] == want[3],
        ]
        score = sum(parts) / 4
        if all(parts):
            return Verdict(True, 1.0, "correct", "Correct.")
        if parts[1] and parts[2]:
            return Verdict(
                False,
                score,
                "wrong",
                "The endpoints are right but an endpoint is wrongly included or excluded.",
            )
        return Verdict(False, score, "wrong", "Your interval is not the expected one.")
    assert isinstance(got, list) and isinstance(want, list)
    if kind == "set":
        got = list({sympy.srepr(g): g for g in got}.values())
    if len(got) != len(want):
        if kind == "set":
            matched = sum(any(_compare(g, w) == "correct" for g in got) for w in want)
            score = matched / max(len(want), len(got), 1)
        else:
            score = 0.0
        return Verdict(False, score, "shape", _shape_message(kind, len(want), len(got)))
    if kind == "set":
        remaining = list(got)
        verdicts: list[Reason] = []
        for w in want:
            results = [_compare(g, w) for g in remaining]
            best: Reason = (
                "correct"
                if "correct" in results
                else ("imprecise" if "imprecise" in results else "wrong")
            )
            if best != "wrong":
                remaining.pop(results.index(best))
            verdicts.append(best)
    else:
        verdicts = [_compare(g, w) for g, w in zip(got, want, strict=True)]
    right = verdicts.count("correct")
    score = right / max(len(want), 1)
    if right == len(want):
        return Verdict(True, 1.0, "correct", "Correct.")
    if "imprecise" in verdicts:
        return Verdict(
            False,
            score,
            "imprecise",
            "Your decimal answer is close but not accurate enough: give the exact "
            f"value or at least {DECIMAL_DIGITS} correct significant digits.",
        )
    if kind in ("number", "expr"):
        return Verdict(False, 0.0, "wrong", "Your answer is not equal to the expected value.")
    return Verdict(
        False, score, "wrong", f"{right} of the {len(want)} element(s) of your answer are right."
    )
