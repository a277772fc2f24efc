"""The table of the two-player text games: one row per game, and every spelling of a game
derives from its row.

| Spelling | Derived as | Tic-Tac-Toe | Connect Four |
|---|---|---|---|
| self-play name, table key | ``name`` | ``tictactoe`` | ``connect_four`` |
| game module | ``module`` | ``mtenvs.envs.games.tictactoe`` | ``….connect_four`` |
| PettingZoo name (``metadata["name"]``) | ``pettingzoo_name`` | ``tictactoe_v0`` | ``connect_four_v0`` |
| PettingZoo import path | ``import_path`` | ``mtenvs.games.tictactoe_v0`` | ``mtenvs.games.connect_four_v0`` |
| Gymnasium id | ``env_id`` | ``mtenvs/TicTacToe-v0`` | ``mtenvs/ConnectFour-v0`` |
| classes | ``game_class``, ``env_class`` | ``TicTacToeGame``, ``TicTacToeEnv`` | ``ConnectFourGame``, … |
| task ids (``GameEnv.game_name``) | ``task_name`` | ``tictactoe-0000000042-p1`` | ``connectfour-…-p0`` |

The package ``__init__`` registers each row's Gymnasium id, self-play takes its game names
from :data:`GAMES`, and each game module names its row once (``GAME = GAMES["tictactoe"]``)
for its ``metadata["name"]``, ``title`` and ``game_name``. This module imports no game
module, so any of them may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mtenvs.core.registry import NAMESPACE

__all__ = ["GAMES", "GameSpec"]


@dataclass(frozen=True)
class GameSpec:
    """One game's row: the three spellings that cannot be derived, and the rest derived."""

    #: Lowercase snake_case name: the table key, the self-play name and the module name.
    name: str
    #: CamelCase name in the Gymnasium id and the class names (``TicTacToe``).
    id_name: str
    #: Display name shown to the players (``Tic-Tac-Toe``; the AEC class's ``title``).
    title: str
    #: Version of both the AEC game (``_v0``) and the Gymnasium id (``-v0``): a change that
    #: alters scores bumps it (and renames the ``mtenvs/games/<name>_v<k>.py`` module).
    version: int = 0

    @property
    def module(self) -> str:
        """The module holding the AEC game, ``env``/``raw_env`` and the single-agent env."""
        return f"{__package__}.{self.name}"

    @property
    def game_class(self) -> str:
        """Name of the AEC game class (a :class:`~mtenvs.envs.games.aec.TextGameEnv`)."""
        return f"{self.id_name}Game"

    @property
    def env_class(self) -> str:
        """Name of the single-agent env class (a :class:`~mtenvs.envs.games.single.GameEnv`)."""
        return f"{self.id_name}Env"

    @property
    def entry_point(self) -> str:
        """Gymnasium entry point of the single-agent env, ``module:class``."""
        return f"{self.module}:{self.env_class}"

    @property
    def env_id(self) -> str:
        """The single-agent Gymnasium id, ``mtenvs/<IdName>-v<k>``."""
        return f"{NAMESPACE}/{self.id_name}-v{self.version}"

    @property
    def pettingzoo_name(self) -> str:
        """The AEC game's ``metadata["name"]``, ``<name>_v<k>`` (PettingZoo's convention)."""
        return f"{self.name}_v{self.version}"

    @property
    def import_path(self) -> str:
        """The PettingZoo-style module re-exporting ``env``/``raw_env``."""
        return f"mtenvs.games.{self.pettingzoo_name}"

    @property
    def task_name(self) -> str:
        """The game part of the single-agent task ids (``<task_name>-<seed>-p<seat>``):
        the name without underscores, as task ids have always been spelled."""
        return self.name.replace("_", "")


_ROWS = (
    GameSpec("tictactoe", "TicTacToe", "Tic-Tac-Toe"),
    GameSpec("connect_four", "ConnectFour", "Connect Four"),
    GameSpec("kuhn_poker", "KuhnPoker", "Kuhn poker"),
    GameSpec("leduc_holdem", "LeducHoldem", "Leduc Hold'em"),
    GameSpec("liars_dice", "LiarsDice", "Liar's Dice"),
    GameSpec("hanabi", "Hanabi", "Hanabi"),
    GameSpec("negotiation", "Negotiation", "Negotiation"),
)

#: Every game by :attr:`GameSpec.name`, in the order the docs and the self-play list show.
GAMES: Mapping[str, GameSpec] = MappingProxyType({game.name: game for game in _ROWS})
