"""Two-player text games (PettingZoo AEC envs) and their single-agent Gymnasium ids.

Every game is a row of :data:`mtenvs.envs.games.table.GAMES`, which spells its names; its
Gymnasium id is registered here from that row. The AEC envs live at the PettingZoo-style
import path ``mtenvs.games.<name>_v0``.
"""

from __future__ import annotations

from mtenvs.core.registry import register_env
from mtenvs.envs.games.table import GAMES


def _register() -> None:
    for game in GAMES.values():
        register_env(game.env_id, game.entry_point)


_register()
