"""Tile renderer shared by the grid worlds (Sokoban, Maze): tile codes in, RGB image out.

NumPy only. A :class:`TilePalette` holds one pre-drawn ``tile_size x tile_size`` RGB bitmap
per tile name; :func:`render_tiles` maps a 2-D array of tile codes (indices into the
palette) to an image with a single fancy-indexing gather, so a frame costs tens of
microseconds. :func:`decode_tiles` inverts it (tests use it to check that an image shows
the same state as the text).

Stable API (the Maze env imports it)::

    palette = make_palette((WALL, FLOOR, PLAYER, GOAL, FOG))   # codes 0..4, in this order
    codes = np.array([[0, 0, 0], [0, 2, 3], [0, 0, 0]], dtype=np.uint8)
    image = render_tiles(codes, palette)                        # (3*16, 3*16, 3) uint8
    assert (decode_tiles(image, palette) == codes).all()

Tile names are the module constants (``WALL``, ``FLOOR``, ``TARGET``, ``BOX``,
``BOX_ON_TARGET``, ``PLAYER``, ``PLAYER_ON_TARGET``, ``GOAL``, ``PLAYER_ON_GOAL``, ``FOG``);
every tile is distinct from every other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np

__all__ = [
    "BOX",
    "BOX_ON_TARGET",
    "FLOOR",
    "FOG",
    "GOAL",
    "PLAYER",
    "PLAYER_ON_GOAL",
    "PLAYER_ON_TARGET",
    "TARGET",
    "TILE_NAMES",
    "TILE_SIZE",
    "WALL",
    "TilePalette",
    "decode_tiles",
    "make_palette",
    "render_tiles",
]

TILE_SIZE: Final = 16

WALL: Final = "wall"
FLOOR: Final = "floor"
TARGET: Final = "target"
BOX: Final = "box"
BOX_ON_TARGET: Final = "box_on_target"
PLAYER: Final = "player"
PLAYER_ON_TARGET: Final = "player_on_target"
GOAL: Final = "goal"
PLAYER_ON_GOAL: Final = "player_on_goal"
#: Not yet seen (fog of war).
FOG: Final = "fog"

Color = tuple[int, int, int]
_FLOOR_RGB: Final[Color] = (226, 216, 190)
_FLOOR_LINE: Final[Color] = (205, 194, 166)
_WALL_RGB: Final[Color] = (92, 64, 51)
_MORTAR: Final[Color] = (150, 140, 130)
_TARGET_RGB: Final[Color] = (210, 45, 45)
_BOX_RGB: Final[Color] = (196, 138, 60)
_BOX_EDGE: Final[Color] = (110, 70, 25)
_BOX_DONE: Final[Color] = (70, 170, 80)
_BOX_DONE_EDGE: Final[Color] = (30, 95, 40)
_PLAYER_RGB: Final[Color] = (40, 90, 220)
_GOAL_RGB: Final[Color] = (240, 190, 30)
_FOG_RGB: Final[Color] = (24, 24, 30)
_FOG_DOT: Final[Color] = (60, 60, 72)


def _blank(size: int, color: Color) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (size, size, 3)).copy()


def _frac(size: int, f: float) -> int:
    return max(1, round(size * f))


def _floor(size: int) -> np.ndarray:
    tile = _blank(size, _FLOOR_RGB)
    tile[0, :] = _FLOOR_LINE  # faint grid lines make cells countable
    tile[:, 0] = _FLOOR_LINE
    return tile


def _wall(size: int) -> np.ndarray:
    tile = _blank(size, _WALL_RGB)
    half = size // 2
    tile[0, :] = tile[half, :] = _MORTAR  # brick courses, joints offset every other row
    tile[:half, half] = _MORTAR
    tile[half:, 0] = _MORTAR
    return tile


def _ring(tile: np.ndarray, inset: int, thickness: int, color: Color) -> np.ndarray:
    size = tile.shape[0]
    a, b = inset, size - inset
    tile[a:b, a : a + thickness] = color
    tile[a:b, b - thickness : b] = color
    tile[a : a + thickness, a:b] = color
    tile[b - thickness : b, a:b] = color
    return tile


def _target(size: int) -> np.ndarray:
    return _ring(_floor(size), _frac(size, 0.19), _frac(size, 0.125), _TARGET_RGB)


def _crate(tile: np.ndarray, fill: Color, edge: Color) -> np.ndarray:
    size = tile.shape[0]
    a, b = _frac(size, 0.125), size - _frac(size, 0.125)
    tile[a:b, a:b] = fill
    _ring(tile, a, _frac(size, 0.0625), edge)
    idx = np.arange(a, b)
    tile[idx, idx] = edge  # the cross of a wooden crate
    tile[idx, a + b - 1 - idx] = edge
    return tile


def _disk(tile: np.ndarray, radius: float, color: Color) -> np.ndarray:
    size = tile.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    centre = (size - 1) / 2
    tile[(yy - centre) ** 2 + (xx - centre) ** 2 <= radius**2] = color
    return tile


def _goal(size: int) -> np.ndarray:
    tile = _floor(size)
    a, b = _frac(size, 0.19), size - _frac(size, 0.19)
    tile[a:b, a:b] = _GOAL_RGB
    return tile


def _fog(size: int) -> np.ndarray:
    tile = _blank(size, _FOG_RGB)
    step = max(2, size // 4)
    tile[step // 2 :: step, step // 2 :: step] = _FOG_DOT
    return tile


_DRAW: Final[dict[str, Callable[[int], np.ndarray]]] = {
    WALL: _wall,
    FLOOR: _floor,
    TARGET: _target,
    BOX: lambda s: _crate(_floor(s), _BOX_RGB, _BOX_EDGE),
    BOX_ON_TARGET: lambda s: _crate(_target(s), _BOX_DONE, _BOX_DONE_EDGE),
    PLAYER: lambda s: _disk(_floor(s), s * 0.34, _PLAYER_RGB),
    PLAYER_ON_TARGET: lambda s: _disk(_target(s), s * 0.22, _PLAYER_RGB),
    GOAL: _goal,
    PLAYER_ON_GOAL: lambda s: _disk(_goal(s), s * 0.22, _PLAYER_RGB),
    FOG: _fog,
}
#: Every tile name :func:`make_palette` knows.
TILE_NAMES: Final[tuple[str, ...]] = tuple(_DRAW)


@dataclass(frozen=True, eq=False)
class TilePalette:
    """Pre-drawn tiles: ``bitmaps[code]`` is the ``(tile_size, tile_size, 3)`` picture of
    ``names[code]``."""

    names: tuple[str, ...]
    tile_size: int
    bitmaps: np.ndarray

    def code(self, name: str) -> int:
        """The code of tile ``name`` in this palette."""
        return self.names.index(name)


@cache
def make_palette(names: Sequence[str], tile_size: int = TILE_SIZE) -> TilePalette:
    """A palette whose code ``i`` draws ``names[i]`` (pass a tuple; palettes are cached)."""
    names = tuple(names)
    unknown = [n for n in names if n not in _DRAW]
    if unknown:
        raise ValueError(f"unknown tile names {unknown}; known: {', '.join(TILE_NAMES)}")
    if tile_size < 4:
        raise ValueError(f"tile_size must be >= 4 pixels, got {tile_size}")
    bitmaps = np.stack([_DRAW[n](tile_size) for n in names]).astype(np.uint8)
    bitmaps.setflags(write=False)
    return TilePalette(names, tile_size, bitmaps)


def render_tiles(codes: np.ndarray, palette: TilePalette) -> np.ndarray:
    """The RGB ``uint8`` image ``(rows * T, cols * T, 3)`` of a 2-D array of tile codes."""
    rows, cols = codes.shape
    t = palette.tile_size
    # (rows, cols, T, T, 3) -> (rows, T, cols, T, 3): one gather and one copy.
    tiles = palette.bitmaps[codes]
    return tiles.transpose(0, 2, 1, 3, 4).reshape(rows * t, cols * t, 3)


def decode_tiles(image: np.ndarray, palette: TilePalette) -> np.ndarray:
    """Inverse of :func:`render_tiles`: the code of each tile; ``ValueError`` for a tile
    that is not exactly one of the palette's bitmaps."""
    t = palette.tile_size
    height, width = image.shape[:2]
    if height % t or width % t or image.shape[2:] != (3,):
        raise ValueError(f"image of shape {image.shape} is not a grid of {t}px RGB tiles")
    rows, cols = height // t, width // t
    tiles = image.reshape(rows, t, cols, t, 3).transpose(0, 2, 1, 3, 4).reshape(rows, cols, -1)
    flat = palette.bitmaps.reshape(len(palette.names), -1)
    match = (tiles[:, :, None, :] == flat[None, None, :, :]).all(axis=-1)
    if not match.any(axis=-1).all():
        r, c = np.argwhere(~match.any(axis=-1))[0]
        raise ValueError(f"tile at row {r}, column {c} matches no tile of the palette")
    return match.argmax(axis=-1).astype(np.uint8)
