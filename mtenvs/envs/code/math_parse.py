"""A small, safe parser from answer text (plain math or LaTeX) to sympy objects.

The agent's answer is untrusted text, so it is never handed to ``eval`` (which
``sympy.parse_expr`` and ``sympify`` use): this module tokenizes it against a whitelist
and builds the sympy expression itself with a recursive-descent parser. Sizes are bounded
so that absurd answers are refused cheaply: the text length, the digits of a literal,
exponents (``9^9^9^9`` is refused, not computed), factorial arguments, and the number of
terms that expanding the expression would multiply out (``(x+2)^2000*(x+3)^2000``). These
bounds are a fast first filter, not the guarantee: sympy can still be made to work hard
within them, so untrusted answers are checked in a process limited in time and memory
(:mod:`mtenvs.envs.code.math_checker`).

Accepted: numbers (``3``, ``0.75``, ``1.5e-3``), ``+ - * / ^ **``, implicit multiplication
(``2x``, ``3sqrt(2)``, ``(x+1)(x-1)``), ``!``, parentheses and braces, single-letter
variables, ``pi``, ``e``, ``oo``/``inf``, the functions ``sqrt cbrt exp ln log sin cos tan
abs``, and the LaTeX ``\\frac{a}{b}``, ``\\sqrt{x}``, ``\\sqrt[n]{x}``, ``\\binom{n}{k}``,
``\\pi``, ``\\infty``, ``\\cdot``, ``\\times``, ``|x|``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import sympy

__all__ = [
    "MAX_EXPANSION_TERMS",
    "MAX_EXPR_CHARS",
    "MAX_SUM_EXPONENT",
    "AnswerParseError",
    "expansion_terms",
    "parse_expression",
]

#: Longest expression text accepted (after normalisation).
MAX_EXPR_CHARS = 400
#: Most digits of one numeric literal.
MAX_LITERAL_DIGITS = 60
#: Largest exponent magnitude applied to a base other than 0, 1 or -1.
MAX_EXPONENT = 2000
#: Largest estimated number of digits of a power's result.
MAX_RESULT_DIGITS = 2000
#: Largest argument of ``!`` and ``\binom``.
MAX_FACTORIAL = 1000
#: Most terms that expanding the expression may multiply out (see :func:`expansion_terms`):
#: ``(x+2)^50*(x+3)^50`` (2601, checked in ~0.4 s) passes, ``(x+2)^100*(x+3)^100`` does not.
MAX_EXPANSION_TERMS = 5000
#: Largest exponent of a power of a sum, ``(x+1)^k`` (its coefficients grow with ``k``:
#: ``(x+10^59)^2000`` has only 2001 terms but takes ~25 s to expand).
MAX_SUM_EXPONENT = 100

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<name>[A-Za-z]+)"
    r"|(?P<op>\*\*|[-+*/^(){}\[\]|!,]))"
)
_SYMBOLS = {c: sympy.Symbol(c) for c in "abcdfghjklmnopqrstuvwxyz"}
_SYMBOLS.update({c.upper(): sympy.Symbol(c.upper()) for c in "abcdfghjklmnopqrstuvwxyz"})
_CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "e": sympy.E,
    "oo": sympy.oo,
    "inf": sympy.oo,
    "infty": sympy.oo,
    "infinity": sympy.oo,
}
_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sqrt": sympy.sqrt,
    "cbrt": lambda x: sympy.root(x, 3),
    "exp": sympy.exp,
    "ln": sympy.log,
    "log": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "abs": sympy.Abs,
}
#: Multi-letter words, longest first, for splitting runs such as ``xsqrt`` or ``pix``.
_WORDS = sorted([*_CONSTANTS, *_FUNCTIONS], key=len, reverse=True)


class AnswerParseError(ValueError):
    """The text is not an expression this parser accepts (the reason is the message)."""


def _split_name(run: str) -> list[str]:
    """Split a letter run into known words and single-letter symbols (``2pix`` -> pi, x)."""
    out: list[str] = []
    i = 0
    while i < len(run):
        for word in _WORDS:
            if run.startswith(word, i) and len(word) > 1:
                out.append(word)
                i += len(word)
                break
        else:
            out.append(run[i])
            i += 1
    return out


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise AnswerParseError(f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind or "op")
        if kind == "name":
            tokens.extend(("name", w) for w in _split_name(value))
        elif kind == "cmd":
            tokens.append(("cmd", value[1:]))
        else:
            tokens.append((kind or "op", value))
    return tokens


def _magnitude_digits(value: sympy.Expr) -> float:
    """log10 of ``|value|`` for a number (0 for zero), without building huge floats."""
    if value == 0:
        return 0.0
    approx = sympy.Abs(value).evalf(15)
    if not approx.is_finite or not approx.is_real:
        return 0.0
    return float(sympy.log(approx, 10).evalf(15))


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if exponent.is_number and base.is_number and base not in (0, 1, -1):
        size = abs(complex(exponent.evalf(15)))
        if size > MAX_EXPONENT:
            raise AnswerParseError("exponent too large")
        if size * max(_magnitude_digits(base), 1.0) > MAX_RESULT_DIGITS:
            raise AnswerParseError("power too large")
    elif exponent.is_number and abs(complex(exponent.evalf(15))) > MAX_EXPONENT:
        raise AnswerParseError("exponent too large")
    return sympy.Pow(base, exponent)


def expansion_terms(expr: sympy.Expr, cap: int = MAX_EXPANSION_TERMS) -> int:
    """An upper estimate of the terms ``sympy.expand`` multiplies out for ``expr``, saturating
    at ``cap + 1``: a sum adds its terms, a product multiplies them, ``b^k`` with a numeric
    exponent has ``C(n + k - 1, k)`` for ``n`` terms in ``b`` (multinomial expansion; ``k``
    rounded up, negative ``k`` expands the denominator) and saturates when ``k`` is above
    :data:`MAX_SUM_EXPONENT`, a function counts as its largest argument. The walk is linear
    in the size of the parsed tree, which the text bounds."""
    over = cap + 1
    if expr.is_Add:
        return min(sum(expansion_terms(arg, cap) for arg in expr.args), over)
    if expr.is_Mul:
        product = 1
        for arg in expr.args:
            product = min(product * expansion_terms(arg, cap), over)
        return product
    if expr.is_Pow:
        base, exponent = expr.args
        n = expansion_terms(base, cap)
        inner = expansion_terms(exponent, cap)
        if exponent.is_Number and n > 1:
            if abs(exponent) > MAX_SUM_EXPONENT or n >= over:
                n = over
            else:
                k = math.ceil(abs(float(exponent)))
                n = min(math.comb(n + k - 1, k), over)
        return max(n, inner)
    if expr.args:
        return max(expansion_terms(arg, cap) for arg in expr.args)
    return 1


def _small_int(value: sympy.Expr, what: str) -> int:
    if not (value.is_integer and value.is_nonnegative) or value > MAX_FACTORIAL:
        raise AnswerParseError(f"{what} needs an integer between 0 and {MAX_FACTORIAL}")
    return int(value)


class _Parser:
    """Recursive descent over the token list; every method returns a sympy expression."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise AnswerParseError("the expression ends too early")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        token = self.take()
        if token != ("op", op):
            raise AnswerParseError(f"expected {op!r}, found {token[1]!r}")

    def parse(self) -> sympy.Expr:
        expr = self.sum()
        if self.peek() is not None:
            raise AnswerParseError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def sum(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > 60:
            raise AnswerParseError("the expression is nested too deeply")
        expr = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.product()
            expr = expr + right if op == "+" else expr - right
        self.depth -= 1
        return expr

    def _starts_atom(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        kind, value = token
        return kind in ("num", "name", "cmd") or value in ("(", "{")

    def product(self) -> sympy.Expr:
        expr = self.unary()
        while True:
            token = self.peek()
            if token in (("op", "*"), ("op", "/")):
                op = self.take()[1]
                right = self.unary()
                if op == "/" and right == 0:
                    raise AnswerParseError("division by zero")
                expr = expr * right if op == "*" else expr / right
            elif self._starts_atom():
                expr = expr * self.power()
            else:
                return expr

    def unary(self) -> sympy.Expr:
        if self.peek() in (("op", "-"), ("op", "+")):
            sign = self.take()[1]
            value = self.unary()
            return -value if sign == "-" else value
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.postfix()
        if self.peek() in (("op", "^"), ("op", "**")):
            self.take()
            return _power(base, self.unary())
        return base

    def postfix(self) -> sympy.Expr:
        expr = self.atom()
        while self.peek() == ("op", "!"):
            self.take()
            expr = sympy.factorial(_small_int(expr, "!"))
        return expr

    def group(self) -> sympy.Expr:
        """A ``{…}`` LaTeX argument, or a single atom (``\\frac12``)."""
        if self.peek() == ("op", "{"):
            self.take()
            expr = self.sum()
            self.expect("}")
            return expr
        token = self.take()
        if token[0] == "num" and len(token[1]) > 1 and token[1].isdigit():
            # \frac12 means \frac{1}{2}: a digit run is split after its first digit.
            self.tokens.insert(self.pos, ("num", token[1][1:]))
            return sympy.Integer(token[1][0])
        self.pos -= 1
        return self.atom()

    def atom(self) -> sympy.Expr:
        kind, value = self.take()
        if kind == "num":
            digits = sum(c.isdigit() for c in value.split("e")[0].split("E")[0])
            if digits > MAX_LITERAL_DIGITS or abs(int(re.split("[eE]", value + "e0")[1])) > 300:
                raise AnswerParseError("number too long")
            if re.fullmatch(r"\d+", value):
                return sympy.Integer(value)
            return sympy.Float(value, max(15, digits + 2))
        if value in ("(", "{"):
            expr = self.sum()
            self.expect(")" if value == "(" else "}")
            return expr
        if value == "|":
            expr = self.sum()
            self.expect("|")
            return sympy.Abs(expr)
        if kind == "cmd":
            return self.command(value)
        if kind == "name":
            if value in _CONSTANTS:
                return _CONSTANTS[value]
            if value in _FUNCTIONS:
                return _FUNCTIONS[value](self.function_argument())
            if value in _SYMBOLS:
                return _SYMBOLS[value]
        raise AnswerParseError(f"unexpected {value!r}")

    def function_argument(self) -> sympy.Expr:
        if self.peek() in (("op", "("), ("op", "{")):
            return self.atom()
        return self.power()

    def command(self, name: str) -> sympy.Expr:
        if name in ("frac", "dfrac", "tfrac"):
            num, den = self.group(), self.group()
            if den == 0:
                raise AnswerParseError("division by zero")
            return num / den
        if name == "binom":
            n, k = self.group(), self.group()
            return sympy.binomial(_small_int(n, "binom"), _small_int(k, "binom"))
        if name == "sqrt":
            index: sympy.Expr = sympy.Integer(2)
            if self.peek() == ("op", "["):
                self.take()
                index = self.sum()
                self.expect("]")
            return sympy.root(self.group(), index)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](self.function_argument())
        raise AnswerParseError(f"unsupported LaTeX command \\{name}")


def parse_expression(text: str) -> sympy.Expr:
    """Parse one scalar expression (no top-level commas); :class:`AnswerParseError` if not."""
    if not isinstance(text, str) or not text.strip():
        raise AnswerParseError("empty expression")
    if len(text) > MAX_EXPR_CHARS:
        raise AnswerParseError(f"longer than {MAX_EXPR_CHARS} characters")
    try:
        expr = _Parser(_tokenize(text)).parse()
    except AnswerParseError:
        raise
    except (ArithmeticError, TypeError, ValueError, RecursionError) as e:
        raise AnswerParseError(f"cannot evaluate ({type(e).__name__})") from e
    if expr.has(sympy.nan, sympy.zoo):
        raise AnswerParseError("undefined value")
    if expansion_terms(expr) > MAX_EXPANSION_TERMS:
        raise AnswerParseError(
            f"too large to check (expanding it gives more than {MAX_EXPANSION_TERMS} terms)"
        )
    return expr


def is_finite_number(expr: sympy.Expr) -> bool:
    """A real or complex number that is not infinite (used by the checker)."""
    return (
        bool(expr.is_number)
        and not expr.has(sympy.oo, -sympy.oo)
        and math.isfinite(abs(complex(expr.evalf(15))))
    )
