"""Web envs: self-hosted sites in Chromium (Playwright), verified from server state."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/WebShop-v0", "mtenvs.envs.web.shop:WebShopEnv")
register_env("mtenvs/WebWiki-v0", "mtenvs.envs.web.wiki:WebWikiEnv")
register_env("mtenvs/WebAdmin-v0", "mtenvs.envs.web.admin:WebAdminEnv")
register_env("mtenvs/Web-v0", "mtenvs.envs.web.all_sites:WebAllEnv")
