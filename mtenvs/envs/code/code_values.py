"""Plain values across the sandbox boundary, for :mod:`mtenvs.envs.code.code_verify`.

* :func:`encode_value` / :func:`decode_value`: a JSON form of a plain value, built with
  exact type checks (``type(v) is int``, …) so an object with a forged ``__eq__`` cannot
  pass; :func:`encode_value` and :func:`decode_value` also run inside the harness (their
  source is copied into it);
* :func:`values_match`: a returned value against the expected one (strict, or lenient:
  tuples as lists, floats within a tolerance);
* :func:`value_digest`: the hash of an encoded value that the harness reports.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = ["decode_value", "encode_value", "value_digest", "values_match"]


def encode_value(value: Any, lenient: bool = False, depth: int = 0) -> Any:
    """A JSON form of a plain value with exact type checks (also runs in the harness)."""
    t = type(value)
    if depth > 60:
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


def decode_value(data: Any) -> Any:
    """Inverse of :func:`encode_value` (raises ``ValueError`` on anything else)."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if isinstance(body, list):
            if tag == "__tuple__":
                return tuple(decode_value(v) for v in body)
            if tag == "__set__":
                return {decode_value(v) for v in body}
            if tag == "__dict__":
                return {decode_value(k): decode_value(v) for k, v in body}
    raise ValueError(f"not an encoded value: {str(data)[:80]}")


def values_match(got: Any, expected: Any, lenient: bool, tolerance: float = 1e-6) -> bool:
    """``got == expected`` on plain values; ``lenient``: tuples are lists and floats match
    within ``tolerance`` (what the authored problems promise)."""
    if not lenient:
        return bool(got == expected)
    if isinstance(expected, float) or isinstance(got, float):
        if isinstance(got, bool) or isinstance(expected, bool):
            return got is expected
        if not isinstance(got, (int, float)) or not isinstance(expected, (int, float)):
            return False
        return math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(got, (list, tuple))
            and len(got) == len(expected)
            and all(values_match(g, e, True, tolerance) for g, e in zip(got, expected))
        )
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and got.keys() == expected.keys()
            and all(values_match(got[k], v, True, tolerance) for k, v in expected.items())
        )
    return type(got) is type(expected) and bool(got == expected)


def value_digest(encoded: Any) -> str:
    """The SHA-256 of an encoded value's canonical JSON (what the harness sends back for a
    value test, so the expected value never enters the sandbox)."""
    return hashlib.sha256(json.dumps(encoded, sort_keys=True).encode()).hexdigest()
