"""Sokoban rules with no I/O: the static level, the dynamic state, moves and text pictures.

Cells are numbered ``row * width + col`` on a grid whose border is all walls, so a neighbour
is ``cell + delta`` with no bounds checks. The dynamic state is two ints: the player's cell
and a bitmask of the box cells (bit ``c`` set = a box on cell ``c``). Ints hash and compare
fast, which keeps a step and the solver's search cheap; :class:`State` names them.

Text pictures use the standard XSB symbols (see :data:`LEGEND`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "DIRECTIONS",
    "LEGEND",
    "Level",
    "MoveResult",
    "State",
    "box_cells",
]

#: Move names in index order (a move is an index into this tuple).
DIRECTIONS: tuple[str, ...] = ("up", "down", "left", "right")
UP, DOWN, LEFT, RIGHT = range(4)

WALL, FLOOR, TARGET, BOX, BOX_ON_TARGET, PLAYER, PLAYER_ON_TARGET = "# .$*@+"
_TARGET_B, _BOX_B, _BOX_ON_TARGET_B, _PLAYER_B, _PLAYER_ON_TARGET_B = b".$*@+"
#: ``bytes.translate`` table: wall flag 0 -> floor symbol, 1 -> wall symbol.
_WALL_OR_FLOOR = bytes([ord(FLOOR), ord(WALL)]) + bytes(254)
#: ``bytes.translate`` table: wall flag 0 -> b"1" (floor), 1 -> b"0".
_FLOOR_DIGITS = b"10" + bytes(254)
#: Every symbol a level picture may hold (``-`` and ``_`` are floor, as in XSB files).
_SYMBOLS = "# .$*@+-_"
#: ``str.translate`` tables: a picture to a string of bits, ``1`` where the cell is not a
#: wall / holds a box / is a target ("+" is the player on a target).
_FREE_BITS = str.maketrans({ch: "0" if ch == WALL else "1" for ch in _SYMBOLS})
_BOX_BITS = str.maketrans({ch: "1" if ch in "$*" else "0" for ch in _SYMBOLS})
_TARGET_BITS = str.maketrans({ch: "1" if ch in ".*+" else "0" for ch in _SYMBOLS})
LEGEND = (
    "Legend: '#' wall, ' ' floor, '.' target, '$' box, '*' box on a target, "
    "'@' you, '+' you on a target."
)


class MoveResult(IntEnum):
    """What one move did."""

    WALKED = 0
    PUSHED = 1
    BLOCKED_BY_WALL = 2
    #: The next cell holds a box that cannot move (a wall or another box behind it).
    BLOCKED_BY_BOX = 3


class State(NamedTuple):
    """The dynamic state: the player's cell and the bitmask of box cells."""

    player: int
    boxes: int


def box_cells(boxes: int) -> Iterator[int]:
    """The cells whose bit is set in ``boxes``, in increasing order."""
    while boxes:
        low = boxes & -boxes
        yield low.bit_length() - 1
        boxes ^= low


@lru_cache(maxsize=64)
def _border_mask(height: int, width: int) -> int:
    """Bitmask of the cells on the outer rows and columns of a ``height x width`` grid."""
    mask = 0
    for r in range(height):
        for c in range(width):
            if r in (0, height - 1) or c in (0, width - 1):
                mask |= 1 << (r * width + c)
    return mask


@dataclass(frozen=True)
class Level:
    """The static part of a level: its size, walls and targets (immutable, hashable).

    Build one with :meth:`from_rows`. Equality and hashing use the size, walls and targets
    only, so a level can key a cache.
    """

    height: int
    width: int
    walls: frozenset[int]
    targets: frozenset[int]
    #: ``wall[c]`` is 1 for a wall cell (bytes index fast in the move hot path).
    wall: bytes = field(init=False, repr=False, compare=False)
    #: Cell offset of each move, in :data:`DIRECTIONS` order.
    deltas: tuple[int, int, int, int] = field(init=False, repr=False, compare=False)
    targets_mask: int = field(init=False, repr=False, compare=False)
    #: Bitmask of the non-wall cells.
    floor_mask: int = field(init=False, repr=False, compare=False)
    #: Boxes (= targets) in the level.
    num_boxes: int = field(init=False, repr=False, compare=False)
    _base_chars: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _base_bytes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n, width = self.height * self.width, self.width
        wall = bytearray(n)
        for c in self.walls:
            if 0 <= c < n:
                wall[c] = 1
        # The outer rows and columns, as byte slices (every level is built on a reset).
        edges = (wall[:width], wall[n - width :], wall[::width], wall[width - 1 :: width])
        if width and any(edge.count(0) for edge in edges):
            raise ValueError("a level's border cells must all be walls")
        if self.targets & self.walls:
            raise ValueError("a target cannot be on a wall")
        set_ = object.__setattr__  # frozen dataclass: derived fields are set once, here
        set_(self, "wall", bytes(wall))
        set_(self, "deltas", (-width, width, -1, 1))
        set_(self, "targets_mask", sum(1 << t for t in self.targets))
        set_(self, "num_boxes", len(self.targets))
        # Bit c set where wall[c] is 0: the flags as a string of binary digits, last first.
        floor_digits = wall.translate(_FLOOR_DIGITS)[::-1]
        set_(self, "floor_mask", int(floor_digits, 2) if n else 0)
        cells = bytearray(wall.translate(_WALL_OR_FLOOR))
        for t in self.targets:
            if 0 <= t < n:
                cells[t] = _TARGET_B
        text = b"\n".join(cells[r : r + width] for r in range(0, n, width))
        set_(self, "_base_chars", tuple(text.decode("ascii")))
        set_(self, "_base_bytes", bytes(text))

    def __deepcopy__(self, memo: dict[int, Any]) -> Level:
        return self  # immutable: snapshots share it

    # ------------------------------------------------------------------ conversions

    @classmethod
    def from_rows(cls, rows: Sequence[str]) -> tuple[Level, State]:
        """Parse an XSB picture (``#`` wall, ``.`` target, ``$`` box, ``*``, ``@``, ``+``).

        Cells outside the part enclosed by walls (the player's region, boxes included) become
        walls, so rows may be ragged as in published level files.
        """
        height = len(rows)
        width = max((len(r) for r in rows), default=0)
        # One flat string, cell c = row * width + col: str methods and bit masks instead
        # of a loop over (row, col) pairs (this runs on every reset onto a new level).
        grid = "".join([row.ljust(width) for row in rows])
        players = grid.count(PLAYER) + grid.count(PLAYER_ON_TARGET)
        if players != 1:
            raise ValueError(f"a level needs exactly one player ('@' or '+'), found {players}")
        if grid.strip(_SYMBOLS):
            bad = next(i for i, ch in enumerate(grid) if ch not in _SYMBOLS)
            r, c = divmod(bad, width)
            raise ValueError(f"unknown symbol {grid[bad]!r} at row {r}, column {c}")
        player = grid.find(PLAYER)
        if player < 0:
            player = grid.find(PLAYER_ON_TARGET)
        # Flood the region the player can ever reach (boxes move, so they do not block it),
        # all cells at once; reaching the border means the room is open. Shifts by one
        # wrap into the next row only from a border cell, and the flood stops there.
        n = height * width
        border = _border_mask(height, width)
        free = int(grid.translate(_FREE_BITS)[::-1], 2) if n else 0
        inside = 1 << player
        while True:
            if inside & border:
                raise ValueError("the level is not enclosed by walls")
            grown = (inside | inside << 1 | inside >> 1 | inside << width | inside >> width) & free
            if grown == inside:
                break
            inside = grown
        outside = ~inside
        boxes = int(grid.translate(_BOX_BITS)[::-1], 2) & inside
        targets_bits = int(grid.translate(_TARGET_BITS)[::-1], 2)
        stray = (targets_bits | int(grid.translate(_BOX_BITS)[::-1], 2)) & outside
        if stray:
            cell = (stray & -stray).bit_length() - 1
            r, c = divmod(cell, width)
            raise ValueError(f"{grid[cell]!r} at row {r}, column {c} is outside the room")
        targets = frozenset(box_cells(targets_bits & inside))
        if boxes.bit_count() != len(targets):
            raise ValueError(
                f"a level needs as many boxes as targets, got {boxes.bit_count()} boxes and "
                f"{len(targets)} targets"
            )
        walls = frozenset(box_cells(((1 << n) - 1) & outside))
        level = cls(height, width, walls, targets)
        return level, State(player, boxes)

    def to_rows(self, state: State) -> tuple[str, ...]:
        """The XSB picture of ``state``, one string per row (inverse of :meth:`from_rows`)."""
        return tuple(self.render(state).split("\n"))

    def render(self, state: State) -> str:
        """The board as text, rows joined by newlines."""
        return self.render_raw(state.player, state.boxes)

    def render_raw(self, player: int, boxes: int) -> str:
        """:meth:`render` on bare ints, for hot loops."""
        chars = list(self._base_chars)
        width = self.width
        # The text index of cell c is c + c // width: one newline ends each row.
        while boxes:
            low = boxes & -boxes
            b = low.bit_length() - 1
            boxes ^= low
            i = b + b // width
            chars[i] = BOX_ON_TARGET if chars[i] == TARGET else BOX
        p = player
        i = p + p // self.width
        chars[i] = PLAYER_ON_TARGET if chars[i] == TARGET else PLAYER
        return "".join(chars)

    def board(self, player: int, boxes: int) -> bytearray:
        """The text board as mutable ASCII bytes, for :meth:`redraw` (``.decode()`` gives
        :meth:`render_raw`)."""
        return bytearray(self.render_raw(player, boxes).encode("ascii"))

    def redraw(self, board: bytearray, old_player: int, player: int, box: int | None) -> None:
        """Update ``board`` after one effective move from ``old_player`` to ``player``
        (``box``: where the pushed box went, if any): three cells at most, instead of
        drawing the whole board again."""
        base, width = self._base_bytes, self.width
        i = old_player + old_player // width
        board[i] = base[i]
        i = player + player // width
        board[i] = _PLAYER_ON_TARGET_B if base[i] == _TARGET_B else _PLAYER_B
        if box is not None:
            i = box + box // width
            board[i] = _BOX_ON_TARGET_B if base[i] == _TARGET_B else _BOX_B

    def cell(self, row: int, col: int) -> int:
        return row * self.width + col

    def rc(self, cell: int) -> tuple[int, int]:
        """``(row, col)`` of ``cell``."""
        return divmod(cell, self.width)

    # ------------------------------------------------------------------ rules

    def move(self, state: State, direction: int) -> tuple[State, MoveResult]:
        """Apply one move (an index into :data:`DIRECTIONS`); a blocked move is a no-op."""
        player, boxes, result = self.move_raw(state.player, state.boxes, direction)
        if result >= MoveResult.BLOCKED_BY_WALL:
            return state, result
        return State(player, boxes), result

    def move_raw(self, player: int, boxes: int, direction: int) -> tuple[int, int, MoveResult]:
        """:meth:`move` on bare ints, for hot loops."""
        d = self.deltas[direction]
        t = player + d
        if self.wall[t]:
            return player, boxes, MoveResult.BLOCKED_BY_WALL
        if boxes >> t & 1:
            u = t + d
            if self.wall[u] or boxes >> u & 1:
                return player, boxes, MoveResult.BLOCKED_BY_BOX
            return t, boxes ^ (1 << t) ^ (1 << u), MoveResult.PUSHED
        return t, boxes, MoveResult.WALKED

    def is_solved(self, state: State) -> bool:
        return state.boxes == self.targets_mask

    def boxes_on_target(self, state: State) -> int:
        return (state.boxes & self.targets_mask).bit_count()

    def floor_cells(self) -> list[int]:
        """Every non-wall cell, in increasing order."""
        return [c for c, w in enumerate(self.wall) if not w]
