"""mtenvs: multi-turn text and multimodal environments for LLM agents, one Gymnasium API.

``import mtenvs`` registers every id (``mtenvs.list_envs()`` lists them)::

    import gymnasium as gym
    import mtenvs

    env = gym.make("mtenvs/Sokoban-v0", difficulty="medium")
    obs, info = env.reset(seed=0)
"""

from __future__ import annotations

from mtenvs import envs as _envs  # noqa: F401  (registers every id)
from mtenvs._version import __version__
from mtenvs.core.registry import env_spec, list_envs, make

__all__ = ["__version__", "env_spec", "list_envs", "make"]
