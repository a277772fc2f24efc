"""``mtenvs/Sql-v0``: answer questions and make changes on a real SQLite database with SQL."""

from __future__ import annotations

from typing import Any, ClassVar

from mtenvs.core.task_source import TaskSource
from mtenvs.envs.sql.env_args import DIALECTS
from mtenvs.envs.sql.task_choice import sql_task_source
from mtenvs.envs.sql.tasks import SqlTask
from mtenvs.envs.sql.tool_env import SqlToolEnv

__all__ = ["DIALECTS", "SqlEnv"]


class SqlEnv(SqlToolEnv[SqlTask]):
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
    | `dialect` | `"sqlite"` | `sqlite` (embedded) or `postgres` (a private server, see `postgres_backend`; one database per episode via `CREATE DATABASE … TEMPLATE`; gold SQL transpiled with sqlglot) |
    | `postgres_backend` | `"auto"` | where the PostgreSQL server runs: `docker` (a container of `mtenvs/postgres:<version>`: no network, read-only root, removed on close and reaped if this process dies), `local` (Debian's `postgresql` started with `pg_ctl` on a private socket), `auto` (`MTENVS_POSTGRES_HOST` when set, else `docker` when the engine and image are there, else `local`) |
    | `query_timeout_s` | `2.0` | time limit of one statement (seconds) |
    | `submit_timeout_s` | `None` | time limit of the submitted statement (seconds); `None`: `query_timeout_s`, or with `dataset` the official limit (Spider 60, BIRD 30) |
    | `max_result_rows` | `20` | result rows shown in an observation |
    | `split` | `"train"` (`"test"` with `eval_set` or `dataset`) | disjoint task sets (databases and phrasings); with `dataset`, `test` reads `dev.json` and `train` reads `train_spider.json` or `train.json` |
    | `dataset` | `None` | path of a local Spider or BIRD directory (`tables.json`, question JSON, `database/<db_id>/<db_id>.sqlite` or BIRD's `dev_databases/`, `train_databases/`): its questions replace the built-in tasks (SQLite only; reset plays question `seed % size`, or the next one when no seed; task ids `spider-test-00042`, `bird-train-00007`) |
    | `question_file` | `None` | with `dataset`: the question file to read (e.g. `train_others.json`) instead of the split's default |

    ## Registered ids
    * `mtenvs/Sql-v0`

    ## Version History
    * v0: initial release (SQLite and PostgreSQL). With `dataset`, submissions are judged
      by the official Spider (test-suite) and BIRD rules and time limits (were the env's
      own: multiset rows, numbers to 2 decimals, columns in order); no reference score
      changes. With `dataset`, `reset(seed=s)` plays question `s` modulo the file's size
      and a reset without a seed the next question (were drawn at random).
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"eval_set": True},)

    def task_source(self) -> TaskSource[SqlTask]:
        return sql_task_source(
            split=self.split,
            schema=self.schema,
            scale=self.scale,
            dataset=self.dataset,
            use_eval_set=self.eval_set,
        )

    def new_episode(self, task: SqlTask) -> str:
        self.start_episode(task, 1.0)
        return self.first_observation()
