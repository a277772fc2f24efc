"""Tic-Tac-Toe: the PettingZoo AEC env (``tictactoe_v0``) and ``mtenvs/TicTacToe-v0``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mtenvs.envs.games import tictactoe_rules as rules
from mtenvs.envs.games.aec import (
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.draw import canvas, ring, segment
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.games.table import GAMES

__all__ = ["TicTacToeEnv", "TicTacToeGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["tictactoe"]

_CELL = 48
#: How each mark looks in :meth:`TicTacToeGame.render_image` (told under obs_mode="image").
_PICTURED = {"X": "red crosses", "O": "blue rings"}


class TicTacToeGame(TextGameEnv[rules.TicTacToeState]):
    """Tic-Tac-Toe for two agents (PettingZoo AEC): ``player_0`` is X and moves first.

    Actions: cell ids 0-8 row-major (OpenSpiel's ``tic_tac_toe``), or reply text naming the
    cell (``<action>4</action>``, ``cell 4``). Free cells show their number on the board.
    Rewards: +1 win, -1 loss, 0 draw, at the end. ``render_mode``: ``human``, ``ansi``,
    ``rgb_array`` (144 x 144).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi", "rgb_array"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    num_actions = 9
    roles = ("X, moves first", "O")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }

    def new_state(self, rng: np.random.Generator) -> rules.TicTacToeState:
        return rules.TicTacToeState()

    def view(self, player: int) -> str:
        board = self.game.board
        cells = [rules.MARKS[v - 1] if v else str(i) for i, v in enumerate(board)]
        rows = [" " + " | ".join(cells[r * 3 : r * 3 + 3]) for r in range(3)]
        mark = f"You play {rules.MARKS[player]}. " if player >= 0 else ""
        return f"{mark}Board (free cells show their number):\n" + "\n---+---+---\n".join(rows)

    def picture_view(self, player: int) -> str:
        mark = rules.MARKS[player]
        return f"You play {mark} ({_PICTURED[mark]}). The board is in the picture."

    def picture_legend(self) -> str:
        return (
            f"X marks are {_PICTURED['X']}, O marks {_PICTURED['O']}; a free cell is empty. "
            "Cell 0 is the top left, cell 8 the bottom right."
        )

    def rules(self) -> str:
        return (
            "Tic-Tac-Toe on a 3x3 board. Players take turns placing their mark (X moves first) "
            "on a free cell; three marks in a row, column or diagonal win; a full board "
            "without a line is a draw. Cells are numbered 0-8 row by row:\n"
            " 0 | 1 | 2\n 3 | 4 | 5\n 6 | 7 | 8"
        )

    def action_format(self) -> str:
        return "<action>CELL</action> with CELL the number of a free cell, e.g. <action>4</action>."

    def oracle_move(self) -> int:
        # Deterministic and exact: the first minimax-optimal cell.
        return rules.best_actions(self.game.key())[0]

    def privileged(self, player: int) -> dict[str, Any]:
        if self.is_over():
            return {"game_value": self.payoffs()[player], "best_moves": []}
        value = rules.minimax_value(self.game.key())
        if self.current_player() != player:
            value = -value
        return {
            "game_value": float(value),
            "best_moves": [str(a) for a in rules.best_actions(self.game.key())],
        }

    def render_image(self) -> np.ndarray:
        size = 3 * _CELL
        img = canvas(size, size, (250, 250, 245))
        for i in (1, 2):
            segment(img, i * _CELL, 4, i * _CELL, size - 4, 3, (60, 60, 60))
            segment(img, 4, i * _CELL, size - 4, i * _CELL, 3, (60, 60, 60))
        pad = _CELL * 0.25
        for cell, value in enumerate(self.game.board):
            r, c = divmod(cell, 3)
            y0, x0 = r * _CELL, c * _CELL
            if value == 1:
                segment(
                    img, y0 + pad, x0 + pad, y0 + _CELL - pad, x0 + _CELL - pad, 5, (200, 40, 40)
                )
                segment(
                    img, y0 + pad, x0 + _CELL - pad, y0 + _CELL - pad, x0 + pad, 5, (200, 40, 40)
                )
            elif value == 2:
                ring(img, y0 + _CELL / 2, x0 + _CELL / 2, _CELL / 2 - pad + 2, 5, (40, 80, 200))
        return img


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = TicTacToeGame
env = wrapped_factory(TicTacToeGame)


class TicTacToeEnv(GameEnv):
    """Play Tic-Tac-Toe against a built-in opponent or any agent.

    ## Description
    The classic 3x3 game (rules in :mod:`mtenvs.envs.games.tictactoe_rules`) as a
    single-agent env over the AEC game ``mtenvs.games.tictactoe_v0``. The agent plays X
    (seat 0, moves first) or O (seat 1), chosen by ``play_as``; the opponent's moves happen
    inside ``reset``/``step``. Under perfect play the game is a draw.

    Opponents: ``random`` (uniform legal move), ``heuristic`` (win, else block, else centre,
    else a corner; it can be beaten with a fork), ``optimal`` (exact minimax, uniformly
    random among the optimal moves: it never loses), or any ``mtenvs.agents.Agent``.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "4"}}``) or an ``int``. ``<action>4</action>``; ``cell 4`` or a bare ``4`` are
    accepted too. Cells are numbered 0-8 row by row (OpenSpiel's ``tic_tac_toe`` action ids).
    An occupied cell or an unreadable reply is a malformed reply.

    ## Observation Space
    ``obs_mode="text"``: a ``str``. ``"image"``/``"text+image"``: ``Dict({"text", "image"})``
    with a 144 x 144 RGB picture of the board (X red crosses, O blue rings, free cells
    empty).

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the agent's seat and mark, the board (X, O, and the number of each free cell), the moves so far, and the legal moves, or the result at the end |
    | `image` | the agent's seat and mark (and its colour in the picture), the moves played since the agent's last move, and "Your turn" with the reply format, or the result at the end. No board, no move history and no legal moves (they would redraw the board): the board is only in the picture, whose legend is in the system prompt |
    | `text+image` | the same text as `text`, with the picture |

    Example (``text``, seat 1, after the opponent's first move)::

        Tic-Tac-Toe. You are player_1 (O).
        You play O. Board (free cells show their number):
         0 | 1 | 2
        ---+---+---
         3 | X | 5
        ---+---+---
         6 | 7 | 8
        Moves so far: player_0 4.
        Your turn. Legal moves: 0, 1, 2, 3, 5, 6, 7, 8. Reply with …

    The same under ``obs_mode="image"``::

        Tic-Tac-Toe. You are player_1 (O).
        You play O (blue rings). The board is in the picture.
        Since your last move: player_0 4.
        Your turn. Reply with …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the game: +1 win, 0 draw, −1 loss (0 before) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the game waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the game is over (a line or a full board); ``truncated`` after
    ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat, under `obs_mode="image"` with the picture's legend (reset only) |
    | `task_id` | `tictactoe-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | the agent has won |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat and the position |
    | `seat` | 0 (X, first) or 1 (O) |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the opponent's moves since the agent's last move |
    | `returns` | each seat's game payoff (zeros until the end) |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `opponent` | `"heuristic"` | `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (moves first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/TicTacToe-v0`

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}  # noqa: RUF012
    game_class = TicTacToeGame
    game_name = GAME.task_name
    image_shape = (3 * _CELL, 3 * _CELL)
    default_max_turns: ClassVar[int] = 20
