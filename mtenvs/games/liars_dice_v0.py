"""Liar's Dice as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.liars_dice`."""

from __future__ import annotations

from mtenvs.envs.games.liars_dice import env, raw_env

__all__ = ["env", "raw_env"]
