"""Plain values across the sandbox boundary (standard library only).

:func:`encode_value` builds a JSON form of a value with exact type checks (``type(v) is
int``, ...), so only ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``, ``tuple``,
``dict``, ``set`` and ``frozenset`` survive and an object with a forged ``__eq__`` cannot
pass; :func:`decode_value` is its inverse. The judge encodes what the solution returns; the
host decodes and compares (``mtenvs.envs.code.code_values`` loads this very file).
"""

from __future__ import annotations

import ast
import functools
import json
from typing import Any

#: Deepest nesting of an encoded value.
MAX_DEPTH = 60


def encode_value(value: Any, lenient: bool = False, depth: int = 0) -> Any:
    """A JSON form of a plain value with exact type checks."""
    t = type(value)
    if depth > MAX_DEPTH:
        raise TypeError("the value is nested too deeply")
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return (
            value
            if value == value and value not in (float("inf"), -float("inf"))
            else {"__float__": repr(value)}
        )
    if t is list or (lenient and t is tuple):
        return [encode_value(v, lenient, depth + 1) for v in value]
    if t is tuple:
        return {"__tuple__": [encode_value(v, lenient, depth + 1) for v in value]}
    if t is dict:
        return {
            "__dict__": [
                [encode_value(k, lenient, depth + 1), encode_value(v, lenient, depth + 1)]
                for k, v in value.items()
            ]
        }
    if t is set or t is frozenset:
        items = [encode_value(v, lenient, depth + 1) for v in value]
        return {"__set__": sorted(items, key=lambda x: json.dumps(x, sort_keys=True))}
    raise TypeError(
        f"returned a {t.__module__}.{t.__qualname__}; return plain Python values "
        "(None, bool, int, float, str, list, tuple, dict, set)"
    )


def decode_value(data: Any, depth: int = 0) -> Any:
    """Inverse of :func:`encode_value` (raises ``ValueError`` on anything else)."""
    if depth > MAX_DEPTH + 1:
        raise ValueError("an encoded value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(v, depth + 1) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if isinstance(body, list):
            if tag == "__tuple__":
                return tuple(decode_value(v, depth + 1) for v in body)
            if tag == "__set__":
                return {decode_value(v, depth + 1) for v in body}
            if tag == "__dict__" and all(isinstance(p, list) and len(p) == 2 for p in body):
                return {decode_value(k, depth + 1): decode_value(v, depth + 1) for k, v in body}
    raise ValueError(f"not an encoded value: {str(data)[:80]}")


#: A call of the candidate: positional and keyword arguments.
Call = tuple[tuple[Any, ...], dict[str, Any]]


#: Longest test code whose parsed call is cached (the cache holds at most 4096 of them).
_CACHED_CODE = 2000


def literal_call(code: str, entry: str) -> Call | None:
    """The arguments of a test that only calls the candidate with literals
    (``candidate(3, [1, 2])``), else ``None``: such calls can go to the solution process
    in one batch, as the judge would have made them one by one. Short tests are cached (a
    task's tests come back with every answer); the arguments are only ever pickled."""
    if len(code) <= _CACHED_CODE:
        return _cached_call(code, entry)
    return _literal_call(code, entry)


@functools.lru_cache(maxsize=4096)
def _cached_call(code: str, entry: str) -> Call | None:
    return _literal_call(code, entry)


def _literal_call(code: str, entry: str) -> Call | None:
    try:
        node = ast.parse(code, "<test>", "eval").body
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("candidate", entry)
            and all(k.arg is not None for k in node.keywords)
        ):
            return None
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    return args, kwargs
