"""Connect Four: the PettingZoo AEC env (``connect_four_v0``) and ``mtenvs/ConnectFour-v0``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mtenvs.envs.games import connect_four_rules as rules
from mtenvs.envs.games.aec import (
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.draw import canvas, disc
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.games.table import GAMES

__all__ = ["ConnectFourEnv", "ConnectFourGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["connect_four"]

_CELL = 32
_MARKS = ("X", "O")
_COLORS = ((220, 50, 40), (240, 200, 30))
#: How each seat's stones look in the picture (told under obs_mode="image").
_PICTURED = ("red discs", "yellow discs")


class ConnectFourGame(TextGameEnv[rules.ConnectFourState]):
    """Connect Four for two agents (PettingZoo AEC): ``player_0`` is X and moves first.

    Actions: column ids 0-6 (OpenSpiel's ``connect_four``), or reply text naming the column
    (``<action>3</action>``, ``column 3``). Rewards: +1 win, -1 loss, 0 draw, at the end.
    ``render_mode``: ``human``, ``ansi``, ``rgb_array`` (192 x 224).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi", "rgb_array"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    num_actions = rules.COLS
    roles = ("X, moves first", "O")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }

    def new_state(self, rng: np.random.Generator) -> rules.ConnectFourState:
        return rules.ConnectFourState()

    def move_label(self, action: int) -> str:
        return f"column {action}"

    def view(self, player: int) -> str:
        rows = [" ".join("." if v < 0 else _MARKS[v] for v in row) for row in self.game.grid()]
        mark = f"You play {_MARKS[player]}. " if player >= 0 else ""
        return (
            f"{mark}Board (top row first; stones fall to the lowest free cell):\n"
            + "\n".join(rows)
            + "\n"
            + " ".join(str(c) for c in range(rules.COLS))
        )

    def picture_view(self, player: int) -> str:
        return f"You play {_MARKS[player]} ({_PICTURED[player]}). The board is in the picture."

    def picture_legend(self) -> str:
        return (
            f"X stones are {_PICTURED[0]}, O stones {_PICTURED[1]}, empty cells white; "
            "column 0 is the leftmost, column 6 the rightmost."
        )

    def rules(self) -> str:
        return (
            "Connect Four on a board of 6 rows and 7 columns numbered 0-6. Players take turns "
            "dropping a stone (X moves first) into a column that is not full; it falls to the "
            "lowest free cell. Four stones of one player in a row, column or diagonal win; a "
            "full board without four is a draw."
        )

    def action_format(self) -> str:
        return (
            "<action>column N</action> with N the number (0-6) of a column that is not full, "
            "e.g. <action>column 3</action>."
        )

    def oracle_move(self) -> int:
        # Deterministic: the lowest best column of the depth-limited search.
        return rules.search(*self.game.to_move_bits())[0][0]

    def privileged(self, player: int) -> dict[str, Any]:
        if self.is_over():
            return {"search_value": self.payoffs()[player], "best_moves": []}
        best, value = rules.search(*self.game.to_move_bits())
        if self.current_player() != player:
            value = -value
        return {
            "search_value": float(value),
            "best_moves": [self.move_label(c) for c in best],
        }

    def render_image(self) -> np.ndarray:
        img = canvas(rules.ROWS * _CELL, rules.COLS * _CELL, (30, 70, 170))
        for r, row in enumerate(self.game.grid()):
            for c, v in enumerate(row):
                color = (245, 245, 245) if v < 0 else _COLORS[v]
                disc(img, r * _CELL + _CELL / 2, c * _CELL + _CELL / 2, _CELL * 0.4, color)
        return img


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = ConnectFourGame
env = wrapped_factory(ConnectFourGame)


class ConnectFourEnv(GameEnv):
    """Play Connect Four against a built-in opponent or any agent.

    ## Description
    Connect Four on 6 rows x 7 columns (rules in :mod:`mtenvs.envs.games.connect_four_rules`)
    as a single-agent env over the AEC game ``mtenvs.games.connect_four_v0``. The agent plays
    X (seat 0, moves first) or O (seat 1), chosen by ``play_as``; the opponent's moves happen
    inside ``reset``/``step``.

    Opponents: ``random`` (uniform legal column); ``heuristic`` (wins at once if it can,
    else blocks an immediate win, else a random move that does not hand over a win, weighted
    toward the centre); ``optimal`` — *not* perfect play: it takes an immediate win, blocks
    an immediate threat, and otherwise plays a 5-ply alpha-beta search over a window-count
    evaluation (random among equally scored columns). It never misses a win or a block in
    one, but deeper tactics can beat it. Perfect play is a first-player win.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "3"}}``) or an ``int``: ``<action>column 3</action>``, ``<action>3</action>`` or a
    bare ``column 3``. Columns are 0-6 (OpenSpiel's ``connect_four`` action ids). A full
    column or an unreadable reply is a malformed reply.

    ## Observation Space
    ``obs_mode="text"``: a ``str``. ``"image"``/``"text+image"``: ``Dict({"text", "image"})``
    with a 192 x 224 RGB picture of the board (X red discs, O yellow discs, empty cells
    white, on blue).

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the agent's seat and mark, the board as text (top row first, `.` empty, `X`, `O`, column numbers below), the moves so far and the legal moves, or the result at the end |
    | `image` | the agent's seat and mark (and its colour in the picture), the moves played since the agent's last move, and "Your turn" with the reply format, or the result at the end. No board, no move history and no legal moves (they would redraw the board): the board is only in the picture, whose legend is in the system prompt |
    | `text+image` | the same text as `text`, with the picture |

    Example (``text``, seat 1, after the opponent's first move)::

        Connect Four. You are player_1 (O).
        You play O. Board (top row first; stones fall to the lowest free cell):
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . X . . . .
        0 1 2 3 4 5 6
        Moves so far: player_0 column 2.
        Your turn. Legal moves: column 0, column 1, column 2, column 3, column 4, column 5,
        column 6. Reply with …

    The same under ``obs_mode="image"``::

        Connect Four. You are player_1 (O).
        You play O (yellow discs). The board is in the picture.
        Since your last move: player_0 column 2.
        Your turn. Reply with …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the game: +1 win, 0 draw, −1 loss (0 before) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the game waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the game is over (four in a row or a full board); ``truncated`` after
    ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat, under `obs_mode="image"` with the picture's legend (reset only) |
    | `task_id` | `connectfour-<seed>-p<seat>` (reset only) |
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
    * `mtenvs/ConnectFour-v0`

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}  # noqa: RUF012
    game_class = ConnectFourGame
    game_name = GAME.task_name
    image_shape = (rules.ROWS * _CELL, rules.COLS * _CELL)
    default_max_turns: ClassVar[int] = 40
    # headline (first): the heuristic opponent (random opponents lose to almost anything)
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = (
        {"opponent": "heuristic"},
        {"opponent": "random"},
        {"opponent": "optimal"},
    )
