"""SQL envs: text-to-SQL on real databases, verified by execution."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/Sql-v0", "mtenvs.envs.sql.env:SqlEnv")
register_env("mtenvs/SqlInteract-v0", "mtenvs.envs.sql.interact:SqlInteractEnv")
