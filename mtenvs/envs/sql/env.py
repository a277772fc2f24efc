"""``mtenvs/Sql-v0``: answer questions and make changes on a real SQLite database with SQL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np

from mtenvs.core.env import EnvSnapshot, Transition
from mtenvs.core.listed import ListedTasks, listed_task
from mtenvs.core.parsing import ToolCall
from mtenvs.core.rewards import DEFAULT_FORMAT_PENALTY, OUTCOME, PROCESS, RewardMode
from mtenvs.core.spaces import text_space
from mtenvs.envs.sql import prompts
from mtenvs.envs.sql.backend import Database, open_database
from mtenvs.envs.sql.data import DEFAULT_SCALE
from mtenvs.envs.sql.dataset import DatasetDatabase, SqlDataset, load_dataset
from mtenvs.envs.sql.engine import COUNT_CAP, format_table
from mtenvs.envs.sql.env_args import DIALECTS, check_sql_env_args
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
from mtenvs.envs.sql.task_choice import pick_sql_task
from mtenvs.envs.sql.tasks import SqlTask, eval_set
from mtenvs.envs.sql.tools import TOOL_SCHEMAS, parse_reply, random_reply
from mtenvs.envs.sql.verify import GoldResult, overlap_score
from mtenvs.error import InvalidArgumentError

__all__ = ["DIALECTS", "SqlEnv"]

_TOOLS: Final = ("list_tables", "describe", "sample", "run_sql", "submit")
#: Rows a gold query or a submission may return with ``dataset=`` (Spider/BIRD gold
#: results can exceed the observation cap).
_DATASET_COUNT_CAP: Final = 1_000_000


class SqlEnv(ListedTasks[str, tuple[ToolCall, ...]]):
    """Explore a real SQLite or PostgreSQL database with tools, then submit one SQL statement.

    ## Description
    Text-to-SQL as a multi-turn task (BIRD-INTERACT style). Each episode gets a fresh
    copy (SQLite: in memory; PostgreSQL: a database of its own) of one of six seeded
    domain databases (shop, hospital, flights, school,
    library, finance; :mod:`mtenvs.envs.sql.schemas`) and a request from one of 34
    templates (:mod:`mtenvs.envs.sql.templates`): filters, joins, aggregates with HAVING,
    ordering and limits, nested subqueries, window functions, dates, NULL handling, set
    operations — and write tasks (INSERT, UPDATE, DELETE). The agent lists tables,
    describes and samples them, runs queries, and submits one statement, checked by
    execution: a read task passes when its rows equal the gold query's (as a multiset; in
    order only when the gold query orders; numbers to 2 decimals); a write task's statement
    is applied to a fresh copy of the original database and passes when every table ends
    up as the gold statement leaves it. Queries run under a time limit, a row cap and an
    authorizer (SQLite) or an unprivileged role in read-only transactions (PostgreSQL):
    read-only for read tasks; never ATTACH, PRAGMA, DDL or file access. SQLite statements
    run in a worker process of the env, killed at the time limit even inside one row
    (the database is then as before the statement), and are bounded in memory: a value
    (or stored row) 256 KiB, 128 result columns, a result 32 MiB, SQLite's memory
    128 MiB, the database's growth 64 MiB; an episode stays within 512 MiB whatever it
    sends (docs/sql.md, Limits). A refused, failed or over-limit query is an observation
    naming the limit, and the episode goes on.

    With ``dataset=PATH`` the questions and databases come from a local Spider or BIRD
    download instead (:mod:`mtenvs.envs.sql.dataset`): each episode is one question on a
    fresh in-memory copy of its SQLite database, with the same tools (a BIRD question's
    ``evidence`` is appended to the request); the submission is judged as the dataset's
    official evaluation judges it (:mod:`mtenvs.envs.sql.official`; Spider: rows as a
    multiset, in order when the gold SQL contains ORDER BY, columns in any order, DISTINCT
    ignored, exact values, on every test-suite database present; BIRD: rows as a set,
    exact values), under the official time limit (docs/sql.md compares the rules).

    ## Action Space
    The raw model reply (``str``, or a tool-call dict / message). Tools (OpenAI schemas in
    the reset info): `list_tables`, `describe(table)`, `sample(table, n)`, `run_sql(query)`,
    `submit(sql)`. In text: ``<tool_call>{"name": …, "arguments": {…}}</tool_call>``, a
    ```` ```sql ```` block (runs it, like `run_sql`) or ``<answer>SQL</answer>`` (submits).
    Up to 5 calls per reply run in order; a submit ends the episode. Anything else is a
    malformed reply.

    ## Observation Space
    ``str``. First the database, its tables and the request; then each call's output:
    result tables as Markdown (the first `max_result_rows` rows and the total count),
    errors (syntax errors with line and column), and after a submit ``Correct!`` or
    ``Incorrect.``.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when the submitted statement is correct, else 0.0 |
    | `process` | increase of the best partial credit so far: for read tasks the mean of row and column F1 of each `run_sql` result and the submission against the gold result; for write tasks the F1 of the rows the submission adds and removes; sums to 1.0 over a solved episode (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a reply with no valid tool call |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on a submit (right or wrong); ``truncated`` after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, tools and reply formats (reset only) |
    | `tools` | OpenAI function schemas of the tools (reset only) |
    | `task_id` | e.g. `sql-test-00042` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `schema` | the database, e.g. `shop` |
    | `task_kind` | `read` (answer with a query) or `write` (change the data) |
    | `sql_queries` | `run_sql` calls executed this episode |
    | `turn` | turns taken so far |
    | `success` | the submission was correct |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step submitted (step only) |
    | `tools_called` | names of the tools this reply called (step only) |
    | `state_key` | hash of the task, the writes made and the best partial credit |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `schema` | `None` | restrict tasks to one database (`shop`, `hospital`, `flights`, `school`, `library`, `finance`); `None` uses all |
    | `scale` | `1000` | rows in the database, about (200 to 1,000,000; built once per process) |
    | `eval_set` | `False` | reset picks from the fixed eval set (`seed % 102`, or the next one when no seed) |
    | `dialect` | `"sqlite"` | `sqlite` (embedded) or `postgres` (a private server, see `postgres_backend`; one database per episode via `CREATE DATABASE … TEMPLATE`; gold SQL transpiled with sqlglot) |
    | `postgres_backend` | `"auto"` | where the PostgreSQL server runs: `docker` (a container of `mtenvs/postgres:<version>`: no network, read-only root, removed on close and reaped if this process dies), `local` (Debian's `postgresql` started with `pg_ctl` on a private socket), `auto` (`MTENVS_POSTGRES_HOST` when set, else `docker` when the engine and image are there, else `local`) |
    | `query_timeout_s` | `2.0` | time limit of one statement (seconds) |
    | `submit_timeout_s` | `None` | time limit of the submitted statement (seconds); `None`: `query_timeout_s`, or with `dataset` the official limit (Spider 60, BIRD 30) |
    | `max_result_rows` | `20` | result rows shown in an observation |
    | `obs_mode` | `"text"` | only `text` |
    | `max_turns` | `10` | turn budget |
    | `reward_mode` | `"outcome"` | `outcome` or `process` (adds the `process` component) |
    | `split` | `"train"` (`"test"` with `eval_set` or `dataset`) | disjoint task sets (databases and phrasings); with `dataset`, `test` reads `dev.json` and `train` reads `train_spider.json` or `train.json` |
    | `render_mode` | `None` | `ansi`: the request and the last observation |
    | `turn_cost` | `0.0` | subtracted every turn |
    | `format_penalty` | `0.1` | subtracted for a malformed reply |
    | `dataset` | `None` | path of a local Spider or BIRD directory (`tables.json`, question JSON, `database/<db_id>/<db_id>.sqlite` or BIRD's `dev_databases/`, `train_databases/`): its questions replace the built-in tasks (SQLite only; task ids `spider-test-00042`, `bird-train-00007`) |
    | `question_file` | `None` | with `dataset`: the question file to read (e.g. `train_others.json`) instead of the split's default |

    ## Registered ids
    * `mtenvs/Sql-v0`

    ## Version History
    * v0: initial release (SQLite and PostgreSQL). With `dataset`, submissions are judged
      by the official Spider (test-suite) and BIRD rules and time limits (were the env's
      own: multiset rows, numbers to 2 decimals, columns in order); no reference score
      changes.
    """

    default_max_turns: ClassVar[int] = 10
    tools: ClassVar[tuple[str, ...]] = _TOOLS
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"eval_set": True},)
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_task",
        "_gold_rows",
        "_best",
        "_queries",
        "_writes",
        "_eval_cursor",
        "_db_image",
        "_weight",
    )

    def __init__(
        self,
        *,
        schema: str | None = None,
        scale: int = DEFAULT_SCALE,
        eval_set: bool = False,
        dialect: str = "sqlite",
        query_timeout_s: float = 2.0,
        submit_timeout_s: float | None = None,
        max_result_rows: int = 20,
        obs_mode: str = "text",
        max_turns: int | None = None,
        reward_mode: RewardMode | str = RewardMode.OUTCOME,
        split: str | None = None,
        render_mode: str | None = None,
        turn_cost: float = 0.0,
        format_penalty: float = DEFAULT_FORMAT_PENALTY,
        dataset: str | os.PathLike[str] | None = None,
        question_file: str | None = None,
        postgres_backend: str = "auto",
    ) -> None:
        split = check_sql_env_args(
            schema=schema,
            scale=scale,
            eval_set=eval_set,
            dialect=dialect,
            split=split,
            query_timeout_s=query_timeout_s,
            submit_timeout_s=submit_timeout_s,
            max_result_rows=max_result_rows,
            dataset=dataset,
            question_file=question_file,
            postgres_backend=postgres_backend,
        )
        super().__init__(
            max_turns=max_turns,
            reward_mode=reward_mode,
            split=split,  # type: ignore[arg-type]
            obs_mode=obs_mode,  # type: ignore[arg-type]
            render_mode=render_mode,  # type: ignore[arg-type]
            turn_cost=turn_cost,
            format_penalty=format_penalty,
        )
        self.observation_space = text_space()
        self.schema = schema
        self.scale = scale
        self.eval_set = eval_set
        self.dialect = dialect
        self.postgres_backend = postgres_backend
        self.query_timeout_s = float(query_timeout_s)
        self.max_result_rows = max_result_rows
        self._eval_cursor = 0
        self._task: SqlTask | None = None
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

    # ------------------------------------------------------------------ task and episode

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        info["tools"] = [TOOL_SCHEMAS[name] for name in self.tools]
        return obs, info

    def new_episode(self, options: Mapping[str, Any]) -> str:
        task_id = options.get("task_id")
        if self.eval_set and self.dataset is None:
            # the eval set maps a reset seed straight to an index (ListedTasks)
            tasks = [t for t in eval_set() if self.schema in (None, t.schema)]
            self._task = (
                self.next_listed(tasks)
                if task_id is None
                else listed_task(tasks, task_id, "SQL eval set")
            )
        else:
            self._task = pick_sql_task(
                task_id,
                split=self.split,
                schema=self.schema,
                scale=self.scale,
                dataset=self.dataset,
                rng=self.np_random,
            )
        self._open_database()
        self._queries = 0
        self._writes = []
        self._start_request(self._task, 1.0)
        return self.first_observation()

    def _start_request(self, task: SqlTask, weight: float) -> None:
        """Make ``task`` the current request, worth ``weight`` of the episode's outcome."""
        self._task = task
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
        """The schema of the current task's database."""
        if self.dataset is not None:
            return self.dataset.schemas[self.task.schema]
        return get_schema(self.task.schema)

    def first_observation(self) -> str:
        return prompts.first_observation(self.task_schema(), self.task, self.max_turns)

    def _open_database(self) -> None:
        old = self._db
        with SQLITE_HEAP.exempt():  # a copy may be larger than a statement's heap limit
            if self.dataset is not None:
                schema = self.task.schema
                path, tables = self.dataset.databases[schema], self.dataset.schemas[schema]
                self._db = DatasetDatabase(path, tables, self._worker)
            else:
                self._db = self._new_database()
        if old is not None:  # closed after: the server stays held across episodes
            old.close()

    def _new_database(self) -> Database:
        task = self.task
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
    def task(self) -> SqlTask:
        if self._task is None:
            self._require_started("task")
        assert self._task is not None
        return self._task

    @property
    def task_id(self) -> str:
        return self._task.task_id if self._task is not None else ""

    def episode_info(self) -> dict[str, Any]:
        task = self._task
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
        writes = self.task.kind == "write"
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
        task = self.task
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
            table = next((t for t in tables if t in self.task.gold_sql), tables[0])
            return (
                f'<tool_call>{{"name": "describe", "arguments": {{"table": "{table}"}}}}'
                "</tool_call>"
            )
        return f"<answer>{self.task.gold_sql}</answer>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {
            "gold_sql": self.task.gold_sql,
            "template": self.task.template,
            "gold_row_count": len(self._gold_rows),
        }

    def random_action(self, rng: np.random.Generator) -> str:
        if self._task is None:
            return random_reply(rng, get_schema("shop"))
        return random_reply(rng, self.task_schema())

    # ------------------------------------------------------------------ state

    def state_key_data(self) -> object:
        return (tuple(self._writes), round(self._best, 9), self._eval_cursor)

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
        if image is not None and self._task is not None:
            self._open_database()
            with SQLITE_HEAP.exempt():
                self.database.restore(image)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._worker.close()
        super().close()
