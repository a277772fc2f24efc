"""Maze rules, with no I/O: generation, moves, BFS distances, fog of war and text rendering.

A maze is a tuple of row strings over ``#`` (wall) and ``.`` (floor), ``2 * cells + 1`` wide
and high: cells sit at odd coordinates and the walls between them at mixed ones, so a move is
one grid step and the optimal length counts grid steps.

The live board is a :class:`bytearray` holding the text picture itself, rows joined by
newlines, and positions are indices into that text (``row * (width + 1) + col``). A move
is then an index offset (``±1``, ``±(width + 1)``), a wall test is one byte comparison and
rendering is one ``decode`` — the step hot path does no 2-D arithmetic and no string joins.
The newline bytes act as walls for the distance map, so no bounds checks are needed either
(the outer wall ring keeps the agent away from them anyway).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

import numpy as np

__all__ = [
    "AGENT",
    "DIRECTIONS",
    "FLOOR",
    "GOAL",
    "UNSEEN",
    "WALL",
    "Maze",
    "apply_moves",
    "bfs_distances",
    "generate_maze",
    "grid_distances",
    "initial_board",
    "move_offsets",
    "optimal_plan",
    "reveal",
    "view_windows",
]

WALL: Final = "#"
FLOOR: Final = "."
AGENT: Final = "@"
GOAL: Final = "G"
UNSEEN: Final = "?"

#: The four moves as (row, col) deltas, in the order used to break ties between equally
#: short moves (so oracles and plans are deterministic).
DIRECTIONS: Final[dict[str, tuple[int, int]]] = {
    "up": (-1, 0),
    "down": (1, 0),
    "left": (0, -1),
    "right": (0, 1),
}

_WALL_B: Final = ord(WALL)
_FLOOR_B: Final = ord(FLOOR)
_AGENT_B: Final = ord(AGENT)
_GOAL_B: Final = ord(GOAL)
_UNSEEN_B: Final = ord(UNSEEN)

Cell = tuple[int, int]


class Maze(NamedTuple):
    """A generated maze: ``grid`` rows of ``#``/``.``, the ``start`` and ``goal`` cells."""

    grid: tuple[str, ...]
    start: Cell
    goal: Cell


# --------------------------------------------------------------------------- generation


def generate_maze(
    cells_high: int, cells_wide: int, rng: np.random.Generator, *, loops: int = 0
) -> Maze:
    """A random maze of ``cells_high`` x ``cells_wide`` cells; start and goal far apart.

    The tree is a randomized depth-first search (a "perfect" maze: exactly one path between
    any two cells, long winding corridors). ``loops`` extra walls between cells are then
    removed ("braiding") so some mazes offer alternative routes. The start is a random
    cell and the goal the cell farthest from it (ties: the first in reading order), so the
    optimal path is long for every maze.
    """
    if cells_high < 1 or cells_wide < 1 or cells_high * cells_wide < 2:
        raise ValueError(f"A maze needs at least 2 cells, got {cells_high}x{cells_wide}.")
    height, width = 2 * cells_high + 1, 2 * cells_wide + 1
    rows = [bytearray(b"#" * width) for _ in range(height)]
    n_cells = cells_high * cells_wide
    # One batch of floats instead of a Generator call per DFS step: ~50x faster, same stream
    # for the same seed.
    choices = rng.random(n_cells).tolist()
    visited = [False] * n_cells
    first = int(rng.integers(n_cells))
    visited[first] = True
    rows[2 * (first // cells_wide) + 1][2 * (first % cells_wide) + 1] = _FLOOR_B
    stack = [first]
    used = 0
    while stack:
        cell = stack[-1]
        cr, cc = divmod(cell, cells_wide)
        options = []
        if cr > 0 and not visited[cell - cells_wide]:
            options.append(cell - cells_wide)
        if cr < cells_high - 1 and not visited[cell + cells_wide]:
            options.append(cell + cells_wide)
        if cc > 0 and not visited[cell - 1]:
            options.append(cell - 1)
        if cc < cells_wide - 1 and not visited[cell + 1]:
            options.append(cell + 1)
        if not options:
            stack.pop()
            continue
        nxt = options[int(choices[used] * len(options))]
        used += 1
        visited[nxt] = True
        nr, nc = divmod(nxt, cells_wide)
        rows[cr + nr + 1][cc + nc + 1] = _FLOOR_B  # the wall between the two cells
        rows[2 * nr + 1][2 * nc + 1] = _FLOOR_B
        stack.append(nxt)
    if loops > 0:
        # Walls between two cells: odd row/even col (vertical) or even row/odd col.
        candidates = [
            (r, c)
            for r in range(1, height - 1)
            for c in range(1, width - 1)
            if (r + c) % 2 == 1 and rows[r][c] == _WALL_B
        ]
        if candidates:
            picks = rng.choice(len(candidates), size=min(loops, len(candidates)), replace=False)
            for i in sorted(int(p) for p in picks):
                r, c = candidates[i]
                rows[r][c] = _FLOOR_B
    grid = tuple(row.decode("ascii") for row in rows)
    start_cell = int(rng.integers(n_cells))
    start = (2 * (start_cell // cells_wide) + 1, 2 * (start_cell % cells_wide) + 1)
    dist = grid_distances(grid, start)
    goal = max(
        ((r, c) for r in range(1, height, 2) for c in range(1, width, 2)),
        key=lambda rc: (dist[rc[0] * (width + 1) + rc[1]], -rc[0], -rc[1]),
    )
    return Maze(grid, start, goal)


# --------------------------------------------------------------------------- distances


def bfs_distances(base: bytes | bytearray, source: int, stride: int) -> list[int]:
    """Grid-step distances from text index ``source`` to every index of ``base`` (the maze
    text, rows of length ``stride - 1`` joined by newlines); ``-1`` for walls/unreachable."""
    dist = [-1] * len(base)
    dist[source] = 0
    queue = deque([source])
    offsets = (-stride, stride, -1, 1)
    wall = _WALL_B
    newline = 10
    while queue:
        i = queue.popleft()
        d = dist[i] + 1
        for off in offsets:
            j = i + off
            if 0 <= j < len(base) and dist[j] < 0 and base[j] != wall and base[j] != newline:
                dist[j] = d
                queue.append(j)
    return dist


def grid_distances(grid: Sequence[str], source: Cell) -> list[int]:
    """:func:`bfs_distances` from cell ``source`` of ``grid`` (text-indexed result)."""
    stride = len(grid[0]) + 1
    return bfs_distances("\n".join(grid).encode("ascii"), source[0] * stride + source[1], stride)


def move_offsets(width: int) -> dict[str, int]:
    """Text-index offset of each direction on a board ``width`` cells wide."""
    stride = width + 1
    return {name: dr * stride + dc for name, (dr, dc) in DIRECTIONS.items()}


def optimal_plan(dist: Sequence[int], pos: int, width: int, limit: int | None = None) -> list[str]:
    """Directions of a shortest path from ``pos`` to the goal (``dist`` measured from the
    goal), at most ``limit`` of them; ties go to the first direction of :data:`DIRECTIONS`."""
    offsets = move_offsets(width)
    plan: list[str] = []
    d = dist[pos]
    while d > 0 and (limit is None or len(plan) < limit):
        for name, off in offsets.items():
            if dist[pos + off] == d - 1:
                plan.append(name)
                pos += off
                d -= 1
                break
        else:  # pragma: no cover - a BFS map always has a neighbour one step closer
            raise RuntimeError("distance map is inconsistent")
    return plan


# --------------------------------------------------------------------------- board


def initial_board(
    grid: Sequence[str], start: Cell, goal: Cell, view_radius: int | None
) -> tuple[bytes, bytearray]:
    """``(base, board)``: the full maze text with the goal (no agent), and the live board
    the agent sees at ``start`` (fogged outside ``view_radius`` when it is not ``None``)."""
    stride = len(grid[0]) + 1
    base = bytearray("\n".join(grid).encode("ascii"))
    base[goal[0] * stride + goal[1]] = _GOAL_B
    pos = start[0] * stride + start[1]
    if view_radius is None:
        board = bytearray(base)
    else:
        board = bytearray(b"?" * len(base))
        for i in range(stride - 1, len(base), stride):
            board[i] = 10
        reveal(board, base, view_windows(len(grid), len(grid[0]), view_radius)[pos])
    board[pos] = _AGENT_B
    return bytes(base), board


@lru_cache(maxsize=64)
def view_windows(height: int, width: int, radius: int) -> tuple[tuple[int, ...], ...]:
    """For each text index, the text indices within Chebyshev distance ``radius`` (clipped
    to the board); cached per board shape so a step only walks a precomputed tuple."""
    stride = width + 1
    windows: list[tuple[int, ...]] = []
    for i in range(height * stride - 1):
        r, c = divmod(i, stride)
        if c == width:
            windows.append(())
            continue
        windows.append(
            tuple(
                rr * stride + cc
                for rr in range(max(0, r - radius), min(height, r + radius + 1))
                for cc in range(max(0, c - radius), min(width, c + radius + 1))
            )
        )
    return tuple(windows)


def reveal(board: bytearray, base: bytes | bytearray, window: Sequence[int]) -> None:
    """Copy the true content of ``window`` cells from ``base`` onto ``board`` (fog memory:
    once seen, a cell stays shown; mazes are static so memory is never stale)."""
    unseen = _UNSEEN_B
    for i in window:
        if board[i] == unseen:
            board[i] = base[i]


def apply_moves(
    board: bytearray,
    base: bytes,
    pos: int,
    moves: Sequence[int],
    goal: int,
    windows: Sequence[Sequence[int]] | None,
) -> tuple[int, list[bool]]:
    """Play ``moves`` (text-index offsets) from ``pos``, updating ``board`` in place.

    A move into a wall leaves the agent where it is (and is reported as ``False``); moves
    after reaching ``goal`` are not played. Returns the new position and one flag per move
    played (``True`` = the agent moved).
    """
    moved: list[bool] = []
    for off in moves:
        nxt = pos + off
        if base[nxt] == _WALL_B:
            moved.append(False)
            continue
        board[pos] = base[pos]
        board[nxt] = _AGENT_B
        pos = nxt
        moved.append(True)
        if windows is not None:
            reveal(board, base, windows[pos])
        if pos == goal:
            break
    return pos, moved
