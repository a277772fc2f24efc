"""An agent's SQL cannot blow up the host process running SQLite (issue 16, finding 2).

SQLite runs inside the host, so every byte a statement builds is host memory: ``SELECT
zeroblob(9000000), … ×300 FROM (SELECT 1)`` reached 7.8 GB and an 82 s step despite the 2 s
limit; 100 columns took 2.6 GB, an unbounded result 2.1 GB before the cancel; a few hundred
bytes of nested subqueries that SQLite flattens into an exponential expression took GBs
while being prepared. Each attack here is an agent reply played through the public API in a
fresh process (its peak RSS is then the episode's alone; an address-space cap keeps a
regression from taking the machine down). The step must answer in seconds with an
observation naming the limit, the host's peak RSS must stay within the documented
per-episode budget, and the episode, the next step and a reset must go on working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql.limits import EPISODE_MEMORY_BYTES, SQLITE_HEAP

pytestmark = pytest.mark.xdist_group("security")

#: Seconds one attack step may take: the 2 s query limit, with room for a busy machine.
STEP_LIMIT_S = 10.0
#: The child's address space (a regression fails the RSS check instead of eating the host).
ADDRESS_SPACE_BYTES = 4 << 30
READ_TASKS = {"mtenvs/Sql-v0": "sql-test-00000", "mtenvs/SqlInteract-v0": "sqli-test-00000"}
WRITE_TASK = "sql-test-00006"  # shop: cancel the pending orders placed before 2021

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time

    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)
    spec = json.loads(sys.argv[2])
    import gymnasium as gym
    import mtenvs  # noqa: F401

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    env = gym.make(spec["env_id"], eval_set=True)
    env.reset(options={"task_id": spec["task_id"]})
    env.step("```sql\\nSELECT 1\\n```")  # the statement cache and the limits are set up
    out = {}
    before, start = peak(), time.monotonic()
    try:
        obs, _, terminated, _, info = env.step(spec["reply"])
        out.update(obs=obs, terminated=terminated, parse_error=info["parse_error"])
    except BaseException as e:
        out["exception"] = repr(e)[:500]
    out["seconds"], out["grew"] = time.monotonic() - start, peak() - before
    try:
        if not out.get("terminated", True):
            tool = '<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>'
            out["next"] = env.step(tool)[0]
        env.reset(options={"task_id": spec["task_id"]})
        out["after_reset"] = env.step("```sql\\nSELECT 41 + 1 AS answer\\n```")[0]
    except BaseException as e:
        out["later_exception"] = repr(e)[:500]
    print(json.dumps(out))
    """
)


@dataclass(frozen=True)
class Attack:
    reply: str
    #: Words the observation must hold (any of them), lower case.
    says: tuple[str, ...]
    #: Needs SQLite's heap limit (a prepared expression or constants beyond every other bound).
    heap: bool = False


def _sql(query: str) -> str:
    return f"Let me check.\n```sql\n{query}\n```"


def _many(item: str, n: int, sep: str = ", ") -> str:
    return sep.join([item] * n)


TOO_BIG = ("too big", "too large")
#: A statement that fills SQLite's heap while being prepared fails, or on a busy machine is
#: stopped at the time limit first (the worker running it is killed).
OUT_OF_MEMORY = ("out of memory", "time limit")
BOMB_CTES = "WITH a0(x) AS (SELECT id FROM customers)" + "".join(
    f", a{i}(x) AS (SELECT x+x+x+x FROM a{i - 1})" for i in range(1, 13)
)
READ_ATTACKS = {
    # From the issue, word for word.
    "issue_300_zeroblobs": Attack(
        _sql(f"SELECT {_many('zeroblob(9000000)', 300)} FROM (SELECT 1)"),
        ("too many columns", *TOO_BIG),
    ),
    "issue_100_zeroblobs": Attack(
        _sql(f"SELECT {_many('zeroblob(9000000)', 100)} FROM (SELECT 1)"), TOO_BIG
    ),
    "issue_unbounded_result": Attack(
        _sql(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
            "SELECT zeroblob(1000000) FROM r"
        ),
        TOO_BIG,
    ),
    # The same within the value limit: the result's bytes are what is bounded.
    "unbounded_result_of_allowed_values": Attack(
        _sql(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
            "SELECT zeroblob(250000), n FROM r"
        ),
        ("result too large",),
    ),
    # As many 120 KB strings as a row may have columns; one emoji makes Python hold each
    # at 4 bytes a character (480 KB).
    "widest_row_of_wide_strings": Attack(
        _sql(
            "WITH b(x) AS (SELECT char(128512) || hex(zeroblob(60000))) "
            f"SELECT {_many('x', 128)} FROM b, (SELECT 1 UNION ALL SELECT 2)"
        ),
        ("result too large",),
    ),
    "too_many_columns": Attack(
        _sql(f"WITH b(x) AS (SELECT zeroblob(250000)) SELECT {_many('x', 300)} FROM b"),
        ("at most 128 columns",),
    ),
    # Flattened into 4^12 copies of `id` while being prepared, before any row or check.
    "expression_bomb_nested_ctes": Attack(
        _sql(f"{BOMB_CTES} SELECT x FROM a12"), OUT_OF_MEMORY, heap=True
    ),
    "expression_bomb_one_subquery": Attack(
        _sql(
            f"SELECT {_many(_many('x', 100, '+'), 40)} "
            f"FROM (SELECT {_many('id', 900, '+')} AS x FROM customers)"
        ),
        OUT_OF_MEMORY,
        heap=True,
    ),
    # 500 distinct 260 KB constants, each computed once and kept for the whole statement.
    "retained_constants": Attack(
        _sql(
            "SELECT "
            + " + ".join(f"instr(name, hex(zeroblob({130000 + i})))" for i in range(500))
            + " FROM customers LIMIT 1"
        ),
        OUT_OF_MEMORY,
        heap=True,
    ),
    # SQLite's trim(X, Y) compares each character with every one of Y: 100 s in one call.
    "quadratic_trim": Attack(
        _sql(
            "WITH a(x) AS (SELECT hex(zeroblob(120000))) SELECT length(trim(x, "
            "replace(hex(zeroblob(120000)), '0', 'b') || '0')) AS left_over FROM a"
        ),
        ("left_over",),
    ),
    "sort_of_large_values": Attack(
        _sql("SELECT randomblob(250000) FROM order_items a, order_items b ORDER BY 1"),
        ("time limit",),
    ),
    "heavy_row_within_the_limits": Attack(
        _sql(f"SELECT {_many('length(randomblob(250000))', 400, ' + ')} AS total"),
        ("total",),
    ),
}
INTERACT_ATTACKS = (
    "issue_300_zeroblobs",
    "unbounded_result_of_allowed_values",
    "expression_bomb_one_subquery",
)
FLOOD = "UPDATE orders SET status = hex(zeroblob(130000))"  # 300 rows of 260 KB: 78 MB
WRITE_ATTACKS = {
    "flood_the_database": Attack(_sql(FLOOD), ("database is full",)),
    # 39 MB of names fit the growth limit; reading them back does not fit one result.
    "flood_then_read_it_back": Attack(
        _sql("UPDATE customers SET name = hex(zeroblob(130000))")
        + _sql("SELECT * FROM customers")
        + _sql("SELECT name, name FROM customers"),
        ("result too large",),
    ),
    # The checker applies the submission to a fresh copy and reads every table.
    "submit_a_flood": Attack(f"<answer>{FLOOD}</answer>", ("database is full",)),
    "submit_the_largest_allowed_change": Attack(
        "<answer>UPDATE customers SET name = hex(zeroblob(130000))</answer>", ("incorrect",)
    ),
}


def _play(env_id: str, task_id: str, attack: Attack) -> dict[str, object]:
    if attack.heap and not SQLITE_HEAP.enforced:
        pytest.skip("this Python's SQLite cannot be bounded by its heap limit")
    spec = json.dumps({"env_id": env_id, "task_id": task_id, "reply": attack.reply})
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ADDRESS_SPACE_BYTES), spec],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _check(name: str, out: dict[str, object], attack: Attack) -> None:
    assert "exception" not in out, f"{name}: step raised {out['exception']}"
    obs = str(out["obs"])
    assert out["parse_error"] is None, obs
    assert any(word in obs.lower() for word in attack.says), f"{name}: {obs[:600]}"
    seconds, grew = float(str(out["seconds"])), int(str(out["grew"]))
    assert seconds < STEP_LIMIT_S, f"{name}: the step took {seconds:.1f} s"
    assert grew < EPISODE_MEMORY_BYTES, f"{name}: peak RSS grew by {grew >> 20} MiB"
    assert "later_exception" not in out, f"{name}: {out['later_exception']}"
    if not out["terminated"]:
        assert "Tables:" in str(out["next"]), out["next"]
    assert "| 42 |" in str(out["after_reset"]), out["after_reset"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(READ_ATTACKS))
def test_read_attack_is_an_observation_within_the_limits(name):
    attack = READ_ATTACKS[name]
    _check(name, _play("mtenvs/Sql-v0", READ_TASKS["mtenvs/Sql-v0"], attack), attack)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", INTERACT_ATTACKS)
def test_interact_env_is_bounded_alike(name):
    env_id = "mtenvs/SqlInteract-v0"
    attack = READ_ATTACKS[name]
    _check(name, _play(env_id, READ_TASKS[env_id], attack), attack)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(WRITE_ATTACKS))
def test_write_attack_is_an_observation_within_the_limits(name):
    attack = WRITE_ATTACKS[name]
    _check(name, _play("mtenvs/Sql-v0", WRITE_TASK, attack), attack)


# ---------------------------------------------------------------------- time inside one row

#: One LIKE of a 900-character pattern over a 256 KiB string: ~0.8 s, one function call of
#: one row, where SQLite never consults its progress handler. ``x`` keeps each call from
#: being computed once as a constant.
_SLOW_LIKE = "((printf('%.*c', 262000, 'a') || x) LIKE ('%' || printf('%.*c', 900, 'a') || 'b{i}'))"
_SLOW_BASE = "(SELECT id AS x FROM customers WHERE id = 1)"
ROW_TIME_ATTACKS = {
    # 40 calls in one row's expression: ~30 s of straight-line work.
    "straight_line_likes": _sql(
        "SELECT " + " + ".join(_SLOW_LIKE.format(i=i) for i in range(40)) + f" FROM {_SLOW_BASE}"
    ),
    # A few bytes that subquery flattening copies 2^7 times into one row's expression.
    "flattening_amplified_likes": _sql(
        f"WITH a0(x) AS (SELECT {_SLOW_LIKE.format(i=0)} FROM {_SLOW_BASE})"
        + "".join(f", a{i}(x) AS (SELECT x + x FROM a{i - 1})" for i in range(1, 8))
        + " SELECT x FROM a7"
    ),
}
ROW_TIMEOUT_S = 1.0
#: What a stopped statement may take beyond its limit (the kill, a new worker's start).
ROW_MARGIN_S = 3.0


def _lookup_loop(env, stop, seen):
    while not stop.is_set():
        start = time.monotonic()
        obs = env.step("```sql\nSELECT 41 + 1 AS answer\n```")[0]
        seen.append((time.monotonic() - start, "| 42 |" in obs))
        if len(seen) % 5 == 0:
            env.reset(options={"task_id": READ_TASKS["mtenvs/Sql-v0"]})


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(ROW_TIME_ATTACKS))
@pytest.mark.parametrize("env_id", ["mtenvs/Sql-v0", "mtenvs/SqlInteract-v0"])
def test_one_row_past_the_time_limit_is_stopped(env_id, name):
    """A statement whose single row takes far longer than the limit is stopped at it; the
    episode and a concurrent env in the same process go on."""
    env = gym.make(env_id, eval_set=True, query_timeout_s=ROW_TIMEOUT_S, max_turns=50)
    other = gym.make("mtenvs/Sql-v0", eval_set=True, query_timeout_s=ROW_TIMEOUT_S, max_turns=50)
    try:
        env.reset(options={"task_id": READ_TASKS[env_id]})
        other.reset(options={"task_id": READ_TASKS["mtenvs/Sql-v0"]})
        env.step("```sql\nSELECT 1\n```")
        stop, seen = threading.Event(), []
        worker = threading.Thread(target=_lookup_loop, args=(other, stop, seen))
        worker.start()
        try:
            start = time.monotonic()
            obs, _, terminated, _, info = env.step(ROW_TIME_ATTACKS[name])
            seconds = time.monotonic() - start
        finally:
            stop.set()
            worker.join(timeout=60)
        assert seconds < ROW_TIMEOUT_S + ROW_MARGIN_S, f"the step took {seconds:.1f} s"
        assert info["parse_error"] is None and not terminated, obs
        assert "stopped" in obs and "time limit" in obs, obs
        assert seen and all(ok for _, ok in seen), seen
        assert max(t for t, _ in seen) < 1.0, seen  # never waited for the attacked env
        tool = '<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>'
        assert "Tables:" in env.step(tool)[0]
        env.reset(options={"task_id": READ_TASKS[env_id]})
        assert "| 42 |" in env.step("```sql\nSELECT 41 + 1 AS answer\n```")[0]
    finally:
        env.close()
        other.close()


@pytest.mark.timeout(300)
def test_a_write_stopped_inside_a_row_is_rolled_back():
    """A write killed at the time limit leaves the database as it was before it; earlier
    writes stay; a submission stopped alike is a wrong answer, not a hang."""
    env = gym.make("mtenvs/Sql-v0", eval_set=True, query_timeout_s=ROW_TIMEOUT_S, max_turns=50)
    try:
        env.reset(options={"task_id": WRITE_TASK})
        count = "```sql\nSELECT count(*) AS n FROM customers WHERE name = 'kept'\n```"
        env.step("```sql\nUPDATE customers SET name = 'kept' WHERE id = 1\n```")
        slow = " + ".join(_SLOW_LIKE.format(i=i) for i in range(40))
        start = time.monotonic()
        obs = env.step(
            f"```sql\nUPDATE customers SET name = 'kept' WHERE id = 2 AND "
            f"(SELECT {slow} FROM {_SLOW_BASE}) >= 0\n```"
        )[0]
        assert time.monotonic() - start < ROW_TIMEOUT_S + ROW_MARGIN_S
        assert "stopped" in obs and "rolled back" in obs, obs
        assert "| 1 |" in env.step(count)[0]
        start = time.monotonic()
        obs, _, terminated, _, info = env.step(
            f"<answer>UPDATE customers SET name = 'x' WHERE (SELECT {slow} FROM {_SLOW_BASE}) "
            ">= 0</answer>"
        )
        assert time.monotonic() - start < ROW_TIMEOUT_S + ROW_MARGIN_S
        assert "time limit" in obs and terminated and not info["success"], obs
    finally:
        env.close()


def test_no_worker_outlives_its_env():
    env = gym.make("mtenvs/Sql-v0", eval_set=True)
    env.reset(options={"task_id": READ_TASKS["mtenvs/Sql-v0"]})
    env.step("```sql\nSELECT 1\n```")
    worker = env.unwrapped._worker
    pid, folder = worker.pid, worker._dir
    assert pid is not None and os.path.isdir(folder)
    env.close()
    assert not _alive(pid) and not os.path.exists(folder)
    # the owner killed outright: the worker sees its stdin close and leaves
    code = textwrap.dedent(
        """
        import gymnasium as gym, mtenvs, os, sys, time
        env = gym.make("mtenvs/Sql-v0", eval_set=True)
        env.reset(options={"task_id": sys.argv[1]})
        env.step("```sql\\nSELECT 1\\n```")
        w = env.unwrapped._worker
        print(w.pid, w._dir, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, READ_TASKS["mtenvs/Sql-v0"]], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    pid_text, folder = proc.stdout.readline().split()
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while (_alive(int(pid_text)) or os.path.exists(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pid_text)) and not os.path.exists(folder)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
