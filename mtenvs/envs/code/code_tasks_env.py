"""``mtenvs/CodeTasks-v0``: HumanEval- and MBPP-format benchmarks from local JSONL files."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Unpack

from mtenvs.core.task_source import TaskList, TaskSource
from mtenvs.envs.code.base import CodeArgs
from mtenvs.envs.code.code_datasets import load_dataset
from mtenvs.envs.code.code_tasks import CodeTask
from mtenvs.envs.code.unit_test_env import UnitTestEnv
from mtenvs.error import InvalidArgumentError

__all__ = ["SAMPLE_DATASET", "CodeTasksEnv"]

#: The bundled HumanEval-format sample used when no ``dataset`` is given.
SAMPLE_DATASET = "assets/code/sample_humaneval.jsonl"


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> tuple[CodeTask, ...]:
    del mtime  # part of the cache key: an edited file is read again
    return load_dataset(path)


class CodeTasksEnv(UnitTestEnv):
    """Solve HumanEval- or MBPP-format tasks from a local JSONL file with an interpreter.

    ## Description
    Existing programming benchmarks, read from ``dataset`` (a local JSONL file; the format
    is detected, see :mod:`mtenvs.envs.code.code_datasets`): HumanEval (``task_id``,
    ``prompt``, ``entry_point``, ``test`` defining ``check(candidate)``, optional
    ``canonical_solution``) or MBPP (``text``, ``test_list``, optional ``test_setup_code``,
    ``code``, ``task_id``); anything else raises
    :class:`~mtenvs.error.InvalidArgumentError` naming the missing fields. Without
    ``dataset`` a small bundled HumanEval-style sample is used. Each assert is a test; the
    ones with a literal expected value are judged on the host, the rest by the verifier's
    harness on the solution's plain return values (tuples are not lists here: ``==`` as in
    the benchmark).
    Each turn the agent runs Python or submits the complete function, which runs in a
    separate, freshly reset verifier sandbox (:mod:`mtenvs.envs.code.code_verify`). The turn
    loop is :class:`~mtenvs.envs.code.base.CodeInterpreterEnv`'s.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict). A ```` ```python ```` block or the
    ``python`` tool runs code; ``<answer>…</answer>`` (the solution source, fenced or not)
    or the ``submit`` tool is the final answer. Anything else is a void turn.

    ## Observation Space
    ``str``. First the task (HumanEval: the prompt; MBPP: the text and an example call) and
    the number of hidden tests; after a code turn the cells' outputs and the turns left;
    after an answer ``Correct!``, ``Your answer is incorrect.`` or the feedback.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when every test passes, 0.0 otherwise |
    | `process` | on each final answer, the increase of the best passed-test fraction (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a void turn |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when every test passes, and on a failing answer with ``feedback="none"``
    or no turn left; ``truncated`` after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, tools and reply format (reset only) |
    | `tools` | OpenAI function schemas of `python` and `submit` (reset only) |
    | `task_id` | the record's id, e.g. `HumanEval/0` or `mbpp-11` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | the `split` argument (a dataset file is one task list) (reset only) |
    | `category` | `humaneval` or `mbpp` |
    | `tests_total` | number of tests |
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
    | `dataset` | `None` | path of a HumanEval- or MBPP-format JSONL file; `None`: the bundled sample |
    | `feedback` | `"none"` | after a failing answer: `none` ends the episode; `unary` says "Let's try again."; `tests` shows how many tests passed and the first failures |
    | `sandbox` | `"auto"` | `auto` (Docker if usable, else local; `MTENVS_SANDBOX` overrides), `docker` or `local` |
    | `timeout_s` | `10.0` | wall-clock limit of one code cell (seconds); the tests get it plus 2 s per test |
    | `max_output_chars` | `4000` | characters shown per output stream (head and tail kept) |
    | `split` | `"test"` | a label only: reset picks record `seed % size` (the next one when no seed) |

    ## Registered ids
    * `mtenvs/CodeTasks-v0`

    ## Version History
    * v0: initial release.
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({},)

    def __init__(
        self,
        *,
        dataset: str | Path | None = None,
        **kwargs: Unpack[CodeArgs],
    ) -> None:
        if kwargs.get("split") is None:
            kwargs["split"] = "test"  # a label only: a dataset file is one task list
        super().__init__(**kwargs)
        if dataset is not None and not isinstance(dataset, (str, Path)):
            raise InvalidArgumentError(
                f"dataset must be a path (str or Path) or None, got {type(dataset).__name__}."
            )
        path = (
            Path(str(resources.files("mtenvs").joinpath(SAMPLE_DATASET)))
            if dataset is None
            else Path(dataset)
        )
        mtime = path.stat().st_mtime if path.is_file() else 0.0
        self.dataset = dataset
        self._path = path
        self.tasks = _load(str(path), mtime)
        self._init_unit_tests()

    @property
    def oracle_always_succeeds(self) -> bool:  # type: ignore[override]
        """The oracle needs a reference solution in every record."""
        return all(t.solution for t in self.tasks)

    def task_source(self) -> TaskSource[CodeTask]:
        return TaskList(self.tasks, f"dataset {self._path}")

    def oracle_action(self) -> str:
        """Submit the record's reference solution (the prompt itself when it has none)."""
        self._require_started("oracle_action")
        solution = self.task.solution or self.task.prompt
        return f"<answer>\n```python\n{solution.rstrip()}\n```\n</answer>"
