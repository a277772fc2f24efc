"""Tic-Tac-Toe as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.tictactoe`."""

from __future__ import annotations

from mtenvs.envs.games.tictactoe import env, raw_env

__all__ = ["env", "raw_env"]
