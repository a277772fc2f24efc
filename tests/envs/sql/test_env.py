from __future__ import annotations

import json
import pickle

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401
from mtenvs.envs.sql.data import database_checksum, source_database
from mtenvs.envs.sql.schemas import get_schema
from mtenvs.envs.sql.tasks import eval_set
from mtenvs.error import InvalidArgumentError


def _env(**kwargs):
    return gym.make("mtenvs/Sql-v0", **kwargs)


def _task_id(template: str) -> str:
    return next(t.task_id for t in eval_set() if t.template == template)


def test_reset_info_has_tools_and_the_request():
    env = _env()
    obs, info = env.reset(seed=0)
    names = [tool["function"]["name"] for tool in info["tools"]]
    assert names == ["list_tables", "describe", "sample", "run_sql", "submit"]
    assert "Tables:" in obs and info["schema"] in obs


def test_all_reply_forms_and_submit():
    env = _env(eval_set=True, reward_mode="process")
    _, info = env.reset(options={"task_id": _task_id("shop_top_products")})
    gold = env.unwrapped.privileged()["gold_sql"]
    obs, reward, *_ = env.step({"name": "describe", "arguments": {"table": "products"}})
    assert "category TEXT" in obs and reward == 0
    call = {
        "type": "function",
        "function": {"name": "sample", "arguments": json.dumps({"table": "products", "n": 2})},
    }
    obs, *_ = env.step({"role": "assistant", "content": None, "tool_calls": [call]})
    assert "(2 rows)" in obs
    obs, reward, *_ = env.step(f"Let me check.\n```sql\n{gold}\n```")
    assert reward == pytest.approx(1.0)  # process: the exact result
    obs, reward, terminated, _, info = env.step(
        f"<tool_call>{json.dumps({'name': 'submit', 'arguments': {'sql': gold}})}</tool_call>"
    )
    assert terminated and info["success"] and obs == "Correct!"
    assert info["reward_components"] == {"outcome": 1.0}


def test_order_matters_only_when_the_gold_orders():
    env = _env(eval_set=True)
    env.reset(options={"task_id": _task_id("shop_top_products")})
    gold = env.unwrapped.privileged()["gold_sql"]
    reversed_sql = f"SELECT * FROM ({gold}) ORDER BY price ASC"
    *_, info = env.step(f"<answer>{reversed_sql}</answer>")
    assert not info["success"]
    env.reset(options={"task_id": _task_id("hospital_uninsured")})
    gold = env.unwrapped.privileged()["gold_sql"]
    *_, info = env.step(f"<answer>{gold} ORDER BY name DESC</answer>")
    assert info["success"]


def test_partial_credit_on_a_wrong_submission():
    env = _env(eval_set=True, reward_mode="process")
    env.reset(options={"task_id": _task_id("hospital_uninsured")})
    gold = env.unwrapped.privileged()["gold_sql"]
    _, _, terminated, _, info = env.step(f"<answer>{gold} LIMIT 1</answer>")
    assert terminated and not info["success"]
    assert 0 < info["reward_components"]["process"] < 1


def test_write_task_checked_on_resulting_state():
    env = _env(eval_set=True)
    env.reset(options={"task_id": _task_id("shop_cancel_old_pending")})
    task = env.unwrapped.task
    schema = get_schema("shop")
    source = source_database("shop", 1000, task.db_seed)
    before = database_checksum(source, schema)
    # Trying the change with run_sql is allowed in a write task...
    obs, *_ = env.step("```sql\nUPDATE orders SET status = 'cancelled'\n```")
    assert "row(s) changed" in obs
    # ...but the submission is applied to a fresh copy, so the right one still passes.
    *_, info = env.step(f"<answer>{task.gold_sql}</answer>")
    assert info["success"]
    assert database_checksum(source, schema) == before
    env.reset(options={"task_id": _task_id("shop_cancel_old_pending")})
    *_, info = env.step("<answer>UPDATE orders SET status = 'cancelled'</answer>")
    assert not info["success"]


def test_read_task_refuses_writes_and_the_episode_goes_on():
    env = _env(eval_set=True)
    env.reset(options={"task_id": _task_id("hospital_uninsured")})
    for sql in (
        "DELETE FROM patients",
        "DROP TABLE patients",
        "ATTACH '/etc/passwd' AS p",
        "PRAGMA foreign_keys = OFF",
        "SELEC 1",
    ):
        obs, reward, terminated, _, info = env.step(f"```sql\n{sql}\n```")
        assert obs.startswith("Error:") and reward == 0 and not terminated
        assert info["parse_error"] is None
    count = env.unwrapped.database.execute(
        "SELECT COUNT(*) FROM patients", allow_writes=False, timeout_s=1.0
    )
    assert count.rows[0][0] > 0


def test_malformed_replies_get_a_format_penalty():
    env = _env()
    env.reset(seed=0)
    for reply in (
        "hello",
        {"name": "drop_db", "arguments": {}},
        {"name": "sample", "arguments": {"table": "x", "n": 0}},
        "<tool_call>not json</tool_call>",
        12,
    ):
        obs, reward, terminated, _, info = env.step(reply)
        assert reward == -0.1 and not terminated and info["parse_error"]
        assert "Expected format" in obs


def test_snapshot_restore_keeps_written_data():
    env = _env(eval_set=True)
    env.reset(options={"task_id": _task_id("shop_cancel_old_pending")})
    env.step("```sql\nDELETE FROM order_items\n```")
    snap = env.unwrapped.snapshot()
    env.step("```sql\nDELETE FROM orders\n```")
    env.unwrapped.restore(snap)
    count = "```sql\nSELECT (SELECT COUNT(*) FROM order_items), (SELECT COUNT(*) FROM orders)\n```"
    obs, *_ = env.step(count)
    assert "| 0 | 300 |" in obs
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    assert clone.step(count)[0] == env.unwrapped.step(count)[0]


def test_bad_arguments_are_explained():
    with pytest.raises(InvalidArgumentError, match="shop"):
        _env(schema="shoop")
    with pytest.raises(InvalidArgumentError, match="dialect"):
        _env(dialect="oracle")
    with pytest.raises(InvalidArgumentError, match="scale"):
        _env(eval_set=True, scale=5000)


def test_schema_and_scale_arguments():
    env = _env(schema="library", scale=5000)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert info["schema"] == "library" and info["task_id"].endswith("-library")
    obs, *_ = env.step('<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>')
    assert "loans: 2750 rows" in obs
