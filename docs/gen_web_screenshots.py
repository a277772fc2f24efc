"""Screenshots of the web envs' sites for the env cards: ``docs/envs/img/<site>.png``.

Each site is started through its env (``obs_mode="image"``, ``set_of_marks=True``), taken to
a typical page through the action interface, and its observation image (the viewport, with
the set-of-marks boxes labelled by the outline's ids) is saved as a small PNG (< 150 KB).
``mtenvs/WebAdmin-v0`` is included when it is registered.

Run: ``.venv/bin/python docs/gen_web_screenshots.py``. ``docs/gen_env_cards.py`` puts the
images on the cards with :func:`screenshot_markdown`.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import gymnasium as gym
import numpy as np
from PIL import Image

import mtenvs

__all__ = ["IMG", "MAX_BYTES", "SITES", "save_png", "screenshot_markdown", "take"]

IMG = Path(__file__).resolve().parent / "envs" / "img"
MAX_BYTES = 150_000


@dataclass(frozen=True)
class SiteShot:
    """How to photograph one site: its env id and the actions that lead to a typical page
    (``oracle_until_left`` more oracle actions while the URL path is still that path)."""

    env_id: str
    actions: tuple[str, ...] = ()
    oracle_until_left: str | None = None
    eval_task: int = 0


SITES: dict[str, SiteShot] = {
    "shop": SiteShot("mtenvs/WebShop-v0", ("goto(/search?q=mouse&sort=price_asc)",)),
    "wiki": SiteShot("mtenvs/WebWiki-v0", ("goto(/wiki/Velmora)",)),
    # the admin site starts signed out: its oracle signs in, then the page is its first
    "admin": SiteShot("mtenvs/WebAdmin-v0", oracle_until_left="/login"),
}


def _site_envs() -> dict[str, SiteShot]:
    """The sites whose env id is registered in this checkout."""
    ids = set(mtenvs.list_envs())
    return {site: shot for site, shot in SITES.items() if shot.env_id in ids}


def take(shot: SiteShot) -> np.ndarray:
    """The observation image of ``shot``'s typical page (set-of-marks boxes drawn)."""
    env = gym.make(shot.env_id, obs_mode="image", set_of_marks=True, eval_set=True)
    try:
        obs, _ = env.reset(seed=shot.eval_task)
        for action in shot.actions:
            obs, *_, info = env.step(f"<action>{action}</action>")
            if info["last_action_error"] or info["parse_error"]:
                raise RuntimeError(f"{shot.env_id}: {action} failed: {info}")
        if shot.oracle_until_left is not None:
            for _ in range(12):
                url = env.unwrapped.session.page.url
                if urlsplit(url).path != shot.oracle_until_left:
                    break
                obs, *_ = env.step(env.unwrapped.oracle_action())
        image: np.ndarray = obs["image"]
        return image
    finally:
        env.close()


def save_png(image: np.ndarray, path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Save ``image`` as an optimized PNG under ``max_bytes`` (fewer colours if need be);
    the file's size."""
    full = Image.fromarray(image, "RGB")
    for colours in (None, 128, 64, 32):
        img = full if colours is None else full.quantize(colours, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(buffer.getvalue())
            return buffer.tell()
    raise ValueError(f"{path.name}: no PNG of the screenshot fits in {max_bytes} bytes.")


def screenshot_markdown(env_id: str) -> str:
    """Markdown showing the screenshot(s) of ``env_id``'s site(s) on its card (relative to
    ``docs/envs/``), or ``""`` when the env has no site screenshot."""
    sites = [s for s, shot in SITES.items() if shot.env_id == env_id]
    if env_id == "mtenvs/Web-v0":
        sites = list(SITES)
    lines = [
        f"![The {site} site, with set-of-marks ids](img/{site}.png)"
        for site in sites
        if (IMG / f"{site}.png").is_file()
    ]
    return "\n\n".join(lines) + "\n" if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sites", nargs="*", help="sites to photograph (default: all registered)")
    args = parser.parse_args()
    available = _site_envs()
    unknown = sorted(set(args.sites) - set(available))
    if unknown:
        parser.error(f"unknown or unregistered sites {unknown}; choose from {sorted(available)}")
    for site in args.sites or available:
        size = save_png(take(available[site]), IMG / f"{site}.png")
        print(f"wrote docs/envs/img/{site}.png ({size // 1000} KB)")


if __name__ == "__main__":
    main()
