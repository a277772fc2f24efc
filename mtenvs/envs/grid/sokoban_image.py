"""Sokoban image observations: a level and its player and box positions in, an RGB tile
image out, through the shared tile renderer :mod:`mtenvs.envs.grid.render`.

Every image of a difficulty has one shape: the level is padded with walls to the
difficulty's room size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np

from mtenvs.envs.grid import render
from mtenvs.envs.grid.sokoban_rules import Level

__all__ = ["make_sokoban_palette", "render_level_image"]

#: Tile codes of the image palette, in this order.
_TILES: Final = (
    render.WALL,
    render.FLOOR,
    render.TARGET,
    render.BOX,
    render.BOX_ON_TARGET,
    render.PLAYER,
    render.PLAYER_ON_TARGET,
)
_C_WALL, _C_FLOOR, _C_TARGET, _C_BOX, _C_BOX_T, _C_PLAYER, _C_PLAYER_T = range(7)


def make_sokoban_palette() -> render.TilePalette:
    """The palette :func:`render_level_image` draws with (tile codes in ``_TILES`` order)."""
    return render.make_palette(_TILES)


@lru_cache(maxsize=64)
def _base_codes(level: Level, rows: int, cols: int) -> np.ndarray:
    """Tile codes of the empty level (walls, floor, targets), padded with walls to the
    difficulty's fixed size so every image of a difficulty has one shape."""
    codes = np.full((rows, cols), _C_WALL, dtype=np.uint8)
    for c in level.floor_cells():
        r, col = level.rc(c)
        codes[r, col] = _C_TARGET if c in level.targets else _C_FLOOR
    codes.setflags(write=False)
    return codes


def render_level_image(
    level: Level,
    room: tuple[int, int],
    player: int,
    boxes: int,
    palette: render.TilePalette,
) -> np.ndarray:
    """The RGB image of ``level`` with the player on cell ``player`` and a box on every
    set bit of ``boxes``, padded with walls to ``room`` (rows, cols) tiles."""
    rows, cols = room
    codes = _base_codes(level, rows, cols).copy()
    flat = codes.reshape(-1)
    width = level.width
    targets = level.targets_mask
    while boxes:
        low = boxes & -boxes
        b = low.bit_length() - 1
        boxes ^= low
        flat[b // width * cols + b % width] = _C_BOX_T if targets >> b & 1 else _C_BOX
    p = player
    flat[p // width * cols + p % width] = _C_PLAYER_T if targets >> p & 1 else _C_PLAYER
    return render.render_tiles(codes, palette)
