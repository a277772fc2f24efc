"""PettingZoo-style import path of the mtenvs games::

    from mtenvs.games import tictactoe_v0

    env = tictactoe_v0.env()
    env.reset(seed=0)
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        env.step(None if terminated or truncated else "<action>4</action>")

Each module re-exports ``env()`` / ``raw_env()`` from :mod:`mtenvs.envs.games`. Their names
are the ``import_path`` of the rows of :data:`mtenvs.envs.games.table.GAMES`; a test checks
the modules and ``__all__`` against the table.
"""

from __future__ import annotations

__all__ = [
    "connect_four_v0",
    "hanabi_v0",
    "kuhn_poker_v0",
    "leduc_holdem_v0",
    "liars_dice_v0",
    "negotiation_v0",
    "tictactoe_v0",
]
