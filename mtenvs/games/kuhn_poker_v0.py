"""Kuhn poker as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.kuhn_poker`."""

from __future__ import annotations

from mtenvs.envs.games.kuhn_poker import env, raw_env

__all__ = ["env", "raw_env"]
