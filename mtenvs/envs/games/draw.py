"""Tiny numpy drawing helpers for game board images (no pygame needed)."""

from __future__ import annotations

import numpy as np

__all__ = ["canvas", "disc", "ring", "segment"]

Color = tuple[int, int, int]


def canvas(height: int, width: int, color: Color) -> np.ndarray:
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = color
    return img


def _grid(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return ys, xs


def disc(img: np.ndarray, cy: float, cx: float, radius: float, color: Color) -> None:
    ys, xs = _grid(img)
    img[(ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2] = color


def ring(img: np.ndarray, cy: float, cx: float, radius: float, width: float, color: Color) -> None:
    ys, xs = _grid(img)
    d = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
    img[(d <= radius) & (d >= radius - width)] = color


def segment(
    img: np.ndarray, y0: float, x0: float, y1: float, x1: float, width: float, color: Color
) -> None:
    """A thick straight line from (y0, x0) to (y1, x1)."""
    ys, xs = _grid(img)
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((ys - y0) * dy + (xs - x0) * dx) / max(dy * dy + dx * dx, 1e-9), 0.0, 1.0)
    dist2 = (ys - (y0 + t * dy)) ** 2 + (xs - (x0 + t * dx)) ** 2
    img[dist2 <= (width / 2) ** 2] = color
