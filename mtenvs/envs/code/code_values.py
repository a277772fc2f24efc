"""Plain values across the sandbox boundary, for :mod:`mtenvs.envs.code.code_verify`.

* :func:`encode_value` / :func:`decode_value`: a JSON form of a plain value, built with
  exact type checks (``type(v) is int``, …) so an object with a forged ``__eq__`` cannot
  pass; they are sandboxes/runtime/plain_values.py, the judge's own code, loaded here;
* :func:`values_match`: a returned value against the expected one (strict, or lenient:
  tuples as lists, floats within a tolerance);
* :func:`value_digest`: the hash of an encoded value that the harness reports.
"""

from __future__ import annotations

import hashlib
import json
import math
from types import ModuleType
from typing import Any

from mtenvs.sandbox.base import runtime_module

__all__ = ["decode_value", "encode_value", "value_digest", "values_match"]


def encode_value(value: Any, lenient: bool = False) -> Any:
    """A JSON form of a plain value with exact type checks (the judge's own code)."""
    return _plain().encode_value(value, lenient)


def decode_value(data: Any) -> Any:
    """Inverse of :func:`encode_value` (raises ``ValueError`` on anything else)."""
    return _plain().decode_value(data)


def _plain() -> ModuleType:
    return runtime_module("plain_values")


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
