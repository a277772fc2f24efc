"""A tiny answer-based env used to test the base class and wrappers on our own logic.

Task: "what is a + b?". Replies: ``<action>hint</action>`` (not final: reveals the tens digit,
``process`` +0.25 the first time) or ``<answer>N</answer>`` (final).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mtenvs.core.env import InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.parsing import extract_action, extract_answer, reply_text
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.task_source import GeneratedTasks, TaskSource
from mtenvs.error import InvalidArgumentError


@dataclass(frozen=True)
class AddTask:
    """What is ``a + b``?"""

    a: int
    b: int

    @property
    def task_id(self) -> str:
        return f"add-{self.a}-{self.b}"


def _sum_task(rng: np.random.Generator) -> AddTask:
    a, b = (int(x) for x in rng.integers(10, 100, size=2))
    return AddTask(a, b)


def _sum_by_id(task_id: object) -> AddTask:
    parts = str(task_id).split("-")
    if len(parts) != 3 or parts[0] != "add" or not all(p.isdigit() for p in parts[1:]):
        raise InvalidArgumentError(f"Unknown task id {task_id!r}; ids look like 'add-12-34'.")
    return AddTask(int(parts[1]), int(parts[2]))


class AddEnv(MultiTurnEnv[str, tuple[str, int], AddTask]):
    """Add two numbers, with an optional hint."""

    default_max_turns: ClassVar[int] = 5
    _snapshot_fields: ClassVar[tuple[str, ...]] = ("_a", "_b", "_hinted")

    def __init__(
        self,
        *,
        max_turns: int | None = None,
        reward_mode: str = "outcome",
        split: str = "train",
        turn_cost: float = 0.0,
    ) -> None:
        super().__init__(
            max_turns=max_turns, reward_mode=reward_mode, split=split, turn_cost=turn_cost
        )
        from mtenvs.core.spaces import text_space

        self.observation_space = text_space()
        self._a = self._b = 0
        self._hinted = False

    def task_source(self) -> TaskSource[AddTask]:
        return GeneratedTasks(_sum_task, _sum_by_id)

    def new_episode(self, task: AddTask) -> str:
        self._a, self._b = task.a, task.b
        self._hinted = False
        return f"What is {self._a} + {self._b}?"

    def parse_action(self, reply: Reply) -> tuple[str, int]:
        text = reply_text(reply)
        if text is None:
            raise InvalidAction(f"expected text, got {type(reply).__name__}")
        answer = extract_answer(text)
        if answer is not None:
            try:
                return ("answer", int(answer))
            except ValueError:
                raise InvalidAction(f"answer {answer[:20]!r} is not an integer") from None
        if (extract_action(text) or "").lower() == "hint":
            return ("hint", 0)
        raise InvalidAction("no <answer> or <action>hint</action> found")

    def apply_action(self, action: tuple[str, int]) -> Transition:
        kind, value = action
        if kind == "hint":
            gain = 0.0 if self._hinted else 0.25
            self._hinted = True
            total = self._a + self._b
            return Transition(
                f"The sum is between {total // 10 * 10} and {total // 10 * 10 + 9}.",
                {PROCESS: gain},
            )
        ok = value == self._a + self._b
        return Transition(
            "Correct!" if ok else "Wrong.",
            {OUTCOME: float(ok)},
            terminated=True,
            success=ok,
            final_answer=True,
        )

    def system_prompt(self) -> str:
        return "Add the numbers. Reply <answer>N</answer> or <action>hint</action>."

    def action_format(self) -> str:
        return "<answer>INTEGER</answer> or <action>hint</action>"

    def oracle_action(self) -> str:
        return f"<answer>{self._a + self._b}</answer>"

    def privileged(self) -> dict[str, Any]:
        return {"answer": self._a + self._b}

    def render_text(self) -> str:
        return f"{self._a} + {self._b}"

    def random_action(self, rng: np.random.Generator) -> str:
        return f"<answer>{int(rng.integers(20, 200))}</answer>"
