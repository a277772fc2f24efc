"""Web envs: self-hosted sites in Chromium (Playwright), verified from server state, and the
MiniWoB++ task pages (the ``miniwob`` package's HTML) through the same browser interface,
rewarded by the page itself: ``mtenvs/MiniWob-<task>-v0``, one id per page."""

from __future__ import annotations

from mtenvs.core.registry import register_env
from mtenvs.envs.web.miniwob_tasks import MINIWOB_TASKS, REPRESENTATIVE_TASKS, env_id

register_env("mtenvs/WebShop-v0", "mtenvs.envs.web.shop:WebShopEnv")
register_env("mtenvs/WebWiki-v0", "mtenvs.envs.web.wiki:WebWikiEnv")
register_env("mtenvs/WebAdmin-v0", "mtenvs.envs.web.admin:WebAdminEnv")
register_env("mtenvs/Web-v0", "mtenvs.envs.web.all_sites:WebAllEnv")

# 130 pages, one id each: only the representatives are in the suite (register_env's suite).
for _task in MINIWOB_TASKS:
    register_env(
        env_id(_task),
        "mtenvs.envs.web.miniwob:MiniWobEnv",
        kwargs={"task": _task},
        suite=_task in REPRESENTATIVE_TASKS,
    )
