"""Item-pool negotiation as a PettingZoo AEC env; see :mod:`mtenvs.envs.games.negotiation`."""

from __future__ import annotations

from mtenvs.envs.games.negotiation import env, raw_env

__all__ = ["env", "raw_env"]
