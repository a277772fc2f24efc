"""``SqlToolEnv``: what ``mtenvs/Sql-v0`` and ``mtenvs/SqlInteract-v0`` share: a fresh copy
of the episode's database, the exploration tools, ``run_sql`` with partial credit, and the
grading of a submitted statement. The two envs differ in their tasks (a request, or an
ambiguous request with a simulated user and a follow-up) and their docstrings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final, TypeVar, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import EnvSnapshot, MultiTurnEnv, Transition
from mtenvs.core.parsing import ToolCall
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_space
from mtenvs.core.task_source import HasTaskId
from mtenvs.envs.sql import prompts
from mtenvs.envs.sql.backend import Database, open_database
from mtenvs.envs.sql.data import DEFAULT_SCALE
from mtenvs.envs.sql.dataset import DatasetDatabase, SqlDataset, load_dataset
from mtenvs.envs.sql.engine import COUNT_CAP, format_table
from mtenvs.envs.sql.env_args import check_sql_env_args
from mtenvs.envs.sql.execution import (
    EXPLORE_TOOLS,
    QueryRunner,
    check_dataset_read,
    check_write,
    in_dialect,
)
from mtenvs.envs.sql.limits import SQLITE_HEAP
from mtenvs.envs.sql.official import OFFICIAL_TIMEOUT_S
from mtenvs.envs.sql.schemas import Schema, get_schema
from mtenvs.envs.sql.sqlite_worker import SqliteWorker
from mtenvs.envs.sql.tasks import SqlTask
from mtenvs.envs.sql.tools import TOOL_SCHEMAS, parse_reply, random_reply
from mtenvs.envs.sql.verify import GoldResult, overlap_score
from mtenvs.error import InvalidArgumentError

__all__ = ["SqlArgs", "SqlToolEnv"]

_TOOLS: Final = ("list_tables", "describe", "sample", "run_sql", "submit")
#: Rows a gold query or a submission may return with ``dataset=`` (Spider/BIRD gold
#: results can exceed the observation cap).
_DATASET_COUNT_CAP: Final = 1_000_000


class SqlArgs(EvalSetArgs, total=False):
    """Arguments that ``Sql-v0`` and ``SqlInteract-v0`` share beyond the common ones."""

    dialect: str
    scale: int
    query_timeout_s: float
    max_result_rows: int
    postgres_backend: str


#: What a reset hands the env: a request (``Sql-v0``) or an interactive task.
EpisodeT = TypeVar("EpisodeT", bound=HasTaskId)


class SqlToolEnv(MultiTurnEnv[str, tuple[ToolCall, ...], EpisodeT]):
    """Base of ``Sql-v0`` and ``SqlInteract-v0`` (see the module doc); not registered. A
    subclass gives its tasks and starts an episode with :meth:`start_episode`."""

    default_max_turns: ClassVar[int] = 10
    tools: ClassVar[tuple[str, ...]] = _TOOLS
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = tuple(TOOL_SCHEMAS[n] for n in _TOOLS)
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_request",
        "_gold_rows",
        "_best",
        "_queries",
        "_writes",
        "_task_cursor",
        "_db_image",
        "_weight",
    )

    def __init__(
        self,
        *,
        schema: str | None = None,
        scale: int = DEFAULT_SCALE,
        dialect: str = "sqlite",
        query_timeout_s: float = 2.0,
        submit_timeout_s: float | None = None,
        max_result_rows: int = 20,
        dataset: str | os.PathLike[str] | None = None,
        question_file: str | None = None,
        postgres_backend: str = "auto",
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_sql_env_args(
            schema=schema,
            scale=scale,
            eval_set=kwargs.get("eval_set", False),
            dialect=dialect,
            query_timeout_s=query_timeout_s,
            submit_timeout_s=submit_timeout_s,
            max_result_rows=max_result_rows,
            dataset=dataset,
            question_file=question_file,
            postgres_backend=postgres_backend,
        )
        if dataset is not None and kwargs.get("split") is None:
            kwargs["split"] = "test"
        super().__init__(**kwargs)
        self.observation_space = text_space()
        self.schema = schema
        self.scale = scale
        self.dialect = dialect
        self.postgres_backend = postgres_backend
        self.query_timeout_s = float(query_timeout_s)
        self.max_result_rows = max_result_rows
        self._request: SqlTask | None = None
        self._db: Database | None = None
        #: The process running this env's SQLite statements (started on first use).
        self._worker = SqliteWorker()
        self._gold_rows: tuple[tuple[Any, ...], ...] = ()
        self._gold_prepared: GoldResult | None = None
        self._best = 0.0
        self._queries = 0
        self._writes: list[str] = []
        self._db_image: bytes | None = None
        self.dataset: SqlDataset | None = None
        self._count_cap = COUNT_CAP
        if dataset is not None:
            self.dataset = load_dataset(dataset, self.split, question_file)
            self._count_cap = _DATASET_COUNT_CAP
        self.submit_timeout_s = float(
            submit_timeout_s
            if submit_timeout_s is not None
            else OFFICIAL_TIMEOUT_S[self.dataset.format]
            if self.dataset is not None
            else query_timeout_s
        )
        #: Share of the episode's outcome (and process) the current request is worth.
        self._weight = 1.0

    # ------------------------------------------------------------------ episode

    def start_episode(self, request: SqlTask, weight: float) -> None:
        """Open a fresh copy of ``request``'s database and make it the current request,
        worth ``weight`` of the outcome."""
        self._request = request
        self._open_database()
        self._queries = 0
        self._writes = []
        self._start_request(request, weight)

    def _start_request(self, task: SqlTask, weight: float) -> None:
        """Make ``task`` the current request, worth ``weight`` of the episode's outcome."""
        self._request = task
        self._weight = weight
        self._best = 0.0
        self._gold_rows = ()
        if task.kind == "read":
            sql = in_dialect(task.gold_sql, self.dialect)
            gold = self.database.execute(
                sql, allow_writes=False, timeout_s=60.0, count_cap=self._count_cap
            )
            if not gold.ok:
                # Never the gold SQL itself: exception texts end up in logs and transcripts.
                raise InvalidArgumentError(
                    f"The gold SQL of task {task.task_id} fails on database "
                    f"{task.schema!r}: {gold.error}"
                )
            self._gold_rows = gold.rows

    def task_schema(self) -> Schema:
        """The schema of the current request's database."""
        if self.dataset is not None:
            return self.dataset.schemas[self.request.schema]
        return get_schema(self.request.schema)

    def first_observation(self) -> str:
        return prompts.first_observation(self.task_schema(), self.request, self.max_turns)

    def _open_database(self) -> None:
        old = self._db
        with SQLITE_HEAP.exempt():  # a copy may be larger than a statement's heap limit
            if self.dataset is not None:
                schema = self.request.schema
                path, tables = self.dataset.databases[schema], self.dataset.schemas[schema]
                self._db = DatasetDatabase(path, tables, self._worker)
            else:
                self._db = self._new_database()
        if old is not None:  # closed after: the server stays held across episodes
            old.close()

    def _new_database(self) -> Database:
        task = self.request
        return open_database(
            self.dialect, task.schema, self.scale, task.db_seed, self.postgres_backend, self._worker
        )

    @property
    def database(self) -> Database:
        """The episode's database (a fresh copy per episode)."""
        if self._db is None:
            self._require_started("database")
            self._open_database()
        assert self._db is not None
        return self._db

    def _runner(self, timeout_s: float | None = None) -> QueryRunner:
        """The episode's database under the env's limits (``timeout_s``: a statement's
        time limit, ``query_timeout_s`` by default)."""
        limit = self.query_timeout_s if timeout_s is None else timeout_s
        return QueryRunner(self.database, self.dialect, limit)

    @property
    def request(self) -> SqlTask:
        """The request being worked on: the task itself in ``Sql-v0``; in
        ``SqlInteract-v0`` its main request, then its follow-up."""
        if self._request is None:
            self._require_started("request")
        assert self._request is not None
        return self._request

    def episode_info(self) -> dict[str, Any]:
        task = self._request
        return {
            "schema": task.schema if task else "",
            "task_kind": task.kind if task else "",
            "sql_queries": self._queries,
        }

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Any) -> tuple[ToolCall, ...]:
        return parse_reply(reply, self.tools)

    def apply_action(self, action: tuple[ToolCall, ...]) -> Transition:
        outputs: list[str] = []
        components: dict[str, float] = {}
        names = [call.name for call in action]
        for call in action:
            if call.name == "submit":
                transition = self._submit(str(call.arguments["sql"]))
                transition.observation = "\n\n".join([*outputs, transition.observation])
                transition.components = {**components, **transition.components}
                transition.info["tools_called"] = names
                return transition
            text, gain = self.run_tool(call)
            outputs.append(f"[{call.name}] {text}" if len(action) > 1 else text)
            if gain:
                components[PROCESS] = components.get(PROCESS, 0.0) + gain
        left = self.max_turns - self.turn
        outputs.append(f"({left} turn{'s' if left != 1 else ''} left.)")
        return Transition("\n\n".join(outputs), components, info={"tools_called": names})

    def run_tool(self, call: ToolCall) -> tuple[str, float]:
        """Run one non-submit tool: (observation text, process gain)."""
        schema = self.task_schema()
        if call.name in EXPLORE_TOOLS:
            return self._runner().explore(schema, call, self.max_result_rows), 0.0
        if call.name == "run_sql":
            return self._run_sql(str(call.arguments["query"]))
        return self.run_extra_tool(call), 0.0

    def run_extra_tool(self, call: ToolCall) -> str:
        """Tools of subclasses (``ask_user``); the base env has none."""
        raise NotImplementedError(call.name)

    def _run_sql(self, query: str) -> tuple[str, float]:
        self._queries += 1
        writes = self.request.kind == "write"
        result = self._runner().guarded(query, writes=writes)
        if result.ok and result.changes:
            self._writes.append(query)
        gain = 0.0
        if result.ok and result.columns and not writes and not result.capped:
            gain = self._credit(overlap_score(self._gold(), result.rows))
        return format_table(result, self.max_result_rows), gain

    def _gold(self) -> GoldResult:
        """The gold rows prepared for comparison (once per request, or after a restore)."""
        prepared = self._gold_prepared
        if prepared is None or prepared.source is not self._gold_rows:
            prepared = self._gold_prepared = GoldResult(self._gold_rows)
        return prepared

    def _credit(self, score: float) -> float:
        gain = max(0.0, score - self._best)
        self._best = max(self._best, score)
        return gain * self._weight

    def _submit(self, sql: str) -> Transition:
        task = self.request
        if task.kind == "write":
            correct, score, error = check_write(
                task,
                sql,
                scale=self.scale,
                dialect=self.dialect,
                postgres_backend=self.postgres_backend,
                timeout_s=self.submit_timeout_s,
                worker=self._worker,
            )
        elif self.dataset is not None:
            runner, gold = self._runner(self.submit_timeout_s), self._gold_rows
            args = (runner, self.dataset, task, sql, gold, self._count_cap, self._worker)
            correct, score, error = check_dataset_read(*args)
        else:
            runner = self._runner(self.submit_timeout_s)
            correct, score, error = runner.check_read(
                sql, self._gold(), task.gold_sql, self._count_cap
            )
        gain = (1.0 - self._best) * self._weight if correct else self._credit(score)
        if correct:
            self._best = 1.0
        text = "Correct!" if correct else "Incorrect." + (f" Error: {error}" if error else "")
        components = {OUTCOME: self._weight if correct else 0.0}
        if gain:
            components[PROCESS] = gain
        return Transition(text, components, terminated=True, success=correct, final_answer=True)

    # ------------------------------------------------------------------ prompts

    def system_prompt(self) -> str:
        rule = self.dataset.format if self.dataset is not None else None
        return prompts.system_prompt(
            self.dialect, self.query_timeout_s, self.submit_timeout_s, rule
        )

    def action_format(self) -> str:
        return prompts.ACTION_FORMAT

    def render_text(self) -> str:
        return f"{self.first_observation()}\n\n--- last observation ---\n{self._last_observation}"

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Describe the first table of the gold query, then submit the gold SQL."""
        self._require_started("oracle_action")
        if self.turn == 0 and self.turns_left > 1:
            tables = self.task_schema().table_names
            table = next((t for t in tables if t in self.request.gold_sql), tables[0])
            return (
                f'<tool_call>{{"name": "describe", "arguments": {{"table": "{table}"}}}}'
                "</tool_call>"
            )
        return f"<answer>{self.request.gold_sql}</answer>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {
            "gold_sql": self.request.gold_sql,
            "template": self.request.template,
            "gold_row_count": len(self._gold_rows),
        }

    def random_action(self, rng: np.random.Generator) -> str:
        if self._request is None:
            return random_reply(rng, get_schema("shop"))
        return random_reply(rng, self.task_schema())

    # ------------------------------------------------------------------ state

    def state_key_data(self) -> object:
        return (tuple(self._writes), round(self._best, 9), self._task_cursor)

    def snapshot(self) -> EnvSnapshot:
        """The episode state, the database's content included (SQLite: its serialised
        image; PostgreSQL: a copy made with ``CREATE DATABASE … TEMPLATE``)."""
        self._db_image = self.database.snapshot()
        try:
            return super().snapshot()
        finally:
            self._db_image = None

    def restore(self, snapshot: EnvSnapshot) -> None:
        super().restore(snapshot)
        image, self._db_image = self._db_image, None
        self._open_database()
        if image is not None:
            with SQLITE_HEAP.exempt():
                self.database.restore(image)

    def __getstate__(self) -> dict[str, Any]:
        # A live connection cannot be pickled; the copy reopens the same content.
        state = self.__dict__.copy()
        state["_db_image"] = self._db.snapshot() if self._db is not None else None
        state["_db"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        image = state.pop("_db_image", None)
        self.__dict__.update(state)
        self._db_image = None
        if image is not None and self._request is not None:
            self._open_database()
            with SQLITE_HEAP.exempt():
                self.database.restore(image)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._worker.close()
        super().close()
