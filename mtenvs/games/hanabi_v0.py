"""Small cooperative Hanabi as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.hanabi`."""

from __future__ import annotations

from mtenvs.envs.games.hanabi import env, raw_env

__all__ = ["env", "raw_env"]
