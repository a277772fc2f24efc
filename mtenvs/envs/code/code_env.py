"""``mtenvs/PythonCode-v0``: programming tasks with a Python interpreter and hidden unit
tests."""

from __future__ import annotations

from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.code.base import CodeEvalSetArgs
from mtenvs.envs.code.code_tasks import (
    CATEGORIES,
    CodeTask,
    authored_problems,
    find_task,
)
from mtenvs.envs.code.code_tasks import eval_set as load_eval_set
from mtenvs.envs.code.code_variants import SEEDS_PER_SPLIT, TEMPLATES, make_variant
from mtenvs.envs.code.unit_test_env import UnitTestEnv
from mtenvs.error import InvalidArgumentError, check_choice, check_flag

__all__ = ["PythonCodeEnv"]


class PythonCodeEnv(UnitTestEnv):
    """Write a Python function that passes hidden unit tests, with an interpreter to try code.

    ## Description
    A programming task: 100 authored problems (strings, arrays, hashing, sorting, dp,
    graphs, parsing, simulation; easy, medium, hard), each with a reference solution and at
    least 5 hidden input/expected tests including edge cases, plus procedurally varied
    instances of 8 templates whose constants come from the seed. Each turn the agent runs
    Python in a persistent sandboxed interpreter or submits the complete function. The
    submission runs in a separate, freshly reset verifier sandbox, in a process of its own
    that answers the harness's calls with plain values; the host compares them with the
    expected ones, which never enter a sandbox (:mod:`mtenvs.envs.code.code_verify`), so
    exiting early, printing "PASSED", patching builtins or overriding ``__eq__`` gain
    nothing. The turn loop is :class:`~mtenvs.envs.code.base.CodeInterpreterEnv`'s.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict). A ```` ```python ```` block (several
    run in order) or the ``python`` tool runs code; ``<answer>…</answer>`` (the solution
    source, fenced or not) or the ``submit`` tool (argument ``answer``) is the final answer,
    which wins over code in the same reply. Anything else is a void turn: a malformed reply.

    ## Observation Space
    ``str``. First the function signature and description and the number of hidden tests;
    after a code turn the cells' stdout, stderr, last value and error (cut to
    ``max_output_chars``, saying so) and the turns left; after an answer ``Correct!``,
    ``Your answer is incorrect.`` or the feedback.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when every hidden test passes, 0.0 otherwise |
    | `process` | on each final answer, the increase of the best passed-test fraction: sums to 1.0 over a solved episode (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a void turn (no runnable code, no answer) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when every test passes, and on a failing answer with ``feedback="none"``
    or no turn left; ``truncated`` after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, tools and reply format (reset only) |
    | `tools` | OpenAI function schemas of `python` and `submit` (reset only) |
    | `task_id` | e.g. `code-two_sum` or `code-var-nth_term-test-00003` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `category` | the problem category, e.g. `graphs` |
    | `tests_total` | number of hidden tests |
    | `tests_passed` | tests the last answer passed |
    | `turn` | turns taken so far |
    | `success` | every test passed |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was a void turn, else `None` |
    | `final_answer` | this step was a final answer (step only) |
    | `turn_type` | `code`, `answer` or `void` (step only) |
    | `code_cells` | cells run in the interpreter this episode |
    | `answers` | final answers given this episode |
    | `state_key` | hash of the task, the cells run and the answers so far |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `category` | `"all"` | `all` or one of `strings`, `arrays`, `hashing`, `sorting`, `dp`, `graphs`, `parsing`, `simulation` |
    | `variants` | `True` | half of the tasks are procedural variants (`False`: authored problems only) |
    | `feedback` | `"none"` | after a failing answer: `none` ends the episode; `unary` says "Let's try again."; `tests` shows how many tests passed and the first failures (call, expected, got) |
    | `sandbox` | `"auto"` | `auto` (Docker if usable, else local; `MTENVS_SANDBOX` overrides), `docker` or `local` |
    | `timeout_s` | `10.0` | wall-clock limit of one code cell (seconds); the tests get it plus 2 s per test |
    | `max_output_chars` | `4000` | characters shown per output stream (head and tail kept) |

    ## Registered ids
    * `mtenvs/PythonCode-v0`

    ## Version History
    * v0: initial release.
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"eval_set": True},)

    def __init__(
        self,
        *,
        category: str = "all",
        variants: bool = True,
        **kwargs: Unpack[CodeEvalSetArgs],
    ) -> None:
        check_choice("category", category, ("all", *CATEGORIES))
        check_flag("variants", variants)
        super().__init__(**kwargs)
        self.category = category
        self.variants = variants
        self._init_unit_tests()
        self._authored = tuple(
            t
            for t in authored_problems()
            if t.split == self.split and category in ("all", t.category)
        )
        self._templates = tuple(
            sorted(
                name
                for name in TEMPLATES
                if category == "all" or make_variant(name, "train", 0).category == category
            )
        )
        self._eval = tuple(
            t
            for t in load_eval_set()
            if category in ("all", t.category) and (variants or t.source != "variant")
        )

    def task_source(self) -> TaskSource[CodeTask]:
        if self.eval_set:
            return TaskList(self._eval, "the PythonCode eval set", lookup=self._task_by_id)
        return GeneratedTasks(self._draw, self._task_by_id)

    def _task_by_id(self, task_id: object) -> CodeTask:
        task = find_task(task_id)
        if task.split != self.split:
            raise InvalidArgumentError(
                f"Task {task_id!r} is a {task.split} task; make the env with split={task.split!r}."
            )
        return task

    def _draw(self, rng: np.random.Generator) -> CodeTask:
        use_variant = (
            self.variants and bool(self._templates) and (not self._authored or rng.random() < 0.5)
        )
        if use_variant:
            name = self._templates[int(rng.integers(len(self._templates)))]
            return make_variant(name, self.split, int(rng.integers(SEEDS_PER_SPLIT)))
        return self._authored[int(rng.integers(len(self._authored)))]
