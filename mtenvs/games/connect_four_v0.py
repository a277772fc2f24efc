"""Connect Four as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.connect_four`."""

from __future__ import annotations

from mtenvs.envs.games.connect_four import env, raw_env

__all__ = ["env", "raw_env"]
