"""mtenvs: multi-turn text and multimodal environments for LLM agents, one Gymnasium API.

``import mtenvs`` registers every id (``mtenvs.list_envs()`` lists them)::

    import gymnasium as gym
    import mtenvs

    env = gym.make("mtenvs/Sokoban-v0", difficulty="medium")
    obs, info = env.reset(seed=0)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from mtenvs import envs as _envs  # noqa: F401  (registers every id)
from mtenvs.core.registry import env_spec, list_envs, make

try:
    __version__ = version("mtenvs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__", "env_spec", "list_envs", "make"]
