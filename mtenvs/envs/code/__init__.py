"""Code-interpreter envs: a persistent Python sandbox, answers verified exactly."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/PythonMath-v0", "mtenvs.envs.code.math_env:PythonMathEnv")
register_env("mtenvs/PythonCode-v0", "mtenvs.envs.code.code_env:PythonCodeEnv")
register_env("mtenvs/CodeTasks-v0", "mtenvs.envs.code.code_tasks_env:CodeTasksEnv")
