"""Leduc Hold'em as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.leduc_holdem`."""

from __future__ import annotations

from mtenvs.envs.games.leduc_holdem import env, raw_env

__all__ = ["env", "raw_env"]
