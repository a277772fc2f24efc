"""Web-v0: tasks of both sites in one env, each on its own server."""

from __future__ import annotations

import pytest

from mtenvs.envs.web.all_sites import WebAllEnv
from tests.envs.web._support import require_browser

pytestmark = pytest.mark.xdist_group("chromium")


def test_switches_sites_by_task_and_keeps_them_apart():
    require_browser()
    env = WebAllEnv()
    try:
        ids = env.eval_task_ids()
        assert len(ids) == 80 and ids[0].startswith("webshop-") and ids[1].startswith("webwiki-")
        obs, info = env.reset(options={"task_id": ids[1]})
        assert "URL: http://wiki.local/" in obs and "a wiki" in info["system_prompt"]
        obs, *_, info = env.step("<action>goto(/category/People)</action>")
        assert info["url"] == "http://wiki.local/category/People" and "Category: People" in obs
        obs, *_, info = env.step("<action>goto(http://shop.local/cart)</action>")
        assert info["parse_error"] and "http://wiki.local" in info["parse_error"]
        obs, info = env.reset(options={"task_id": ids[0]})
        assert "URL: http://shop.local/" in obs
        obs, *_, info = env.step("<action>goto(/cart)</action>")
        assert "Your cart is empty" in obs
        for task_id in ids[:4]:
            env.reset(options={"task_id": task_id})
            while True:
                _, _, terminated, truncated, info = env.step(env.oracle_action())
                if terminated or truncated:
                    break
            assert info["success"], task_id
    finally:
        env.close()
