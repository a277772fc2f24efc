"""Code-interpreter envs: a persistent Python sandbox, answers verified exactly."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/PythonMath-v0", "mtenvs.envs.code.math_env:PythonMathEnv")
