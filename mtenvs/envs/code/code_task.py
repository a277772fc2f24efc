"""The PythonCode task record: :class:`CodeTask`, its tests from input/expected pairs and
its JSON form.

Every source of code tasks builds these: the authored problems and the eval set
(:mod:`mtenvs.envs.code.code_tasks`), the seeded variants
(:mod:`mtenvs.envs.code.code_variants`) and the HumanEval / MBPP files
(:mod:`mtenvs.envs.code.code_datasets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mtenvs.envs.code.code_verify import CodeTest

__all__ = ["CodeTask", "task_from_dict", "task_to_dict", "tests_from_pairs"]


@dataclass(frozen=True)
class CodeTask:
    """A programming task: what the agent sees, how it is checked, the reference."""

    task_id: str
    #: ``authored``, ``variant``, ``humaneval`` or ``mbpp``.
    source: str
    category: str
    difficulty: str
    split: str
    #: The statement shown to the agent (signature and description).
    prompt: str
    #: Name of the function the solution must define.
    entry_point: str
    #: Reference solution (the oracle's answer); ``""`` when the dataset has none.
    solution: str
    tests: tuple[CodeTest, ...]
    #: Code run after the solution, before the tests (MBPP ``test_setup_code``).
    setup: str = ""
    #: Prepended to the submitted source and run in the tests' namespace (a HumanEval
    #: prompt's imports and helper functions: the tests call the prompt's own helpers, as the
    #: official harness does, and a solution that redefines one cannot change what they see).
    prelude: str = ""
    #: Tuples match lists and floats match within 1e-6 (authored tasks); otherwise ``==``.
    lenient: bool = True


def tests_from_pairs(entry: str, pairs: list[dict[str, Any]]) -> tuple[CodeTest, ...]:
    """Input/expected pairs as tests: ``candidate(*args) == expected``."""
    del entry  # the harness binds the entry point to ``candidate``
    return tuple(
        CodeTest(f"candidate({', '.join(repr(a) for a in p['args'])})", p["expected"])
        for p in pairs
    )


def task_to_dict(task: CodeTask) -> dict[str, Any]:
    """``task`` as JSON data (the eval set's form); :func:`task_from_dict` reads it back."""
    data = {name: getattr(task, name) for name in CodeTask.__dataclass_fields__}
    data["tests"] = [
        {"call": t.call, "expected": t.expected, "kind": t.kind, "tolerance": t.tolerance}
        for t in task.tests
    ]
    return data


def task_from_dict(data: dict[str, Any]) -> CodeTask:
    """The task :func:`task_to_dict` wrote (fields it lacks take their defaults)."""
    fields = {name: data[name] for name in CodeTask.__dataclass_fields__ if name in data}
    fields["tests"] = tuple(CodeTest(**t) for t in data["tests"])
    return CodeTask(**fields)
