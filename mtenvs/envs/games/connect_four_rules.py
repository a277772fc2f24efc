"""Connect Four rules (6 rows x 7 columns), depth-limited alpha-beta search, opponent
policies; no I/O.

Actions are column indices 0-6, as OpenSpiel's ``connect_four``. Player 0 (``X``) moves first.
Positions are bitboards, one Python ``int`` per player: column ``c`` uses bits ``7c``..``7c+5``
(bottom to top) and bit ``7c+6`` stays empty so that shifted lines never wrap around.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "COLS",
    "ROWS",
    "ConnectFourState",
    "heuristic_policy",
    "immediate_wins",
    "optimal_policy",
    "random_policy",
    "search",
]

ROWS, COLS = 6, 7
_H = ROWS + 1
_FULL = sum(((1 << ROWS) - 1) << (_H * c) for c in range(COLS))
#: Default search depth of the ``optimal`` opponent (plies); deeper is stronger and slower.
DEFAULT_DEPTH = 5
_WIN = 1_000_000
#: Score of a window holding 0-3 own stones and no opposing stone.
_WINDOW_SCORE = (0, 1, 8, 64)
#: Centre-first move order makes alpha-beta cut far more.
_ORDER = (3, 2, 4, 1, 5, 0, 6)


def _bit(row: int, col: int) -> int:
    return 1 << (col * _H + row)


def _windows() -> tuple[int, ...]:
    out = []
    for r in range(ROWS):
        for c in range(COLS):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (-1, 1)):
                cells = [(r + i * dr, c + i * dc) for i in range(4)]
                if all(0 <= rr < ROWS and 0 <= cc < COLS for rr, cc in cells):
                    out.append(sum(_bit(rr, cc) for rr, cc in cells))
    return tuple(out)


_WINDOWS = _windows()


def has_four(bits: int) -> bool:
    """Whether the stones in ``bits`` contain four in a row (any direction)."""
    for shift in (1, _H, _H - 1, _H + 1):
        m = bits & (bits >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


def _heights(occupied: int) -> list[int]:
    return [((occupied >> (_H * c)) & ((1 << ROWS) - 1)).bit_count() for c in range(COLS)]


def _moves(occupied: int) -> list[tuple[int, int]]:
    """(column, bit of the cell a stone would land on) for every non-full column."""
    heights = _heights(occupied)
    return [(c, _bit(heights[c], c)) for c in _ORDER if heights[c] < ROWS]


@dataclass
class ConnectFourState:
    """A Connect Four position; ``history`` holds ``(player, column)`` pairs."""

    stones: list[int] = field(default_factory=lambda: [0, 0])
    history: list[tuple[int, int]] = field(default_factory=list)
    num_players: int = 2

    @property
    def occupied(self) -> int:
        return self.stones[0] | self.stones[1]

    def winner(self) -> int:
        # Only the last mover can have just made four.
        if self.history and has_four(self.stones[self.history[-1][0]]):
            return self.history[-1][0]
        return -1

    def is_terminal(self) -> bool:
        return self.winner() >= 0 or self.occupied == _FULL

    def current_player(self) -> int:
        return -1 if self.is_terminal() else len(self.history) % 2

    def legal_actions(self) -> list[int]:
        if self.is_terminal():
            return []
        heights = _heights(self.occupied)
        return [c for c in range(COLS) if heights[c] < ROWS]

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"column {action} is not a legal move; legal: {self.legal_actions()}")
        player = self.current_player()
        self.stones[player] |= _bit(_heights(self.occupied)[action], action)
        self.history.append((player, action))

    def returns(self) -> tuple[float, float]:
        w = self.winner()
        if w < 0:
            return (0.0, 0.0)
        return (1.0, -1.0) if w == 0 else (-1.0, 1.0)

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        return (-1.0, 1.0) if player == 0 else (1.0, -1.0)

    def grid(self) -> list[list[int]]:
        """Rows top to bottom; each cell ``-1`` empty or the owning player."""
        out = []
        for r in reversed(range(ROWS)):
            row = []
            for c in range(COLS):
                b = _bit(r, c)
                row.append(0 if self.stones[0] & b else 1 if self.stones[1] & b else -1)
            out.append(row)
        return out

    def key(self) -> tuple[int, int]:
        return (self.stones[0], self.stones[1])

    def to_move_bits(self) -> tuple[int, int]:
        """(stones of the player to move, stones of the other player)."""
        p = len(self.history) % 2
        return self.stones[p], self.stones[1 - p]

    def clone(self) -> ConnectFourState:
        return ConnectFourState(list(self.stones), list(self.history))


def immediate_wins(me: int, opp: int) -> list[int]:
    """Columns where the player owning ``me`` wins at once."""
    return [c for c, b in _moves(me | opp) if has_four(me | b)]


def _evaluate(me: int, opp: int) -> int:
    score = 0
    for w in _WINDOWS:
        a, b = me & w, opp & w
        if not b:
            score += _WINDOW_SCORE[a.bit_count()] if a else 0
        elif not a:
            score -= _WINDOW_SCORE[b.bit_count()]
    return score


def _negamax(me: int, opp: int, depth: int, alpha: int, beta: int) -> int:
    occupied = me | opp
    if occupied == _FULL:
        return 0
    if depth == 0:
        return _evaluate(me, opp)
    moves = _moves(occupied)
    for _, b in moves:
        if has_four(me | b):
            # Sooner wins score higher, so the search does not dawdle.
            return _WIN + depth
    best = -_WIN * 2
    for _, b in moves:
        value = -_negamax(opp, me | b, depth - 1, -beta, -alpha)
        if value > best:
            best = value
        alpha = max(alpha, value)
        if alpha >= beta:
            break
    return best


@lru_cache(maxsize=200_000)
def search(me: int, opp: int, depth: int = DEFAULT_DEPTH) -> tuple[tuple[int, ...], int]:
    """Best columns (ties, in column order) and their score for the player owning ``me``.

    Immediate wins come first, then forced blocks, then a ``depth``-ply alpha-beta search
    over a window-count evaluation: so the result never misses a win in one or a block of
    one, and otherwise is only as good as ``depth`` allows. Cached per position.
    """
    wins = immediate_wins(me, opp)
    if wins:
        return tuple(sorted(wins)), _WIN
    threats = immediate_wins(opp, me)
    moves = _moves(me | opp)
    if threats:
        # Two threats cannot both be blocked; block one and the search value says it is lost.
        moves = [(c, b) for c, b in moves if c in threats]
    scores: dict[int, int] = {}
    for c, b in moves:
        # Full window per root move, so every tie is exact and the choice among ties fair.
        scores[c] = -_negamax(opp, me | b, depth - 1, -_WIN * 2, _WIN * 2)
    top = max(scores.values())
    return tuple(sorted(c for c, v in scores.items() if v == top)), top


def random_policy(state: ConnectFourState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def optimal_policy(
    state: ConnectFourState, rng: np.random.Generator, depth: int = DEFAULT_DEPTH
) -> int:
    best, _ = search(*state.to_move_bits(), depth)
    return best[int(rng.integers(len(best)))]


def heuristic_policy(state: ConnectFourState, rng: np.random.Generator) -> int:
    """Win now, else block, else a random safe move (one that does not hand the opponent a
    win on top of it) weighted toward the centre."""
    me, opp = state.to_move_bits()
    for cols in (immediate_wins(me, opp), immediate_wins(opp, me)):
        if cols:
            return min(cols)
    moves = _moves(me | opp)
    safe = [c for c, b in moves if not immediate_wins(opp, me | b)] or [c for c, _ in moves]
    weights = np.array([4 - abs(3 - c) for c in safe], dtype=float)
    return safe[int(rng.choice(len(safe), p=weights / weights.sum()))]
