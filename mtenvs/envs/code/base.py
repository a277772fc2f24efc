"""``CodeInterpreterEnv``: the turn loop shared by the code-interpreter envs (math, code).

The MINT / CodeAct / SimpleTIR loop: each turn the agent either runs Python in the
episode's persistent sandbox, or gives its final answer.

* **code turn** (``turn_type="code"``): every fenced ```` ```python ```` block of the reply
  (or every ``python`` tool call) runs, in order, in one persistent interpreter (variables
  and imports stay); the observation shows stdout, stderr, the last expression's value and
  the error of each cell, cut to ``max_output_chars`` with a note saying so. A cell with a
  syntax error is reported without a round trip to the sandbox. Running stops at the first
  cell that fails.
* **answer turn** (``turn_type="answer"``): ``<answer>…</answer>`` or a ``submit`` tool call
  is final. An answer wins over code in the same reply (the code is not run). A wrong answer
  ends the episode (``feedback="none"``) or, while turns remain, is followed by unary
  feedback (``"unary"``: :data:`~mtenvs.core.feedback.UNARY_FEEDBACK`, the text of the
  :class:`~mtenvs.wrappers.TryAgain` wrapper) or by feedback generated from the failed
  checks (``"tests"``), and the episode goes on.
* **void turn** (``turn_type="void"``, SimpleTIR's name): neither runnable code nor an
  answer. It is a malformed reply: a ``format`` penalty, an observation with the expected
  format, the turn is used and the episode goes on.

Sandbox lifecycle: one sandbox per env, created at the first code execution (resets and
replies without code never start one), reset (fresh interpreter) on ``env.reset()`` when
code ran in the episode, closed by ``env.close()``.

``snapshot()`` records the cells run so far; ``restore()`` resets the interpreter and
replays them, so restoring costs as much as re-running the episode's code (and code that
depends on time or randomness may replay differently).

A family subclass provides its tasks (:meth:`~mtenvs.core.env.MultiTurnEnv.task_source`,
:meth:`task_text`), the answer check (:meth:`check_answer`), what goes inside ``<answer>``
(:meth:`answer_format`), and the usual :class:`~mtenvs.core.env.MultiTurnEnv` hooks
(``oracle_action``, ``privileged``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, Unpack

from mtenvs.core.args import EvalSetArgs, SplitArgs
from mtenvs.core.env import EnvSnapshot, InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.feedback import UNARY_FEEDBACK
from mtenvs.core.parsing import extract_answer, extract_code_blocks, parse_tool_calls, reply_text
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import MAX_OBS_CHARS, text_space
from mtenvs.core.task_source import HasTaskId
from mtenvs.envs.code.code_verify import parse_untrusted
from mtenvs.error import InvalidArgumentError, check_choice, check_int_range
from mtenvs.sandbox import BACKENDS, ExecResult, Sandbox, SandboxLimits, make_sandbox

__all__ = [
    "FEEDBACK_MODES",
    "MAX_CODE_CHARS",
    "PYTHON_TOOL",
    "SUBMIT_TOOL",
    "AnswerCheck",
    "CodeAction",
    "CodeArgs",
    "CodeEvalSetArgs",
    "CodeInterpreterEnv",
    "FeedbackMode",
    "TurnType",
]

FeedbackMode = Literal["none", "unary", "tests"]
FEEDBACK_MODES: tuple[str, ...] = ("none", "unary", "tests")
TurnType = Literal["code", "answer", "void"]
#: Longest code a reply may run in one turn (all its cells together).
MAX_CODE_CHARS = 100_000
#: Most cells one reply may run.
MAX_CELLS_PER_TURN = 8
_CELL_FILENAME = "<cell>"
CodeTaskT = TypeVar("CodeTaskT", bound=HasTaskId)

PYTHON_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "python",
        "description": "Run Python code in a persistent interpreter (variables and imports "
        "are kept between calls). Returns stdout, stderr, the value of the last expression "
        "and any error.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "Python source to run."}},
            "required": ["code"],
        },
    },
}
SUBMIT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "submit",
        "description": "Submit the final answer (ends the attempt).",
        "parameters": {
            "type": "object",
            "properties": {"answer": {"type": "string", "description": "The final answer."}},
            "required": ["answer"],
        },
    },
}


class CodeArgs(SplitArgs, total=False):
    """Arguments of every code-interpreter env: the common ones and the sandbox's."""

    feedback: FeedbackMode | str
    sandbox: str
    timeout_s: float
    max_output_chars: int


class CodeEvalSetArgs(CodeArgs, EvalSetArgs, total=False):
    """:class:`CodeArgs` of an env with a fixed eval set."""


@dataclass(frozen=True)
class CodeAction:
    """A parsed reply: code cells to run, or a final answer."""

    kind: Literal["code", "answer"]
    cells: tuple[str, ...] = ()
    answer: str = ""


@dataclass(frozen=True)
class AnswerCheck:
    """What :meth:`CodeInterpreterEnv.check_answer` says about a final answer."""

    #: The answer solves the task.
    correct: bool
    #: Partial credit in [0, 1] (passed-test fraction, right parts of the answer);
    #: 1.0 when ``correct``.
    score: float
    #: MINT-style feedback generated from the failed checks (``feedback="tests"``); must not
    #: reveal the expected answer.
    feedback: str


class CodeInterpreterEnv(MultiTurnEnv[str, CodeAction, CodeTaskT]):
    """Base of the code-interpreter envs; see the module doc. Not registered itself."""

    default_max_turns: ClassVar[int] = 5
    io_bound: ClassVar[bool] = True  # steps wait on the sandbox
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = (PYTHON_TOOL, SUBMIT_TOOL)
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_cells",
        "_turn_type",
        "_answers",
        "_best_score",
    )

    def __init__(
        self,
        *,
        feedback: FeedbackMode | str = "none",
        sandbox: str = "auto",
        timeout_s: float = 10.0,
        max_output_chars: int = 4000,
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_choice("feedback", feedback, FEEDBACK_MODES)
        check_choice("sandbox", sandbox, BACKENDS)
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, (int, float))
            or not (0 < timeout_s <= 600)
        ):
            raise InvalidArgumentError(f"timeout_s must be in (0, 600] seconds, got {timeout_s!r}.")
        check_int_range("max_output_chars", max_output_chars, 200, MAX_OBS_CHARS // 8)
        super().__init__(**kwargs)
        self.feedback: FeedbackMode = feedback  # type: ignore[assignment]
        self.sandbox_kind = sandbox
        self.timeout_s = float(timeout_s)
        self.max_output_chars = max_output_chars
        self.observation_space = text_space()
        self._sandbox: Sandbox | None = None
        #: Cells run in the interpreter since its last reset (what restore() replays).
        self._cells: list[str] = []
        self._interpreter_dirty = False
        self._turn_type: TurnType = "void"
        self._answers = 0
        self._best_score = 0.0

    # ------------------------------------------------------------------ family hooks

    @abstractmethod
    def task_text(self) -> str:
        """The task statement shown in the first observation."""

    @abstractmethod
    def check_answer(self, answer: str) -> AnswerCheck:
        """Verify a final answer (may use :meth:`run_code` or a fresh sandbox)."""

    @abstractmethod
    def answer_format(self) -> str:
        """What goes inside ``<answer>…</answer>``, for the prompts."""

    def task_rules(self) -> str:
        """Family-specific rules added to the system prompt."""
        return ""

    # ------------------------------------------------------------------ sandbox

    @property
    def sandbox(self) -> Sandbox:
        """The env's sandbox, started on first use."""
        if self._sandbox is None:
            self._sandbox = make_sandbox(
                self.sandbox_kind, limits=SandboxLimits(timeout_s=self.timeout_s)
            )
        return self._sandbox

    def run_code(self, code: str) -> ExecResult:
        """Run one cell in the episode's interpreter and record it for replay."""
        self._interpreter_dirty = True
        self._cells.append(code)
        return self.sandbox.run(code, timeout=self.timeout_s)

    def _reset_interpreter(self) -> None:
        if self._interpreter_dirty and self._sandbox is not None:
            self._sandbox.reset()
        self._interpreter_dirty = False
        self._cells = []

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        # A live sandbox cannot travel to another process; the copy starts its own.
        state = self.__dict__.copy()
        state["_sandbox"] = None
        state["_interpreter_dirty"] = False
        state["_cells"] = []
        return state

    # ------------------------------------------------------------------ episode

    def new_episode(self, task: CodeTaskT) -> str:
        self._reset_interpreter()
        self._turn_type = "void"
        self._answers = 0
        self._best_score = 0.0
        return (
            f"{self.task_text()}\n\nYou have {self.max_turns} turns. Run Python in a "
            "```python block, or give your final answer as <answer>…</answer>."
        )

    def step_info(self) -> dict[str, Any]:
        return {"turn_type": self._turn_type}

    def restore(self, snapshot: EnvSnapshot) -> None:
        """Restore the state and rebuild the interpreter by replaying the recorded cells."""
        super().restore(snapshot)
        cells = list(self._cells)
        if self._interpreter_dirty and self._sandbox is not None:
            self._sandbox.reset()
        self._interpreter_dirty = bool(cells)
        for cell in cells:
            self.sandbox.run(cell, timeout=self.timeout_s)

    def episode_info(self) -> dict[str, Any]:
        return {"code_cells": len(self._cells), "answers": self._answers}

    # ------------------------------------------------------------------ parsing

    def parse_action(self, reply: Reply) -> CodeAction:
        self._turn_type = "void"  # until the reply parses as code or an answer
        text = reply_text(reply)
        answer = extract_answer(text) if text is not None else None
        if answer is not None:
            if not answer:
                raise InvalidAction("the <answer> block is empty.")
            return self._typed(CodeAction("answer", answer=answer))
        calls = parse_tool_calls(reply) if text is None or "<tool_call>" in text.lower() else []
        if calls:
            return self._typed(self._from_tool_calls(calls))
        cells = tuple(c for c in extract_code_blocks(text) if c.strip()) if text else ()
        if cells:
            if len(cells) > MAX_CELLS_PER_TURN:
                raise InvalidAction(
                    f"{len(cells)} code blocks; at most {MAX_CELLS_PER_TURN} run per turn."
                )
            if sum(map(len, cells)) > MAX_CODE_CHARS:
                raise InvalidAction(f"the code is longer than {MAX_CODE_CHARS} characters.")
            return self._typed(CodeAction("code", cells=cells))
        if text is None:
            raise InvalidAction("the reply is neither text nor a tool call.")
        raise InvalidAction("no ```python code block and no <answer>…</answer> found.")

    def _typed(self, action: CodeAction) -> CodeAction:
        self._turn_type = action.kind
        return action

    def _from_tool_calls(self, calls: list[Any]) -> CodeAction:
        cells: list[str] = []
        for call in calls:
            if call.name == "submit":
                answer = call.arguments.get("answer")
                if not isinstance(answer, str) or not answer.strip():
                    raise InvalidAction("the submit tool needs a non-empty string 'answer'.")
                return CodeAction("answer", answer=answer.strip())
            if call.name != "python":
                raise InvalidAction(
                    f"unknown tool {call.name[:40]!r}; the tools are 'python' "
                    "(argument 'code') and 'submit' (argument 'answer')."
                )
            code = call.arguments.get("code")
            if not isinstance(code, str) or not code.strip():
                raise InvalidAction("the python tool needs a non-empty string 'code'.")
            cells.append(code)
        if len(cells) > MAX_CELLS_PER_TURN or sum(map(len, cells)) > MAX_CODE_CHARS:
            raise InvalidAction(
                f"too much code in one turn (at most {MAX_CELLS_PER_TURN} calls "
                f"and {MAX_CODE_CHARS} characters)."
            )
        return CodeAction("code", cells=tuple(cells))

    # ------------------------------------------------------------------ actions

    def apply_action(self, action: CodeAction) -> Transition:
        if action.kind == "code":
            return Transition(self._run_cells(action.cells) + self._turns_left_note())
        return self._answer(action.answer)

    def _run_cells(self, cells: tuple[str, ...]) -> str:
        parts = []
        for index, cell in enumerate(cells, 1):
            label = f"[cell {index} of {len(cells)}]\n" if len(cells) > 1 else ""
            syntax_error = _syntax_error(cell)
            if syntax_error is not None:
                parts.append(f"{label}error:\n{syntax_error}")
                break
            result = self.run_code(cell)
            parts.append(label + self._render_result(result))
            if not result.ok:
                if index < len(cells):
                    parts.append(f"(cells {index + 1}-{len(cells)} were not run)")
                break
        return "\n".join(parts)

    def _cut(self, text: str) -> tuple[str, bool]:
        limit = self.max_output_chars
        if len(text) <= limit:
            return text, False
        head, tail = text[: limit * 2 // 3], text[-(limit // 3) :]
        return f"{head}\n[... {len(text) - len(head) - len(tail)} characters cut ...]\n{tail}", True

    def _render_result(self, result: ExecResult) -> str:
        sections: list[str] = []
        cut_any = result.truncated
        for name, value in (
            ("stdout", result.stdout),
            ("stderr", result.stderr),
            ("value", result.value),
            ("error", result.error),
        ):
            if value:
                shown, cut = self._cut(value.rstrip("\n"))
                cut_any = cut_any or cut
                sections.append(f"{name}:\n{shown}")
        if result.timed_out:
            sections.append(f"The cell hit the {self.timeout_s:g} s time limit and was stopped.")
        elif result.restarted:
            sections.append("The interpreter was restarted: variables and imports are gone.")
        if not sections:
            sections.append("(the cell ran without output)")
        if cut_any:
            sections.append(
                f"Note: the output was truncated (at most {self.max_output_chars} "
                "characters are shown per stream)."
            )
        return "\n".join(sections)

    def _turns_left_note(self) -> str:
        left = self.max_turns - self._turn
        return f"\n\nTurns left: {left}." if left > 0 else "\n\nNo turns left."

    def _answer(self, answer: str) -> Transition:
        self._answers += 1
        check = self.check_answer(answer)
        process = max(0.0, check.score - self._best_score)
        self._best_score = max(self._best_score, check.score)
        components = {OUTCOME: 1.0 if check.correct else 0.0, PROCESS: process}
        if check.correct:
            return Transition(
                "Correct!", components, terminated=True, success=True, final_answer=True
            )
        retry = self.feedback != "none" and self._turn < self.max_turns
        if not retry:
            return Transition(
                "Your answer is incorrect.", components, terminated=True, final_answer=True
            )
        message = (
            UNARY_FEEDBACK
            if self.feedback == "unary"
            else (f"Your answer is incorrect. {check.feedback}")
        )
        return Transition(message + self._turns_left_note(), components, final_answer=True)

    # ------------------------------------------------------------------ prompts

    def system_prompt(self) -> str:
        rules = self.task_rules()
        retry = {
            "none": "You have one final answer: a wrong answer ends the episode.",
            "unary": "After a wrong answer you are told so and may try again while turns remain.",
            "tests": "After a wrong answer you are told what was wrong and may try again "
            "while turns remain.",
        }[self.feedback]
        return (
            "You solve tasks with the help of a Python interpreter. Each turn, either run code "
            "or give your final answer.\n"
            "To run code, write it in a fenced ```python block (or call the `python` tool); "
            "variables and imports persist between turns, and you see stdout, stderr, the "
            "value of the last expression and any error. numpy and sympy are installed; there "
            f"is no network. Each run may take at most {self.timeout_s:g} s.\n"
            f"To answer, write <answer>…</answer> (or call the `submit` tool), where the "
            f"answer is {self.answer_format()}\n"
            f"{retry} You have {self.max_turns} turns in all.\n{rules}"
        ).rstrip()

    def action_format(self) -> str:
        return (
            f"a ```python code block to run code, or <answer>…</answer> with {self.answer_format()}"
        )

    def render_text(self) -> str:
        self._require_started("render")
        return f"{self.task_text()}\n\n[turn {self._turn}] {self._last_observation}"

    def state_key_data(self) -> object:
        return (tuple(self._cells), self._answers, self._best_score)


def _syntax_error(code: str) -> str | None:
    """The SyntaxError message of ``code`` (compiled on the host, never run), else None."""
    tree = parse_untrusted(code, _CELL_FILENAME)
    return tree if isinstance(tree, str) else None
