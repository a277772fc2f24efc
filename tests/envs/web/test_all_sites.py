"""Web-v0: tasks of the three sites in one env, each on its own server."""

from __future__ import annotations

import pytest

from mtenvs.envs.web import admin_tasks, shop_tasks, wiki_tasks
from mtenvs.envs.web.all_sites import WebAllEnv
from tests.envs.web._support import require_browser

pytestmark = pytest.mark.xdist_group("web-all-sites")


def test_task_indices_interleave_the_three_sites():
    env = WebAllEnv()
    assert env.make_task("train", 0) == shop_tasks.make_task("train", 0)
    assert env.make_task("train", 1) == wiki_tasks.make_task("train", 0)
    assert env.make_task("train", 2) == admin_tasks.make_task("train", 0)
    assert env.make_task("test", 3 * 7 + 2) == admin_tasks.make_task("test", 7)
    assert env.task_by_id("webadmin-test-00004") == admin_tasks.make_task("test", 4)
    ids = env.eval_task_ids()
    assert len(ids) == 120
    assert ids[:3] == [
        shop_tasks.eval_set()[0],
        wiki_tasks.eval_set()[0],
        admin_tasks.eval_set()[0],
    ]
    assert ids[2::3] == admin_tasks.eval_set()


def test_switches_sites_by_task_and_keeps_them_apart():
    require_browser()
    env = WebAllEnv()
    try:
        ids = env.eval_task_ids()
        obs, info = env.reset(options={"task_id": ids[1]})
        assert "URL: http://wiki.local/" in obs and "a wiki" in info["system_prompt"]
        obs, *_, info = env.step("<action>goto(/category/People)</action>")
        assert info["url"] == "http://wiki.local/category/People" and "Category: People" in obs
        obs, *_, info = env.step("<action>goto(http://shop.local/cart)</action>")
        assert info["parse_error"] and "http://wiki.local" in info["parse_error"]
        obs, info = env.reset(options={"task_id": ids[0]})
        assert "URL: http://shop.local/" in obs
        obs, *_ = env.step("<action>goto(/cart)</action>")
        assert "Your cart is empty" in obs
        obs, info = env.reset(options={"task_id": ids[2]})
        assert "URL: http://admin.local/login" in obs and "admin" in info["system_prompt"]
        obs, *_, info = env.step("<action>goto(/users)</action>")
        assert info["url"].startswith("http://admin.local/login?next=") and "Sign in" in obs
        for task_id in ids[:6]:
            env.reset(options={"task_id": task_id})
            while True:
                _, _, terminated, truncated, info = env.step(env.oracle_action())
                if terminated or truncated:
                    break
            assert info["success"], task_id
    finally:
        env.close()
