"""Tic-Tac-Toe rules, exact minimax and opponent policies; no I/O.

Cells are numbered 0-8 row-major, as OpenSpiel's ``tic_tac_toe`` action ids::

    0 | 1 | 2
    3 | 4 | 5
    6 | 7 | 8

Player 0 plays ``X`` and moves first; player 1 plays ``O``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

__all__ = [
    "LINES",
    "MARKS",
    "TicTacToeState",
    "best_actions",
    "heuristic_policy",
    "minimax_value",
    "optimal_policy",
    "random_policy",
]

EMPTY = 0
#: Board symbol of each player (board cells hold ``player + 1``).
MARKS = ("X", "O")
LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)


def _winner(board: tuple[int, ...]) -> int:
    """The player (0 or 1) with three in a row, else -1."""
    for a, b, c in LINES:
        if board[a] != EMPTY and board[a] == board[b] == board[c]:
            return board[a] - 1
    return -1


@dataclass
class TicTacToeState:
    """A Tic-Tac-Toe position; ``history`` holds ``(player, cell)`` pairs."""

    board: list[int] = field(default_factory=lambda: [EMPTY] * 9)
    history: list[tuple[int, int]] = field(default_factory=list)
    num_players: int = 2

    def current_player(self) -> int:
        """The player to move, or -1 when the game is over."""
        return -1 if self.is_terminal() else len(self.history) % 2

    def legal_actions(self) -> list[int]:
        if self.is_terminal():
            return []
        return [i for i, v in enumerate(self.board) if v == EMPTY]

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"cell {action} is not a legal move; legal: {self.legal_actions()}")
        player = self.current_player()
        self.board[action] = player + 1
        self.history.append((player, action))

    def winner(self) -> int:
        return _winner(tuple(self.board))

    def is_terminal(self) -> bool:
        return self.winner() >= 0 or EMPTY not in self.board

    def returns(self) -> tuple[float, float]:
        """+1 for the winner, -1 for the loser, 0 each for a draw or an unfinished game."""
        w = self.winner()
        if w < 0:
            return (0.0, 0.0)
        return (1.0, -1.0) if w == 0 else (-1.0, 1.0)

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        """A forfeit counts as a loss for ``player``."""
        return (-1.0, 1.0) if player == 0 else (1.0, -1.0)

    def key(self) -> tuple[int, ...]:
        return tuple(self.board)

    def clone(self) -> TicTacToeState:
        return TicTacToeState(list(self.board), list(self.history))


@cache
def minimax_value(board: tuple[int, ...]) -> int:
    """Game value (+1 win, 0 draw, -1 loss) for the player to move, under perfect play."""
    w = _winner(board)
    if w >= 0:
        # The previous mover completed a line, so the player to move has lost.
        return -1
    if EMPTY not in board:
        return 0
    mover = 1 + (9 - board.count(EMPTY)) % 2
    best = -2
    for cell in range(9):
        if board[cell] == EMPTY:
            child = (*board[:cell], mover, *board[cell + 1 :])
            best = max(best, -minimax_value(child))
            if best == 1:
                break
    return best


def best_actions(board: tuple[int, ...]) -> list[int]:
    """Every cell that keeps the minimax value for the player to move."""
    mover = 1 + (9 - board.count(EMPTY)) % 2
    scores = {
        cell: -minimax_value((*board[:cell], mover, *board[cell + 1 :]))
        for cell in range(9)
        if board[cell] == EMPTY
    }
    top = max(scores.values())
    return [c for c, v in scores.items() if v == top]


def random_policy(state: TicTacToeState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def optimal_policy(state: TicTacToeState, rng: np.random.Generator) -> int:
    """A uniformly random minimax-optimal move (random among equals, so games vary)."""
    best = best_actions(state.key())
    return best[int(rng.integers(len(best)))]


def _completing(board: list[int], mark: int) -> list[int]:
    """Empty cells that would give ``mark`` three in a row."""
    out = []
    for line in LINES:
        values = [board[i] for i in line]
        if values.count(mark) == 2 and values.count(EMPTY) == 1:
            out.append(line[values.index(EMPTY)])
    return out


def heuristic_policy(state: TicTacToeState, rng: np.random.Generator) -> int:
    """Win if possible, else block, else centre, else a corner, else any cell (no lookahead,
    so forks beat it)."""
    me = state.current_player() + 1
    for cells in (_completing(state.board, me), _completing(state.board, 3 - me)):
        if cells:
            return cells[0]
    legal = state.legal_actions()
    if 4 in legal:
        return 4
    for group in ((0, 2, 6, 8), (1, 3, 5, 7)):
        free = [c for c in group if c in legal]
        if free:
            return free[int(rng.integers(len(free)))]
    raise ValueError("no legal move: the game is over")
