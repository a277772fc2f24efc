"""docs/gen_web_screenshots.py: small PNGs, and the Markdown the env cards embed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

_SCRIPT = Path(__file__).resolve().parents[3] / "docs" / "gen_web_screenshots.py"
_spec = importlib.util.spec_from_file_location("gen_web_screenshots", _SCRIPT)
assert _spec is not None and _spec.loader is not None
shots = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = shots  # dataclasses look their module up there
_spec.loader.exec_module(shots)


def test_save_png_fits_the_size_limit_and_keeps_the_picture(tmp_path):
    rng = np.random.default_rng(0)
    page = np.full((600, 800, 3), 255, np.uint8)
    page[100:300, 50:700] = rng.integers(0, 256, (200, 650, 3), dtype=np.uint8)
    size = shots.save_png(page, tmp_path / "x.png", max_bytes=150_000)
    assert size == (tmp_path / "x.png").stat().st_size <= 150_000
    back = np.asarray(Image.open(tmp_path / "x.png").convert("RGB"))
    assert back.shape == page.shape and (back[400:] == 255).all()


def test_shipped_screenshots_are_small_and_on_the_cards():
    for site, shot in shots.SITES.items():
        path = shots.IMG / f"{site}.png"
        assert path.is_file() and path.stat().st_size < shots.MAX_BYTES, site
        assert Image.open(path).size == (800, 600)
        assert f"(img/{site}.png)" in shots.screenshot_markdown(shot.env_id)
    assert shots.screenshot_markdown("mtenvs/Web-v0").count("![") == len(shots.SITES)
    assert shots.screenshot_markdown("mtenvs/Sokoban-v0") == ""
