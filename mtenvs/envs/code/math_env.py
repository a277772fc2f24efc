"""``mtenvs/PythonMath-v0``: math problems solved with a Python interpreter, answers checked
symbolically (or, for GSM8K and MATH from ``dataset=``, by the datasets' official checks)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.env import Transition
from mtenvs.core.task_source import TaskList, TaskSource, seeded_tasks
from mtenvs.envs.code.base import AnswerCheck, CodeEvalSetArgs, CodeInterpreterEnv
from mtenvs.envs.code.math_checker import CHECK_MEMORY_MB, CHECK_TIMEOUT_S, MathChecker
from mtenvs.envs.code.math_datasets import MathRecord, load_math_dataset
from mtenvs.envs.code.math_tasks import (
    DIFFICULTIES,
    SEEDS_PER_SPLIT,
    MathTask,
    eval_set,
    make_task,
    parse_task_id,
)
from mtenvs.envs.code.math_verify import LIMIT_REASONS, Verdict
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = ["PythonMathEnv"]

_ANSWER_FORMATS = {
    "number": "one exact value, e.g. 3/4, 2*sqrt(3), pi/4 (LaTeX such as \\frac{3}{4} is "
    "fine; decimals need 4 correct significant digits)",
    "expr": "an expression in x, e.g. x^2 + 2*x + 1",
    "tuple": "a tuple in the order asked, e.g. (1, -2)",
    "set": "the set of all values, e.g. {-2, 3}",
    "interval": "an interval, e.g. (2, 3], [1, oo), (-oo, 0)",
    "gsm8k": "one number, e.g. 42 (the last number in the answer counts; commas and $ are ignored)",
    "math": "the final answer in LaTeX, as a textbook solution would box it, e.g. "
    "\\frac{1}{2}, 3\\sqrt{2}, (1, -2); \\boxed{...} is fine",
}
_DATASET_RULES = {
    "gsm8k": "Give the final number only.",
    "math": "The answer is compared as a string after the MATH benchmark's normalisation "
    "(spaces, \\left/\\right, \\dfrac, ^\\circ, \\$, units after \\text{ and 1/2 "
    "style fractions are normalised): give it fully simplified, in the usual LaTeX form, "
    "without words.",
}


class PythonMathEnv(CodeInterpreterEnv[MathTask | MathRecord]):
    """Solve a math problem with a persistent Python interpreter; answers are exact.

    ## Description
    A procedurally generated math problem from 12 families — arithmetic, linear equations,
    quadratic equations, linear systems, polynomials, combinatorics, number theory,
    probability, sequences, definite integrals, geometry with exact radicals, inequalities —
    at three difficulties. Each turn the agent runs Python (numpy and sympy available) in a
    persistent sandboxed interpreter, or gives its final answer, which is checked
    symbolically (:mod:`mtenvs.envs.code.math_verify`): equivalent forms pass (``0.75`` for
    ``3/4``, ``\\frac{3}{4}``, ``\\boxed{}``, ``x = 3``, units, sets in any order), near misses
    fail. The turn loop is :class:`~mtenvs.envs.code.base.CodeInterpreterEnv`'s.

    The answer is untrusted text, so the host never runs sympy on it in its own process: the
    check runs in a checker process (:mod:`mtenvs.envs.code.math_checker`, one per env,
    started on the first answer, stopped by ``close``) limited to 5 s of wall clock per
    check and 1024 MiB of address space. An answer that cannot be checked within these
    limits is a wrong answer (`outcome` 0.0) whose observation says so, with
    `answer_verdict` `time_limit` or `memory_limit`; the next check gets a fresh checker.
    Absurd answers are refused cheaply before that, as unparseable: more than 1000
    characters, a power of a sum above 100, more than 5000 terms to multiply out
    (``(x+2)^2000*(x+3)^2000``), exponents above 2000.

    With ``dataset=PATH`` the problems come from a local copy of GSM8K or MATH instead, and
    answers are graded as those datasets' official evaluation code grades them (below).

    ## Datasets
    ``dataset`` is a local path; the format is detected from the first record's fields
    (:mod:`mtenvs.envs.code.math_datasets`):

    | Format | Layout | Gold answer |
    |---|---|---|
    | GSM8K | a JSONL file (``train.jsonl``, ``test.jsonl``), one ``{"question", "answer"}`` a line | the number after ``#### `` on the answer's last line, commas removed |
    | MATH | a folder of JSON files, one ``{"problem", "solution", "level", "type"}`` each (the official ``MATH/<split>/<type>/<n>.json``; a folder holding ``train/`` and ``test/`` reads the env's split), or a JSONL file, or a JSON file of one record or a list | the content of the solution's last ``\\boxed{…}`` (or ``\\fbox{…}``), braces balanced |

    A missing path, a record without its format's fields, or one without a gold answer
    raises :class:`~mtenvs.error.InvalidArgumentError` naming the file, the line or record,
    the field and the expected layout. ``reset(seed=s)`` plays record ``s % size`` (the next
    one without a seed); ``options={"task_id": …}`` picks one by id: ``gsm8k-test-00042``,
    ``hendrycks-math-test-00042`` (the records of a file, from 0) or
    ``hendrycks-math-test-algebra-1234`` (``algebra/1234.json`` of a folder).

    Grading (:mod:`mtenvs.envs.code.math_official`, a step-for-step port of the official
    code): the official check alone decides `outcome`, so scores compare with the papers
    that train and evaluate on these sets (ReTool, SimpleTIR, UFO); the symbolic checker is
    not used. It is string work, run on the host, on answers of at most 1000 characters.

    * **GSM8K** (openai/grade-school-math ``dataset.py``): the agent's final number is the
      text after ``#### `` if the answer has it, else the last number in the answer (``$``
      and thousands commas dropped, no exponents); it must equal the gold number exactly
      as a decimal (``18``, ``$18``, ``18.00``, ``\\boxed{18}``, ``18 dollars`` pass for 18;
      ``17.99`` and ``18/1`` do not).
    * **MATH** (hendrycks/math ``math_equivalence.py``): the agent's answer is the content of
      its last ``\\boxed{…}``, else the whole answer (one pair of ``$…$``, ``\\(…\\)`` or
      ``\\[…\\]`` removed); it must equal the gold after the official ``is_equiv``
      normalisation of both: line breaks, ``\\!``, ``\\left``/``\\right``, ``^\\circ``,
      ``\\$``, ``\\%``, spaces and the units after a ``\\text{ `` are dropped;
      ``\\dfrac``/``\\tfrac`` are ``\\frac``; ``\\frac12`` is ``\\frac{1}{2}`` and
      ``\\sqrt3`` is ``\\sqrt{3}``; ``.5`` is ``0.5``; ``0.5`` and integer ratios ``a/b`` are
      fractions; ``x = `` (a left side of up to two characters) is dropped. Nothing else is
      equal: ``0.34`` fails for ``\\frac{17}{50}``, ``32348`` for ``\\$32,\\!348``.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict). A ```` ```python ```` block (several
    run in order) or the ``python`` tool (``{"name": "python", "arguments": {"code": …}}``)
    runs code; ``<answer>…</answer>`` or the ``submit`` tool (argument ``answer``) is the
    final answer, which wins over code in the same reply. Anything else is a void turn: a
    malformed reply.

    ## Observation Space
    ``str``. First the problem and the answer format; after a code turn the cells' stdout,
    stderr, last value and error (each cut to ``max_output_chars``, saying so) and the turns
    left; after an answer ``Correct!``, ``Your answer is incorrect.`` or the feedback (an
    answer the checker gave up on always says so, naming the limits).

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 on a correct final answer, 0.0 on a wrong one (or one the checker gave up on); with `dataset`, as the official grader decides |
    | `process` | on each final answer, the increase of the best fraction of the answer's parts that are right (tuple/set elements, interval endpoints and brackets; a number or expression is one part): sums to 1.0 over a solved episode (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a void turn (no runnable code, no answer) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on a correct answer, and on a wrong one with ``feedback="none"`` or no turn
    left; ``truncated`` after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, tools and reply format (reset only) |
    | `tools` | OpenAI function schemas of `python` and `submit` (reset only) |
    | `task_id` | e.g. `math-medium-test-00012`; with `dataset` e.g. `gsm8k-test-00042` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `family` | the problem family, e.g. `quadratic`; with `dataset`: `gsm8k` or MATH's `type` (`Algebra`) |
    | `answer_kind` | `number`, `expr`, `tuple`, `set` or `interval`; with `dataset`: the grader, `gsm8k` or `math` |
    | `turn` | turns taken so far |
    | `success` | a correct answer was given |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was a void turn, else `None` |
    | `final_answer` | this step was a final answer (step only) |
    | `answer_verdict` | the checker's reason on a final answer: `correct`, `wrong`, `imprecise`, `shape`, `unparseable`, `time_limit` or `memory_limit` (with `dataset`: `correct`, `wrong` or `unparseable`: empty, too long, no number, an unclosed box) (answer steps only) |
    | `turn_type` | `code`, `answer` or `void` (step only) |
    | `code_cells` | cells run in the interpreter this episode |
    | `answers` | final answers given this episode |
    | `state_key` | hash of the task, the cells run and the answers so far |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `difficulty` | `"easy"` | `easy`, `medium` or `hard` |
    | `dataset` | `None` | path of a local GSM8K or MATH file or folder (see Datasets): its problems replace the generated ones (`difficulty` and `eval_set` stay at their defaults) |
    | `feedback` | `"none"` | after a wrong answer: `none` ends the episode; `unary` says "Let's try again."; `tests` says what was wrong (shape, imprecise decimal, unparseable, how many parts are right) without the expected value |
    | `sandbox` | `"auto"` | `auto` (Docker if usable, else local; `MTENVS_SANDBOX` overrides), `docker` or `local` |
    | `timeout_s` | `10.0` | wall-clock limit of one code cell (seconds) |
    | `max_output_chars` | `4000` | characters shown per output stream (head and tail kept) |
    | `split` | `"train"` (`"test"` with `eval_set` or `dataset`) | disjoint task sets; with `dataset` a label, except that a MATH folder holding `train/` and `test/` reads that folder |

    ## Registered ids
    * `mtenvs/PythonMath-v0`

    ## Version History
    * v0: initial release; answers are checked in a process limited in time and memory
      (an answer that made the host's sympy hang or raise is now a wrong answer, and one
      too large to expand is unparseable; no reference score changes); ``dataset=`` plays
      GSM8K and MATH, graded by their official checks (no reference score changes).
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = (
        {"difficulty": "easy", "eval_set": True},
        {"difficulty": "medium", "eval_set": True},
        {"difficulty": "hard", "eval_set": True},
    )
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        *CodeInterpreterEnv._snapshot_fields,
        "_task_cursor",
    )

    def __init__(
        self,
        *,
        difficulty: str = "easy",
        dataset: str | os.PathLike[str] | None = None,
        **kwargs: Unpack[CodeEvalSetArgs],
    ) -> None:
        check_choice("difficulty", difficulty, DIFFICULTIES)
        if dataset is not None:
            _check_dataset_args(dataset, difficulty, kwargs.get("eval_set", False))
            if kwargs.get("split") is None:
                kwargs["split"] = "test"
        super().__init__(**kwargs)
        self.difficulty = difficulty
        self.dataset = dataset
        #: The dataset's problems (empty without ``dataset``).
        self.records: tuple[MathRecord, ...] = (
            () if dataset is None else load_math_dataset(dataset, self.split)
        )
        #: Checks answers in a process limited in time and memory (started on first use).
        self._checker = MathChecker(timeout_s=CHECK_TIMEOUT_S, memory_mb=CHECK_MEMORY_MB)
        self._verdict: Verdict | None = None

    # ------------------------------------------------------------------ task

    def task_source(self) -> TaskSource[MathTask | MathRecord]:
        if self.records:
            return TaskList(self.records, f"dataset {self.dataset}")
        return seeded_tasks(
            make_task,
            parse_task_id,
            difficulty=self.difficulty,
            split=self.split,
            seeds=SEEDS_PER_SPLIT,
            eval_tasks=eval_set(self.difficulty) if self.eval_set else None,
            name="math",
        )

    def task_text(self) -> str:
        return f"{self.task.question}\nAnswer format: {_ANSWER_FORMATS[self.task.kind]}."

    def answer_format(self) -> str:
        return f"{_ANSWER_FORMATS[self._kind()]}."

    def _kind(self) -> str:
        if self._task is not None:
            return self._task.kind
        return self.records[0].kind if self.records else "number"

    def task_rules(self) -> str:
        if self.records:
            return _DATASET_RULES[self._kind()]
        return (
            "Give exact answers (fractions, radicals, pi, exp, log) unless the problem says "
            "otherwise; sets in braces, tuples and intervals in brackets."
        )

    def check_answer(self, answer: str) -> AnswerCheck:
        task = self.task
        if isinstance(task, MathRecord):
            # The official checks are string work on at most MAX_ANSWER_CHARS characters.
            verdict = task.grade(answer)
        else:
            # The answer is untrusted: sympy works on it only in the limited checker process.
            verdict = self._checker.check(answer, task.answer, task.kind)
        self._verdict = verdict
        return AnswerCheck(verdict.correct, verdict.score, verdict.message)

    def _answer(self, answer: str) -> Transition:
        self._verdict = None
        transition = super()._answer(answer)
        verdict = self._verdict
        info = {**transition.info, "answer_verdict": verdict.reason if verdict else None}
        if verdict is not None and verdict.reason in LIMIT_REASONS and self.feedback != "tests":
            # Whatever the feedback mode, say why: the answer was never judged on its merits.
            note = "" if transition.terminated else self._turns_left_note()
            transition = replace(
                transition, observation=f"Your answer is incorrect. {verdict.message}{note}"
            )
        return replace(transition, info=info)

    def close(self) -> None:
        self._checker.close()
        super().close()

    def episode_info(self) -> dict[str, Any]:
        task = self._task
        return {
            **super().episode_info(),
            "family": task.family if task is not None else "",
            "answer_kind": task.kind if task is not None else "",
        }

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Run the reference sympy computation, then answer (directly on the last turn); a
        dataset problem is answered with its gold answer at once."""
        self._require_started("oracle_action")
        task = self.task
        if isinstance(task, MathRecord):
            boxed = f"\\boxed{{{task.answer}}}" if task.format == "math" else task.answer
            return f"<answer>{boxed}</answer>"
        ran = any(cell.strip() == task.solution.strip() for cell in self._cells)
        if not ran and self.turns_left > 1:
            return f"```python\n{task.solution}\n```"
        return f"<answer>{task.answer}</answer>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {"answer": self.task.answer, "solution": self.task.solution}

    def random_action(self, rng: np.random.Generator) -> str:
        a, b = (int(v) for v in rng.integers(-20, 21, size=2))
        if rng.random() < 0.5:
            op = ["+", "-", "*"][int(rng.integers(3))]
            return f"```python\nprint({a} {op} {b})\n```"
        return f"<answer>{a}</answer>"

    def state_key_data(self) -> object:
        return (super().state_key_data(), self._task_cursor)


def _check_dataset_args(dataset: object, difficulty: str, eval_set: bool) -> None:
    """``dataset=`` brings its own problems; refuse arguments that pick generated ones."""
    if not isinstance(dataset, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"dataset must be a path (str or os.PathLike) or None, got {type(dataset).__name__}."
        )
    for name, value, default in (("difficulty", difficulty, "easy"), ("eval_set", eval_set, False)):
        if value != default:
            raise InvalidArgumentError(
                f"{name}={value!r} does not apply with dataset=PATH (a GSM8K or MATH file or "
                f"folder with its own problems); leave {name} at {default!r}."
            )
