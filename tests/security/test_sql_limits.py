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
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

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
OUT_OF_MEMORY = ("out of memory",)
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
