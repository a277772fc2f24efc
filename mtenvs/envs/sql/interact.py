"""``mtenvs/SqlInteract-v0``: ambiguous SQL requests, a simulated user, and a follow-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Unpack

import numpy as np

from mtenvs.core.env import Transition
from mtenvs.core.parsing import ToolCall
from mtenvs.core.task_source import TaskSource
from mtenvs.envs.sql.interact_tasks import InteractTask
from mtenvs.envs.sql.task_choice import interact_task_source
from mtenvs.envs.sql.tool_env import SqlArgs, SqlToolEnv
from mtenvs.envs.sql.tools import TOOL_SCHEMAS
from mtenvs.envs.sql.user_sim import answer_question
from mtenvs.error import check_int_range

__all__ = ["MAIN_WEIGHT", "SqlInteractEnv"]

#: Shares of the outcome for the main request and the follow-up (BIRD-INTERACT's 0.7/0.3).
MAIN_WEIGHT: Final = 0.7
_QUESTIONS: Final = (
    "What do you mean exactly?",
    "Which period should I use?",
    "What threshold counts?",
    "Can you give me the SQL?",
    "Hello?",
)


class SqlInteractEnv(SqlToolEnv[InteractTask]):
    """Resolve an ambiguous SQL request by asking a simulated user, then a follow-up.

    ## Description
    BIRD-INTERACT's a-Interact setting on the databases of `mtenvs/Sql-v0`. The request is
    ambiguous on purpose ("the big recent orders", "busy doctors", "struggling students"):
    its hidden clarifications (what "recent" or "busy" means, which term) are known only to
    a rule-based user (:mod:`mtenvs.envs.sql.user_sim`). `ask_user(question)` gets the
    clarification a question targets (it mentions the ambiguous word or a related one),
    otherwise a polite non-answer; asking for the SQL gets a refusal. Once the main request
    is solved a follow-up arrives that builds on the clarified meaning (some follow-ups
    change data); the episode ends after the follow-up's submission or a wrong one.
    Queries, tools and checking are `Sql-v0`'s.

    ## Action Space
    As `mtenvs/Sql-v0`, plus the tool `ask_user(question)`: `list_tables`, `describe`,
    `sample`, `run_sql`, `ask_user`, `submit`, as OpenAI tool calls,
    ``<tool_call>{…}</tool_call>`` blocks, ```` ```sql ```` blocks or
    ``<answer>SQL</answer>``. A malformed reply gets the format penalty.

    ## Observation Space
    ``str``: the database and the request; tool outputs; the user's answers; after the
    first correct submission ``Correct!`` and the follow-up request.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 0.7 for solving the main request, 0.3 for the follow-up (1.0 in all) |
    | `process` | increase of the best partial credit of the current request (as in `Sql-v0`), weighted 0.7 / 0.3; sums to 1.0 over a solved episode (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a reply with no valid tool call |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on a wrong submission or the follow-up's submission; ``truncated``
    after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, tools and reply formats (reset only) |
    | `tools` | OpenAI function schemas of the tools (reset only) |
    | `task_id` | e.g. `sqli-test-00004` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `schema` | the database, e.g. `shop` |
    | `task_kind` | `read` or `write`: the current request's kind |
    | `sql_queries` | `run_sql` calls executed this episode |
    | `phase` | `main` or `follow_up` |
    | `asked_user` | whether the agent has called `ask_user` this episode |
    | `user_questions` | `ask_user` calls this episode |
    | `clarifications_revealed` | hidden clarifications the user has given so far |
    | `clarifications_total` | hidden clarifications of the task |
    | `turn` | turns taken so far |
    | `success` | both requests were solved |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step submitted and the episode ended on it (step only) |
    | `tools_called` | names of the tools this reply called (step only) |
    | `state_key` | hash of the task, phase, revealed facts, writes and partial credit |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `ask_budget` | `3` | `ask_user` calls the user answers; later ones get "I have to go" |
    | `dialect` | `"sqlite"` | `sqlite` or `postgres`, as in `Sql-v0` |
    | `postgres_backend` | `"auto"` | `auto`, `docker` or `local`: where PostgreSQL runs, as in `Sql-v0` |
    | `scale` | `1000` | rows in the database, about (200 to 1,000,000) |
    | `query_timeout_s` | `2.0` | time limit of one statement (seconds) |
    | `max_result_rows` | `20` | result rows shown in an observation |

    ## Registered ids
    * `mtenvs/SqlInteract-v0`

    ## Version History
    * v0: initial release (SQLite and PostgreSQL).
    """

    default_max_turns: ClassVar[int] = 12
    tools: ClassVar[tuple[str, ...]] = (
        "list_tables",
        "describe",
        "sample",
        "run_sql",
        "ask_user",
        "submit",
    )
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = tuple(TOOL_SCHEMAS[n] for n in tools)
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        *SqlToolEnv._snapshot_fields,
        "_phase",
        "_revealed",
        "_asks",
    )

    def __init__(
        self,
        *,
        ask_budget: int = 3,
        **kwargs: Unpack[SqlArgs],
    ) -> None:
        super().__init__(**kwargs)
        self.ask_budget = check_int_range("ask_budget", ask_budget, 0, 100)
        self._phase = 0
        self._revealed: tuple[str, ...] = ()
        self._asks = 0

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[InteractTask]:
        return interact_task_source(split=self.split, scale=self.scale, use_eval_set=self.eval_set)

    def new_episode(self, task: InteractTask) -> str:
        self.start_episode(task.requests[0], MAIN_WEIGHT)
        self._phase = 0
        self._revealed = ()
        self._asks = 0
        return (
            self.first_observation() + "\nThe request may be ambiguous: ask_user(question)"
            " asks the user for clarification."
        )

    def episode_info(self) -> dict[str, Any]:
        total = len(self._task.clarifications) if self._task is not None else 0
        return {
            **super().episode_info(),
            "phase": "follow_up" if self._phase else "main",
            "asked_user": self._asks > 0,
            "user_questions": self._asks,
            "clarifications_revealed": len(self._revealed),
            "clarifications_total": total,
        }

    # ------------------------------------------------------------------ actions

    def run_extra_tool(self, call: ToolCall) -> str:
        question = str(call.arguments["question"])
        reply = answer_question(question, self.task.clarifications, self.ask_budget - self._asks)
        self._asks += 1
        self._revealed = tuple(sorted({*self._revealed, *reply.revealed}))
        return f"User: {reply.text}"

    def _submit(self, sql: str) -> Transition:
        transition = super()._submit(sql)
        if transition.success and self._phase == 0:
            self._phase = 1
            follow = self.task.requests[1]
            self._start_request(follow, 1.0 - MAIN_WEIGHT)
            left = self.max_turns - self.turn
            return Transition(
                f"Correct!\n\nFollow-up: {follow.question}\n({left} turns left.)",
                transition.components,
                info=transition.info,
            )
        return transition

    # ------------------------------------------------------------------ prompts

    def system_prompt(self) -> str:
        return (
            super().system_prompt().replace("submit(sql)", "ask_user(question), submit(sql)")
            + "\nThe request may be ambiguous: ask the user (ask_user) what unclear words "
            f"mean; the user answers up to {self.ask_budget} questions. After the request "
            "is solved a follow-up request arrives; a wrong submission ends the episode."
        )

    def render_text(self) -> str:
        return f"{self.request.question}\n\n--- last observation ---\n{self._last_observation}"

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Ask about each hidden ambiguity (while turns allow), then submit the gold SQL."""
        self._require_started("oracle_action")
        missing = [c.facet for c in self.task.clarifications if c.facet not in self._revealed]
        needed = len(missing) + (2 if self._phase == 0 else 1)
        if (
            missing
            and self._phase == 0
            and self._asks < self.ask_budget
            and self.turns_left >= needed
        ):
            return (
                '<tool_call>{"name": "ask_user", "arguments": {"question": '
                f"\"What exactly do you mean by '{missing[0]}'?\"}}}}</tool_call>"
            )
        return f"<answer>{self.request.gold_sql}</answer>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {
            **super().privileged(),
            "clarifications": [c.answer for c in self.task.clarifications],
            "follow_up_sql": self.task.requests[1].gold_sql,
        }

    def random_action(self, rng: np.random.Generator) -> str:
        if rng.random() < 0.2:
            question = _QUESTIONS[int(rng.integers(len(_QUESTIONS)))]
            return (
                f'<tool_call>{{"name": "ask_user", "arguments": {{"question": "{question}"}}}}'
                "</tool_call>"
            )
        return super().random_action(rng)

    def state_key_data(self) -> object:
        return (super().state_key_data(), self._phase, self._revealed, self._asks)
