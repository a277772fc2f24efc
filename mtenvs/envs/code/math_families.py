"""The procedural math task families: each draws one problem with an exact sympy answer.

A family is ``f(rng, level) -> Problem`` with ``level`` 0 (easy), 1 (medium) or 2 (hard).
``Problem.answer`` is written in the syntax of :mod:`mtenvs.envs.code.math_parse`, and
``Problem.solution`` is Python (sympy) that computes and prints the same value: the
oracle runs it in the sandbox before answering. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

__all__ = ["FAMILIES", "Problem"]

x, y, z = sympy.symbols("x y z")


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str
    kind: str
    solution: str


def _i(rng: np.random.Generator, low: int, high: int, nonzero: bool = False) -> int:
    while True:
        value = int(rng.integers(low, high + 1))
        if value or not nonzero:
            return value


def _s(expr: object) -> str:
    return sympy.sstr(expr)


def _poly(expr: sympy.Expr) -> str:
    """A polynomial as a human writes it: ``2x^2 - 3x + 1``."""
    return sympy.sstr(sympy.expand(expr)).replace("**", "^").replace("*", "")


def _set(values: list[sympy.Expr]) -> str:
    ordered = sorted(set(values), key=lambda v: float(v))
    return "{" + ", ".join(_s(v) for v in ordered) + "}"


def arithmetic(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        a, b, c, d = (_i(rng, 2, 30) for _ in range(4))
        text = f"{a} + {b} * {c} - {d}"
    elif level == 1:
        p = [_i(rng, 1, 9) for _ in range(3)]
        q = [_i(rng, 2, 12) for _ in range(3)]
        text = f"{p[0]}/{q[0]} + {p[1]}/{q[1]} * {p[2]}/{q[2]}"
    else:
        p = [_i(rng, 1, 9) for _ in range(4)]
        q = [_i(rng, 2, 9) for _ in range(4)]
        text = f"({p[0]}/{q[0]} - {p[1]}/{q[1]})^2 / ({p[2]}/{q[2]}) + {p[3]}/{q[3]}"
    value = sympy.sympify(text.replace("^", "**"))
    return Problem(
        f"Compute {text} exactly.",
        _s(value),
        "number",
        f"from sympy import S\nprint(S({text.replace('^', '**')!r}))",
    )


def linear(rng: np.random.Generator, level: int) -> Problem:
    while True:
        a, b, c, d = _i(rng, -9, 9, True), _i(rng, -20, 20), _i(rng, -9, 9, True), _i(rng, -20, 20)
        if a == c:
            continue
        if level == 2:
            q, t = _i(rng, 2, 6), _i(rng, 2, 6)
            lhs, rhs = (a * x + b) / q, (c * x + d) / t
            text = f"({_poly(a * x + b)})/{q} = ({_poly(c * x + d)})/{t}"
        else:
            lhs, rhs = a * x + b, c * x + d
            text = f"{_poly(lhs)} = {_poly(rhs)}"
        root = sympy.solve(sympy.Eq(lhs, rhs), x)[0]
        if level == 0 and not root.is_integer:
            continue
        if level == 1 and root.is_integer:
            continue
        break
    return Problem(
        f"Solve for x: {text}.",
        _s(root),
        "number",
        f"from sympy import symbols, Eq, solve\nx = symbols('x')\n"
        f"print(solve(Eq({_s(lhs)}, {_s(rhs)}), x)[0])",
    )


def quadratic(rng: np.random.Generator, level: int) -> Problem:
    while True:
        if level == 0:
            r1, r2 = _i(rng, -9, 9), _i(rng, -9, 9)
            poly = sympy.expand((x - r1) * (x - r2))
        elif level == 1:
            p, q, s, t = _i(rng, 1, 5), _i(rng, -9, 9), _i(rng, 1, 5), _i(rng, -9, 9)
            poly = sympy.expand((p * x - q) * (s * x - t))
        else:
            a, b, c = _i(rng, 1, 4), _i(rng, -9, 9), _i(rng, -9, 9)
            disc = b * b - 4 * a * c
            if disc <= 0 or sympy.sqrt(disc).is_rational:
                continue
            poly = a * x**2 + b * x + c
        if sympy.Poly(poly, x).content() != 1 and level == 1:
            continue
        roots = sympy.solve(poly, x)
        break
    return Problem(
        f"Find all real solutions of {_poly(poly)} = 0. Answer with the set of solutions, "
        "e.g. {1, 2}.",
        _set(roots),
        "set",
        f"from sympy import symbols, solve\nx = symbols('x')\nprint(set(solve({_s(poly)}, x)))",
    )


def system(rng: np.random.Generator, level: int) -> Problem:
    names = (x, y) if level < 2 else (x, y, z)
    while True:
        if level == 1:
            sol = [sympy.Rational(_i(rng, -9, 9), _i(rng, 1, 4)) for _ in names]
        else:
            sol = [sympy.Integer(_i(rng, -9, 9)) for _ in names]
        rows = [[_i(rng, -6, 6) for _ in names] for _ in names]
        if sympy.Matrix(rows).det() == 0:
            continue
        eqs = [
            sympy.Eq(sum(c * v for c, v in zip(row, names)), sum(c * s for c, s in zip(row, sol)))
            for row in rows
        ]
        if all(e.rhs.is_integer for e in eqs):
            break
    shown = "; ".join(f"{_poly(e.lhs)} = {e.rhs}" for e in eqs)
    tup = ", ".join(str(v) for v in names)
    return Problem(
        f"Solve the system {shown}. Answer with the tuple ({tup}).",
        "(" + ", ".join(_s(s) for s in sol) + ")",
        "tuple",
        f"from sympy import symbols, Eq, solve\n{tup} = symbols('{tup.replace(',', '')}')\n"
        f"s = solve([{', '.join(f'Eq({_s(e.lhs)}, {_s(e.rhs)})' for e in eqs)}], [{tup}])\n"
        f"print(tuple(s[v] for v in ({tup},)))",
    )


def polynomial(rng: np.random.Generator, level: int) -> Problem:
    if level == 2:
        a, b, n = _i(rng, 1, 4), _i(rng, -5, 5, True), _i(rng, 5, 9)
        k = _i(rng, 2, n - 1)
        coeff = sympy.Poly((a * x + b) ** n, x).coeff_monomial(x**k)
        return Problem(
            f"What is the coefficient of x^{k} in the expansion of ({_poly(a * x + b)})^{n}?",
            _s(coeff),
            "number",
            f"from sympy import symbols, Poly\nx = symbols('x')\n"
            f"print(Poly(({_s(a * x + b)})**{n}, x).coeff_monomial(x**{k}))",
        )
    if level == 0:
        f1, f2 = x + _i(rng, -9, 9, True), x + _i(rng, -9, 9, True)
        text = f"({_poly(f1)})({_poly(f2)})"
    else:
        f1 = _i(rng, 1, 5) * x + _i(rng, -9, 9, True)
        f2 = _i(rng, 1, 4) * x**2 + _i(rng, -9, 9) * x + _i(rng, -9, 9, True)
        text = f"({_poly(f1)})({_poly(f2)})"
    product = sympy.expand(f1 * f2)
    return Problem(
        f"Expand {text} into a polynomial in x.",
        _s(product),
        "expr",
        f"from sympy import symbols, expand\nx = symbols('x')\n"
        f"print(expand(({_s(f1)})*({_s(f2)})))",
    )


_WORDS = (
    "BANANA",
    "LETTER",
    "SUCCESS",
    "MISSISSIPPI",
    "BALLOON",
    "COFFEE",
    "ADDRESS",
    "BOOKKEEPER",
    "STATISTICS",
    "PEPPER",
    "TOMORROW",
    "ASSESSMENT",
)


def combinatorics(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        n = _i(rng, 5, 20)
        k = _i(rng, 2, min(n - 1, 8))
        return Problem(
            f"In how many ways can a committee of {k} be chosen from {n} people?",
            _s(sympy.binomial(n, k)),
            "number",
            f"from sympy import binomial\nprint(binomial({n}, {k}))",
        )
    if level == 1:
        word = _WORDS[_i(rng, 0, len(_WORDS) - 1)]
        count = sympy.factorial(len(word))
        for letter in set(word):
            count /= sympy.factorial(word.count(letter))
        return Problem(
            f"How many distinct arrangements of the letters of the word {word} are there?",
            _s(count),
            "number",
            "from sympy import factorial\nfrom collections import Counter\n"
            f"w = {word!r}\nn = factorial(len(w))\n"
            "for c in Counter(w).values():\n    n //= factorial(c)\nprint(n)",
        )
    men, women, k = _i(rng, 4, 9), _i(rng, 4, 9), _i(rng, 3, 6)
    j = _i(rng, 1, min(k, women) - 1)
    total = sum(sympy.binomial(women, w) * sympy.binomial(men, k - w) for w in range(j, k + 1))
    return Problem(
        f"A committee of {k} is chosen from {men} men and {women} women. In how many ways can "
        f"this be done if the committee must contain at least {j} women?",
        _s(total),
        "number",
        f"from sympy import binomial\nprint(sum(binomial({women}, w) * binomial({men}, {k} - w)"
        f" for w in range({j}, {k + 1})))",
    )


def number_theory(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        g = _i(rng, 2, 15)
        a, b = g * _i(rng, 2, 30), g * _i(rng, 2, 30)
        op = "gcd" if rng.random() < 0.5 else "lcm"
        value = sympy.gcd(a, b) if op == "gcd" else sympy.lcm(a, b)
        word = "greatest common divisor" if op == "gcd" else "least common multiple"
        return Problem(
            f"What is the {word} of {a} and {b}?",
            _s(value),
            "number",
            f"from sympy import {op}\nprint({op}({a}, {b}))",
        )
    if level == 1:
        n = int(np.prod([int(p) for p in rng.choice([2, 3, 5, 7, 11, 13], size=_i(rng, 3, 6))]))
        if rng.random() < 0.5:
            return Problem(
                f"How many positive divisors does {n} have?",
                _s(sympy.divisor_count(n)),
                "number",
                f"from sympy import divisor_count\nprint(divisor_count({n}))",
            )
        return Problem(
            f"What is the sum of all positive divisors of {n}?",
            _s(sympy.divisor_sigma(n)),
            "number",
            f"from sympy import divisor_sigma\nprint(divisor_sigma({n}))",
        )
    a, b, m = _i(rng, 2, 50), _i(rng, 100, 10_000), _i(rng, 7, 997)
    return Problem(
        f"What is the remainder when {a}^{b} is divided by {m}?",
        _s(pow(a, b, m)),
        "number",
        f"print(pow({a}, {b}, {m}))",
    )


def probability(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        s = _i(rng, 2, 12)
        ways = sum(1 for i in range(1, 7) for j in range(1, 7) if i + j == s)
        return Problem(
            f"Two fair six-sided dice are rolled. What is the probability that the sum is {s}? "
            "Give a fraction.",
            _s(sympy.Rational(ways, 36)),
            "number",
            "from fractions import Fraction\n"
            f"print(Fraction(sum(i + j == {s} for i in range(1, 7) for j in range(1, 7)), 36))",
        )
    if level == 1:
        red, blue = _i(rng, 2, 9), _i(rng, 2, 9)
        value = sympy.Rational(red, red + blue) * sympy.Rational(red - 1, red + blue - 1)
        return Problem(
            f"A bag holds {red} red and {blue} blue balls. Two are drawn without replacement. "
            "What is the probability that both are red? Give a fraction.",
            _s(value),
            "number",
            f"from fractions import Fraction\nprint(Fraction({red}, {red + blue}) * "
            f"Fraction({red - 1}, {red + blue - 1}))",
        )
    n = _i(rng, 4, 10)
    k = _i(rng, 1, n - 1)
    value = sum(sympy.binomial(n, i) for i in range(k, n + 1)) / sympy.Integer(2) ** n
    return Problem(
        f"A fair coin is tossed {n} times. What is the probability of getting at least {k} "
        "heads? Give a fraction.",
        _s(value),
        "number",
        f"from sympy import binomial, Rational\nprint(sum(binomial({n}, i) for i in "
        f"range({k}, {n + 1})) * Rational(1, 2**{n}))",
    )


def sequence(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        a, d, n = _i(rng, -20, 20), _i(rng, -9, 9, True), _i(rng, 10, 60)
        terms = ", ".join(str(a + i * d) for i in range(4))
        return Problem(
            f"What is the {n}th term of the arithmetic sequence {terms}, ...?",
            _s(a + (n - 1) * d),
            "number",
            f"print({a} + ({n} - 1) * {d})",
        )
    if level == 1:
        a, n = _i(rng, 1, 9), _i(rng, 5, 10)
        r = sympy.Rational(_i(rng, 1, 4), _i(rng, 2, 5)) * (1 if rng.random() < 0.5 else -1)
        value = sum(a * r**i for i in range(n))
        shown = ", ".join(_s(a * r**i) for i in range(3))
        return Problem(
            f"What is the sum of the first {n} terms of the geometric sequence {shown}, ...?",
            _s(value),
            "number",
            f"from sympy import Rational\nr = Rational({r.p}, {r.q})\n"
            f"print(sum({a} * r**i for i in range({n})))",
        )
    a1, p, q, n = _i(rng, -5, 5), _i(rng, 2, 3), _i(rng, -5, 5, True), _i(rng, 6, 12)
    value = a1
    for _ in range(n - 1):
        value = p * value + q
    return Problem(
        f"A sequence has a_1 = {a1} and a_(k+1) = {p} a_k + ({q}) for k >= 1. What is a_{n}?",
        _s(value),
        "number",
        f"a = {a1}\nfor _ in range({n} - 1):\n    a = {p} * a + ({q})\nprint(a)",
    )


def integral(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        f = _i(rng, -3, 3) * x**2 + _i(rng, -5, 5) * x + _i(rng, -5, 5, True)
        lo = _i(rng, -3, 2)
        hi = lo + _i(rng, 1, 4)
        shown = _poly(f)
    elif level == 1:
        c, lo = _i(rng, 1, 6), _i(rng, 1, 3)
        hi = lo * _i(rng, 2, 4)
        f = sympy.Integer(c) / x
        shown = f"{c}/x"
    else:
        k, hi = _i(rng, 1, 3), _i(rng, 1, 3)
        lo = 0
        f = x * sympy.exp(k * x)
        shown = f"x*exp({k}x)" if k > 1 else "x*exp(x)"
    value = sympy.simplify(sympy.integrate(f, (x, lo, hi)))
    return Problem(
        f"Compute the definite integral of {shown} with respect to x from {lo} to {hi}. "
        "Give the exact value.",
        _s(value),
        "number",
        f"from sympy import symbols, integrate, exp, simplify\nx = symbols('x')\n"
        f"print(simplify(integrate({_s(f)}, (x, {lo}, {hi}))))",
    )


def geometry(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        while True:
            p = (_i(rng, -9, 9), _i(rng, -9, 9))
            q = (_i(rng, -9, 9), _i(rng, -9, 9))
            if p != q:
                break
        value = sympy.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2)
        return Problem(
            f"What is the distance between the points {p} and {q}? Give an exact value.",
            _s(value),
            "number",
            f"from sympy import sqrt\nprint(sqrt(({p[0]} - ({q[0]}))**2 + ({p[1]} - ({q[1]}))**2))",
        )
    if level == 1:
        s = _i(rng, 2, 12)
        value = sympy.sqrt(3) * s**2 / 4
        return Problem(
            f"What is the area of an equilateral triangle with side length {s}? "
            "Give an exact value.",
            _s(value),
            "number",
            f"from sympy import sqrt\nprint(sqrt(3) * {s}**2 / 4)",
        )
    while True:
        a, b, c = sorted(_i(rng, 3, 15) for _ in range(3))
        if a + b > c:
            break
    s = sympy.Rational(a + b + c, 2)
    value = sympy.sqrt(s * (s - a) * (s - b) * (s - c))
    return Problem(
        f"A triangle has side lengths {a}, {b} and {c}. What is its area? Give an exact value.",
        _s(value),
        "number",
        f"from sympy import sqrt, Rational\ns = Rational({a + b + c}, 2)\n"
        f"print(sqrt(s * (s - {a}) * (s - {b}) * (s - {c})))",
    )


def inequality(rng: np.random.Generator, level: int) -> Problem:
    if level == 0:
        a, b, c = _i(rng, -9, 9, True), _i(rng, -20, 20), _i(rng, -20, 20)
        bound = sympy.Rational(c - b, a)
        answer = f"(-oo, {_s(bound)})" if a > 0 else f"({_s(bound)}, oo)"
        text = f"{_poly(a * x + b)} < {c}"
        rel = f"{_s(a * x + b)} < {c}"
    elif level == 1:
        m, r = _i(rng, -9, 9), _i(rng, 1, 9)
        answer = f"[{m - r}, {m + r}]"
        text = f"|x - ({m})| <= {r}"
        rel = f"Abs(x - ({m})) <= {r}"
    else:
        r1, r2 = sorted(sympy.Rational(_i(rng, -9, 9), _i(rng, 1, 3)) for _ in range(2))
        if r1 == r2:
            r2 += 1
        poly = sympy.expand((x - r1) * (x - r2) * r1.q * r2.q)
        answer = f"({_s(r1)}, {_s(r2)})"
        text = f"{_poly(poly)} < 0"
        rel = f"{_s(poly)} < 0"
    return Problem(
        f"Solve the inequality {text} for real x. Answer with an interval, e.g. (-oo, 2] "
        "or [1, 3).",
        answer,
        "interval",
        f"from sympy import symbols, solve_univariate_inequality, Abs\n"
        f"x = symbols('x', real=True)\n"
        f"s = solve_univariate_inequality({rel}, x, relational=False)\n"
        "print(('(' if s.left_open else '[') + f'{s.start}, {s.end}' + "
        "(')' if s.right_open else ']'))",
    )


FAMILIES: dict[str, Callable[[np.random.Generator, int], Problem]] = {
    "arithmetic": arithmetic,
    "linear": linear,
    "quadratic": quadratic,
    "system": system,
    "polynomial": polynomial,
    "combinatorics": combinatorics,
    "number_theory": number_theory,
    "probability": probability,
    "sequence": sequence,
    "integral": integral,
    "geometry": geometry,
    "inequality": inequality,
}
