"""A small, safe expression language for rules over a triple ``(a, b, c)``; no I/O.

Model replies are never given to Python's ``eval``: a guessed rule is tokenized and parsed
here by recursive descent into a tiny typed AST, then evaluated with NumPy over many
triples at once. The language::

    rule    := or
    or      := and ("or" and)*                      also ||
    and     := not ("and" not)*                     also &&
    not     := "not" not | compare                  also !
    compare := sum (op sum)*                        op: < <= > >= == != (also = <> ≤ ≥ ≠);
                                                    chains mean "and": a < b < c
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "%") unary)*           "%" (also "mod"): remainder by a
                                                    positive integer constant, always in
                                                    0..m-1 (-3 % 2 == 1)
    unary   := "-" unary | atom
    atom    := integer | a | b | c | true | false | "(" rule ")"

Limits keep evaluation cheap and exact in 64-bit integers: at most 500 characters, 150
tokens, 20 levels of nesting, 4 multiplications, constants up to 10**4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_CHARS", "Expr", "RuleSyntaxError", "parse_rule"]

MAX_CHARS = 500
MAX_TOKENS = 150
MAX_DEPTH = 20
MAX_PRODUCTS = 4
MAX_CONSTANT = 10**4

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]+)|(<=|>=|==|!=|<>|&&|\|\||[<>=+\-*%()!≤≥≠]))")
_CMP_ALIASES = {"=": "==", "<>": "!=", "≤": "<=", "≥": ">=", "≠": "!="}
_WORD_OPS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "mod": "%",
    "&&": "and",
    "||": "or",
    "!": "not",
}
_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
Node = tuple  # ("num", v) | ("var", i) | ("neg", x) | ("bin", op, l, r) | ("cmp", ops, args)
#              | ("and", l, r) | ("or", l, r) | ("not", x) | ("bool", v)


class RuleSyntaxError(ValueError):
    """A guessed rule that is not in the language; the message says where and why."""


@dataclass(frozen=True)
class Expr:
    """A parsed boolean rule: evaluate it with :meth:`evaluate`, show it with ``str``."""

    node: Node

    def evaluate(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The rule's truth value for each triple ``(a[i], b[i], c[i])`` (int64 arrays)."""
        return np.asarray(_eval(self.node, (a, b, c)), dtype=bool) & np.ones(len(a), bool)

    def holds(self, a: int, b: int, c: int) -> bool:
        one = np.array([a], dtype=np.int64)
        return bool(self.evaluate(one, np.array([b], np.int64), np.array([c], np.int64))[0])

    def constants(self) -> set[int]:
        """Integer constants in the rule (boundary cases are built around them)."""
        found: set[int] = set()
        _constants(self.node, found)
        return found

    def __str__(self) -> str:
        return _show(self.node, 0)


def parse_rule(text: str) -> Expr:
    """Parse ``text`` into an :class:`Expr`; raises :class:`RuleSyntaxError`."""
    if len(text) > MAX_CHARS:
        raise RuleSyntaxError(f"the rule is longer than {MAX_CHARS} characters.")
    tokens: list[str] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None:
            raise RuleSyntaxError(f"unexpected character {stripped[pos:].lstrip()[:1]!r}.")
        token = match.group(match.lastindex or 0).lower()
        tokens.append(_WORD_OPS.get(token, _CMP_ALIASES.get(token, token)))
        pos = match.end()
        if len(tokens) > MAX_TOKENS:
            raise RuleSyntaxError(f"the rule has more than {MAX_TOKENS} tokens.")
    if not tokens:
        raise RuleSyntaxError("the rule is empty.")
    parser = _Parser(tokens)
    node = parser.rule(0)
    if parser.pos != len(tokens):
        raise RuleSyntaxError(f"unexpected {tokens[parser.pos]!r} after a complete rule.")
    if _kind(node) != "bool":
        raise RuleSyntaxError("the rule must be true or false (a comparison), not a number.")
    if parser.products > MAX_PRODUCTS:
        raise RuleSyntaxError(f"at most {MAX_PRODUCTS} multiplications are allowed.")
    return Expr(node)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.products = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise RuleSyntaxError("the rule ends too early.")
        self.pos += 1
        return token

    def rule(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise RuleSyntaxError(f"more than {MAX_DEPTH} levels of nesting.")
        node = self.conj(depth)
        while self.peek() == "or":
            self.take()
            node = ("or", self._bool(node), self._bool(self.conj(depth)))
        return node

    def conj(self, depth: int) -> Node:
        node = self.neg(depth)
        while self.peek() == "and":
            self.take()
            node = ("and", self._bool(node), self._bool(self.neg(depth)))
        return node

    def neg(self, depth: int) -> Node:
        if self.peek() == "not":
            self.take()
            return ("not", self._bool(self.neg(depth + 1)))
        return self.compare(depth)

    def compare(self, depth: int) -> Node:
        args = [self.sum(depth)]
        ops = []
        while self.peek() in _COMPARISONS:
            ops.append(self.take())
            args.append(self.sum(depth))
        if not ops:
            return args[0]
        for arg in args:
            if _kind(arg) != "int":
                raise RuleSyntaxError("comparisons compare numbers, not true/false values.")
        return ("cmp", tuple(ops), tuple(args))

    def sum(self, depth: int) -> Node:
        node = self.product(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            node = ("bin", op, self._int(node), self._int(self.product(depth)))
        return node

    def product(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.peek() in ("*", "%"):
            op = self.take()
            right = self._int(self.unary(depth))
            if op == "*":
                self.products += 1
            elif right[0] != "num" or right[1] <= 0:
                raise RuleSyntaxError("'%' needs a positive integer constant on its right.")
            node = ("bin", op, self._int(node), right)
        return node

    def unary(self, depth: int) -> Node:
        if self.peek() == "-":
            self.take()
            return ("neg", self._int(self.unary(depth + 1)))
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        token = self.take()
        if token.isdigit():
            value = int(token[:8])
            if value > MAX_CONSTANT:
                raise RuleSyntaxError(f"constants must be at most {MAX_CONSTANT}.")
            return ("num", value)
        if token in ("a", "b", "c"):
            return ("var", "abc".index(token))
        if token in ("true", "false"):
            return ("bool", token == "true")
        if token == "(":
            node = self.rule(depth + 1)
            if self.take() != ")":
                raise RuleSyntaxError("a '(' is not closed.")
            return node
        raise RuleSyntaxError(
            f"unexpected {token!r}; use a, b, c, integers, + - * %, comparisons, and, or, "
            "not, parentheses."
        )

    @staticmethod
    def _bool(node: Node) -> Node:
        if _kind(node) != "bool":
            raise RuleSyntaxError("and/or/not combine comparisons, not numbers.")
        return node

    @staticmethod
    def _int(node: Node) -> Node:
        if _kind(node) != "int":
            raise RuleSyntaxError("arithmetic works on numbers, not on true/false values.")
        return node


def _kind(node: Node) -> str:
    return "bool" if node[0] in ("cmp", "and", "or", "not", "bool") else "int"


_CMP_FUNCS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _eval(node: Node, abc: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray | int:
    kind = node[0]
    if kind == "num":
        return int(node[1])
    if kind == "var":
        return abc[node[1]]
    if kind == "bool":
        return np.bool_(node[1])  # type: ignore[return-value]
    if kind == "neg":
        return -_eval(node[1], abc)  # type: ignore[operator]
    if kind == "bin":
        left, right = _eval(node[2], abc), _eval(node[3], abc)
        op = node[1]
        if op == "+":
            return np.add(left, right)
        if op == "-":
            return np.subtract(left, right)
        if op == "*":
            return np.multiply(left, right)
        return np.mod(left, right)
    if kind == "cmp":
        values = [_eval(arg, abc) for arg in node[2]]
        result: np.ndarray | bool = True
        for op, left, right in zip(node[1], values, values[1:]):
            result = np.logical_and(result, _CMP_FUNCS[op](left, right))
        return result  # type: ignore[return-value]
    if kind == "not":
        return np.logical_not(_eval(node[1], abc))
    left, right = _eval(node[1], abc), _eval(node[2], abc)
    return np.logical_and(left, right) if kind == "and" else np.logical_or(left, right)


def _constants(node: Node, found: set[int]) -> None:
    if node[0] == "num":
        found.add(int(node[1]))
        return
    for child in node[1:]:
        if isinstance(child, tuple):
            if child and isinstance(child[0], str) and child[0] in _NODE_KINDS:
                _constants(child, found)
            else:
                for item in child:
                    if isinstance(item, tuple):
                        _constants(item, found)


_NODE_KINDS = frozenset({"num", "var", "neg", "bin", "cmp", "and", "or", "not", "bool"})
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "%": 6}


def _show(node: Node, outer: int) -> str:
    kind = node[0]
    if kind == "num":
        return str(node[1])
    if kind == "var":
        return "abc"[node[1]]
    if kind == "bool":
        return "true" if node[1] else "false"
    if kind == "neg":
        return "-" + _show(node[1], 7)
    if kind == "not":
        text, level = "not " + _show(node[1], 3), 3
    elif kind in ("and", "or"):
        level = _PRECEDENCE[kind]
        text = f"{_show(node[1], level)} {kind} {_show(node[2], level + 1)}"
    elif kind == "cmp":
        level = 4
        parts = [_show(node[2][0], 5)]
        for op, arg in zip(node[1], node[2][1:]):
            parts += [op, _show(arg, 5)]
        text = " ".join(parts)
    else:
        level = _PRECEDENCE[node[1]]
        text = f"{_show(node[2], level)} {node[1]} {_show(node[3], level + 1)}"
    return f"({text})" if level < outer else text
