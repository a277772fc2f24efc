"""``UnitTestEnv``: what the programming envs share on top of the code-interpreter loop.

The final answer is a complete solution source; it is checked by hidden unit tests in a
*verifier* sandbox of its own, which runs no agent cell, in a fresh process per answer
(forked ahead of use from a clean judge template), so nothing the agent ran or wrote in its
own interpreter is visible to the tests and the hidden tests never reach the agent's
interpreter (see :mod:`mtenvs.envs.code.code_verify`). Garbage is rejected on the host
(syntax, no entry point) without a sandbox round trip.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mtenvs.envs.code.base import AnswerCheck, CodeInterpreterEnv
from mtenvs.envs.code.code_tasks import CodeTask
from mtenvs.envs.code.code_verify import extract_solution, precheck, run_tests
from mtenvs.sandbox import Sandbox, SandboxLimits, make_sandbox

__all__ = ["UnitTestEnv"]


class UnitTestEnv(CodeInterpreterEnv[CodeTask]):
    """Base of PythonCode and CodeTasks; not registered itself."""

    io_bound: ClassVar[bool] = True
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        *CodeInterpreterEnv._snapshot_fields,
        "_task_cursor",
        "_tests_passed",
    )

    def _init_unit_tests(self) -> None:
        self._tests_passed = 0
        self._verifier: Sandbox | None = None

    # ------------------------------------------------------------------ verifier

    @property
    def verifier(self) -> Sandbox:
        """The sandbox the hidden tests run in (never the agent's), started on first use."""
        if self._verifier is None:
            self._verifier = make_sandbox(
                self.sandbox_kind, limits=SandboxLimits(timeout_s=self.timeout_s)
            )
        return self._verifier

    def close(self) -> None:
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_verifier"] = None
        return state

    # ------------------------------------------------------------------ task

    def new_episode(self, task: CodeTask) -> str:
        self._tests_passed = 0
        return super().new_episode(task)

    def task_text(self) -> str:
        task = self.task
        return (
            "Write this Python function:\n```python\n" + task.prompt.rstrip() + "\n```\n"
            f"It is checked by {len(task.tests)} hidden unit tests."
        )

    def answer_format(self) -> str:
        entry = self._task.entry_point if self._task is not None else "the function"
        return (
            f"the complete source of `{entry}` (with the imports it needs), fenced in "
            "```python or not."
        )

    def task_rules(self) -> str:
        return (
            "Your final answer is run against hidden unit tests in a fresh interpreter "
            "(not the one you ran code in); return plain Python values (int, float, str, "
            "bool, None, list, tuple, dict, set). Partial credit is the fraction of tests "
            "passed."
        )

    def check_answer(self, answer: str) -> AnswerCheck:
        task = self.task
        source = extract_solution(answer)
        problem = precheck(source, task.entry_point)
        if problem is not None:
            self._tests_passed = 0
            return AnswerCheck(False, 0.0, f"0 of {len(task.tests)} hidden tests passed. {problem}")
        verdict = run_tests(
            self.verifier,
            f"{task.prelude}\n{source}" if task.prelude else source,
            task.entry_point,
            task.tests,
            setup=task.setup,
            test_setup=task.prelude,
            lenient=task.lenient,
            timeout_s=self.timeout_s,
        )
        self._tests_passed = verdict.passed
        return AnswerCheck(verdict.correct, verdict.score, verdict.feedback())

    def episode_info(self) -> dict[str, Any]:
        task = self._task
        return {
            **super().episode_info(),
            "category": task.category if task is not None else "",
            "tests_total": len(task.tests) if task is not None else 0,
            "tests_passed": self._tests_passed,
        }

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Submit the reference solution."""
        self._require_started("oracle_action")
        return f"<answer>\n```python\n{self.task.solution}```\n</answer>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        task = self.task
        return {
            "solution": task.solution,
            "hidden_tests": [(t.call, t.expected, t.kind) for t in task.tests],
        }

    def random_action(self, rng: np.random.Generator) -> str:
        a, b = (int(v) for v in rng.integers(-20, 21, size=2))
        if rng.random() < 0.5:
            return f"```python\nprint({a} * {b})\n```"
        entry = self._task.entry_point if self._task is not None else "f"
        return f"<answer>\ndef {entry}(*args):\n    return {a}\n</answer>"

    def state_key_data(self) -> object:
        return (super().state_key_data(), self._task_cursor, self._tests_passed)
