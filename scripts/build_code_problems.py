"""Build ``mtenvs/assets/code/problems.jsonl`` from the authored problems.

    python scripts/build_code_problems.py

Each problem (``scripts/code_problems_a.py``, ``code_problems_b.py``) gives a description,
a reference solution and test inputs; the expected outputs are the reference's, computed
here, and must be plain JSON values. Within each category every fourth problem (by id) is in
the test split.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from code_problems_a import P as PART_A  # noqa: E402
from code_problems_b import P as PART_B  # noqa: E402

OUT = HERE.parent / "mtenvs" / "assets" / "code" / "problems.jsonl"


def _plain_json(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if type(value) is list:
        return all(_plain_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    return False


def build() -> list[dict[str, object]]:
    problems = PART_A + PART_B
    ids = [p[0] for p in problems]
    assert len(ids) == len(set(ids)), "duplicate problem ids"
    by_category: dict[str, list[str]] = {}
    for pid, category, *_ in problems:
        by_category.setdefault(category, []).append(pid)
    test_ids = {
        pid
        for members in by_category.values()
        for i, pid in enumerate(sorted(members))
        if i % 4 == 3
    }
    records = []
    for pid, category, difficulty, description, solution, inputs in problems:
        signature = solution.splitlines()[0]
        assert signature.startswith(f"def {pid}("), pid
        namespace: dict[str, object] = {}
        exec(solution, namespace)
        fn = namespace[pid]
        tests = []
        for args in inputs:
            expected = fn(*copy.deepcopy(list(args)))  # type: ignore[operator]
            assert _plain_json(list(args)) and _plain_json(expected), (pid, args, expected)
            tests.append({"args": list(args), "expected": expected})
        assert len(tests) >= 5, pid
        records.append(
            {
                "id": pid,
                "category": category,
                "difficulty": difficulty,
                "split": "test" if pid in test_ids else "train",
                "entry_point": pid,
                "prompt": f'{signature}\n    """{description}"""\n',
                "solution": solution,
                "tests": tests,
            }
        )
    return sorted(records, key=lambda r: str(r["id"]))


def main() -> None:
    records = build()
    OUT.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} problems to {OUT}")


if __name__ == "__main__":
    main()
