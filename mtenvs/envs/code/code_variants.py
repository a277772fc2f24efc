"""Procedurally varied PythonCode tasks: templates whose constants come from a seed.

A template draws its parameters and test inputs from a generator seeded by
``(template, split, seed, attempt)``, writes the statement and the reference solution with
those constants, and computes the expected outputs by running the reference on the host (it
is our code, never the agent's). An instance belongs to the split its parameters and test
inputs hash to, so train and test never share one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np

from mtenvs.core.tasks import content_split
from mtenvs.envs.code.code_task import CodeTask, tests_from_pairs
from mtenvs.error import InvalidArgumentError

__all__ = ["SEEDS_PER_SPLIT", "TEMPLATES", "make_variant"]

SEEDS_PER_SPLIT: Final = 100_000
_SPLITS: Final = ("train", "test")
_SEED_TAG: Final = 0x434F4445  # "CODE"
_TESTS: Final = 8


@dataclass(frozen=True)
class _Instance:
    category: str
    difficulty: str
    entry: str
    description: str
    solution: str
    inputs: list[tuple[Any, ...]]
    key: str


def _ints(rng: np.random.Generator, lo: int, hi: int, n: int) -> list[int]:
    return [int(v) for v in rng.integers(lo, hi + 1, size=n)]


def _multiples(rng: np.random.Generator) -> _Instance:
    a, b = sorted(_ints(rng, 2, 13, 2))
    b = b + 1 if a == b else b
    return _Instance(
        "arrays",
        "easy",
        "sum_of_multiples",
        f"Return the sum of all integers in [1, n) divisible by {a} or by {b} (0 if n <= 1).",
        f"def sum_of_multiples(n: int) -> int:\n    return sum(i for i in range(1, n) if i % {a} "
        f"== 0 or i % {b} == 0)\n",
        [(0,), (1,), (a,), (a * b + 1,)] + [(v,) for v in _ints(rng, 2, 3000, _TESTS - 4)],
        f"{a},{b}",
    )


def _shift_cipher(rng: np.random.Generator) -> _Instance:
    k = int(rng.integers(1, 26))
    words = ["alpha", "Zebra", "quick brown fox", "", "Hello, World!", "xyz", "MiXeD 123"]
    picks = [words[i] for i in rng.permutation(len(words))[: _TESTS - 2]] + ["zz", "A"]
    return _Instance(
        "strings",
        "easy",
        "decode_shift",
        f"Every ASCII letter of `s` was shifted forward by {k} positions (wrapping, case "
        "kept); return the original text. Other characters are unchanged.",
        "def decode_shift(s: str) -> str:\n    out = []\n    for c in s:\n"
        "        if c.isascii() and c.isalpha():\n            base = 65 if c.isupper() else 97\n"
        f"            out.append(chr((ord(c) - base - {k}) % 26 + base))\n        else:\n"
        "            out.append(c)\n    return ''.join(out)\n",
        [(w,) for w in picks],
        str(k),
    )


def _recurrence(rng: np.random.Generator) -> _Instance:
    p, q = _ints(rng, -3, 4, 2)
    x0, x1 = _ints(rng, -5, 5, 2)
    return _Instance(
        "dp",
        "medium",
        "nth_term",
        f"A sequence has x(0) = {x0}, x(1) = {x1} and x(n) = {p}*x(n-1) + {q}*x(n-2) for "
        "n >= 2. Return x(n) for n >= 0 (exact integers; n can be a few thousand).",
        f"def nth_term(n: int) -> int:\n    a, b = {x0}, {x1}\n    for _ in range(n):\n"
        f"        a, b = b, {p} * b + {q} * a\n    return a\n",
        [(0,), (1,), (2,), (3,)] + [(v,) for v in _ints(rng, 4, 2000, _TESTS - 4)],
        f"{p},{q},{x0},{x1}",
    )


def _base_convert(rng: np.random.Generator) -> _Instance:
    base = int(rng.integers(2, 10))
    return _Instance(
        "parsing",
        "easy",
        "to_base",
        f"Return the base-{base} representation of the integer n as a string (a leading '-' "
        "for negative numbers, '0' for zero).",
        "def to_base(n: int) -> str:\n    if n == 0:\n        return '0'\n"
        "    sign, n, out = '-' if n < 0 else '', abs(n), []\n    while n:\n"
        f"        out.append(str(n % {base}))\n        n //= {base}\n"
        "    return sign + ''.join(reversed(out))\n",
        [(0,), (-1,), (base,), (base**5 - 1,)] + [(v,) for v in _ints(rng, -(10**6), 10**6, 4)],
        str(base),
    )


def _window_sum(rng: np.random.Generator) -> _Instance:
    w = int(rng.integers(2, 6))
    lists = [_ints(rng, -20, 20, int(rng.integers(w, 15))) for _ in range(_TESTS - 2)]
    return _Instance(
        "arrays",
        "medium",
        "best_window",
        f"Return the largest sum of {w} consecutive elements of `nums`, or None if it has "
        f"fewer than {w} elements.",
        f"def best_window(nums: list[int]):\n    if len(nums) < {w}:\n        return None\n"
        f"    return max(sum(nums[i:i + {w}]) for i in range(len(nums) - {w} + 1))\n",
        [([],), (list(range(w - 1)),)] + [(v,) for v in lists],
        str(w),
    )


def _rotate_grid(rng: np.random.Generator) -> _Instance:
    turns = int(rng.integers(1, 4))
    grids = []
    for _ in range(_TESTS - 1):
        h, wd = _ints(rng, 1, 4, 2)
        grids.append(([_ints(rng, 0, 9, wd) for _ in range(h)],))
    return _Instance(
        "simulation",
        "medium",
        "rotate_grid",
        f"Return the grid (a list of equal-length rows) rotated clockwise by {90 * turns} degrees.",
        "def rotate_grid(grid: list[list[int]]) -> list[list[int]]:\n"
        f"    for _ in range({turns}):\n        grid = [list(r) for r in zip(*grid[::-1])]\n"
        "    return [list(r) for r in grid]\n",
        [([],), *grids],
        str(turns),
    )


def _letter_counts(rng: np.random.Generator) -> _Instance:
    letters = "".join(sorted({chr(97 + int(i)) for i in rng.integers(0, 26, size=4)}))
    texts = [
        "",
        "banana bread",
        "The Quick Brown Fox",
        "zzz",
        letters.upper(),
        letters * 3,
        "mississippi",
        "a-b-c-d-e",
    ]
    return _Instance(
        "hashing",
        "easy",
        "letter_counts",
        f"Return a dict mapping each of the letters {', '.join(repr(c) for c in letters)} "
        "that occurs in `text` (case-insensitively) to its count.",
        "def letter_counts(text: str) -> dict[str, int]:\n    out = {}\n"
        f"    for c in text.lower():\n        if c in {letters!r}:\n"
        "            out[c] = out.get(c, 0) + 1\n    return out\n",
        [(t,) for t in texts],
        letters,
    )


def _sort_key(rng: np.random.Generator) -> _Instance:
    mod = int(rng.integers(3, 10))
    lists = [_ints(rng, -50, 50, int(rng.integers(0, 12))) for _ in range(_TESTS - 1)]
    return _Instance(
        "sorting",
        "medium",
        "sort_by_remainder",
        f"Sort `nums` by the remainder x % {mod} (Python's %, so never negative), ties by "
        "value ascending.",
        f"def sort_by_remainder(nums: list[int]) -> list[int]:\n"
        f"    return sorted(nums, key=lambda x: (x % {mod}, x))\n",
        [([],)] + [(v,) for v in lists],
        str(mod),
    )


TEMPLATES: Final[dict[str, Callable[[np.random.Generator], _Instance]]] = {
    "sum_of_multiples": _multiples,
    "decode_shift": _shift_cipher,
    "nth_term": _recurrence,
    "to_base": _base_convert,
    "best_window": _window_sum,
    "rotate_grid": _rotate_grid,
    "letter_counts": _letter_counts,
    "sort_by_remainder": _sort_key,
}


def _split_of(template: str, key: str) -> str:
    return content_split(f"{template}:{key}")


@lru_cache(maxsize=2048)
def make_variant(template: str, split: str, seed: int) -> CodeTask:
    """The instance ``(template, split, seed)``; the same arguments give the same task."""
    if template not in TEMPLATES:
        raise InvalidArgumentError(
            f"Unknown variant template {template!r}; choose one of {', '.join(sorted(TEMPLATES))}."
        )
    if split not in _SPLITS or not 0 <= seed < SEEDS_PER_SPLIT:
        raise InvalidArgumentError(
            f"Variant split must be train/test and seed in "
            f"[0, {SEEDS_PER_SPLIT}), got {split!r}, {seed!r}."
        )
    index = sorted(TEMPLATES).index(template)
    for attempt in range(1000):
        rng = np.random.default_rng([_SEED_TAG, index, _SPLITS.index(split), seed, attempt])
        inst = TEMPLATES[template](rng)
        if _split_of(template, f"{inst.key}:{inst.inputs!r}") == split:
            break
    else:  # pragma: no cover - each template has parameters in both splits
        raise RuntimeError(f"no {split} instance of {template}")
    namespace: dict[str, Any] = {}
    exec(compile(inst.solution, f"<{template}>", "exec"), namespace)
    fn = namespace[inst.entry]
    pairs = [
        {"args": list(args), "expected": fn(*copy.deepcopy(list(args)))} for args in inst.inputs
    ]
    signature = inst.solution.splitlines()[0]
    return CodeTask(
        task_id=f"code-var-{template}-{split}-{seed:05d}",
        source="variant",
        category=inst.category,
        difficulty=inst.difficulty,
        split=split,
        prompt=f'{signature}\n    """{inst.description}"""\n',
        entry_point=inst.entry,
        solution=inst.solution,
        tests=tests_from_pairs(inst.entry, pairs),
    )
