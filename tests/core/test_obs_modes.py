"""``obs_mode`` over every suite id with a picture: under ``"image"`` the picture is needed.

The same seed and the same replies are played in the three modes side by side. The
``"image"`` text holds no text rendering of the state (the grid worlds' board, the games'
board, move history and legal moves, the web page outline) and its image changes as the
state does; ``"text+image"`` is exactly the ``"text"`` observation plus the same image.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mtenvs
from mtenvs.core.registry import env_class
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.grid.maze import MazeEnv
from mtenvs.envs.grid.sokoban import SokobanEnv
from mtenvs.envs.web.env import WebEnv

IMAGE_IDS = [
    env_id
    for env_id in mtenvs.list_envs(suite=True)
    if "image" in env_class(env_id).supported_obs_modes()
]
#: Replies per episode (a browser step costs far more than a grid or game one).
STEPS = {WebEnv: 2, GameEnv: 6, MazeEnv: 8, SokobanEnv: 8}
MODES = ("text", "image", "text+image")


def _family(env_id: str) -> type:
    cls = env_class(env_id)
    return next(base for base in STEPS if issubclass(cls, base))


def test_every_image_family_is_covered():
    assert {"mtenvs/Maze-v0", "mtenvs/Sokoban-v0", "mtenvs/TicTacToe-v0"} <= set(IMAGE_IDS)
    assert {"mtenvs/WebShop-v0", "mtenvs/ConnectFour-v0"} <= set(IMAGE_IDS)
    for env_id in IMAGE_IDS:
        _family(env_id)  # a new image env needs its state rendering named here


def _state_lines(env: Any, text: str) -> list[str]:
    """The lines of the ``"text"``-mode observation ``text`` that draw the state."""
    base = env.unwrapped
    if isinstance(base, (MazeEnv, SokobanEnv)):
        return base.render_text().splitlines()
    if isinstance(base, GameEnv):
        game = base._game
        board = game.view(base._seat).splitlines()[1:]
        return [*board, game.history_text()]
    # Web: the page outline, everything after "Page:".
    return text.split("\nPage:\n", 1)[1].splitlines()


def _reply(env: Any, text: str, rng: np.random.Generator) -> str:
    """The oracle's reply where there is one; else (MiniWoB++) an action on the first
    checkbox, textbox or button of the outline, which changes the page."""
    base = env.unwrapped
    if getattr(type(base), "has_oracle", True):
        return base.oracle_action()
    match = re.search(r"\[(\d+)\] (checkbox|textbox|button)", text)
    if match is None:
        return base.random_action(rng)
    if match.group(2) == "textbox":
        return f"<action>type({match.group(1)}, hello)</action>"
    return f"<action>click({match.group(1)})</action>"


def _check(env: Any, text: str, image_obs: dict[str, Any], both_obs: dict[str, Any]) -> None:
    assert isinstance(text, str)
    assert both_obs["text"] == text
    assert np.array_equal(both_obs["image"], image_obs["image"])
    assert image_obs["image"].dtype == np.uint8 and image_obs["image"].ndim == 3
    image_lines = set(image_obs["text"].splitlines())
    drawn = [line for line in _state_lines(env, text) if line.strip()]
    assert drawn, "the text mode draws the state"
    shown = [line for line in drawn if line in image_lines]
    assert not shown, f"the image-mode text draws the state: {shown[:3]}"
    base = env.unwrapped
    if isinstance(base, MazeEnv):
        assert "row" not in image_obs["text"] and "column" not in image_obs["text"]
    if isinstance(base, SokobanEnv):
        assert "Boxes on targets" not in image_obs["text"]
    if isinstance(base, GameEnv):
        assert "Legal moves" not in image_obs["text"]


@pytest.mark.parametrize("env_id", IMAGE_IDS)
def test_image_mode_needs_the_image(env_id):
    if issubclass(env_class(env_id), WebEnv):
        from tests.envs.web._support import require_browser

        require_browser()
    envs = {mode: gym.make(env_id, obs_mode=mode) for mode in MODES}
    try:
        seed = 3
        results = {mode: env.reset(seed=seed) for mode, env in envs.items()}
        text_env = envs["text"]
        prompts = {mode: info["system_prompt"] for mode, (_, info) in results.items()}
        assert prompts["text+image"] == prompts["text"]
        obs = {mode: result[0] for mode, result in results.items()}
        _check(text_env, obs["text"], obs["image"], obs["text+image"])
        images = [obs["image"]["image"]]
        rng = np.random.default_rng(seed)
        for _ in range(STEPS[_family(env_id)]):
            reply = _reply(text_env, obs["text"], rng)
            steps = {mode: env.step(reply) for mode, env in envs.items()}
            obs = {mode: step[0] for mode, step in steps.items()}
            # The three modes play the same episode: rewards, ends and infos agree.
            first = steps["text"][1:]
            for mode in ("image", "text+image"):
                assert steps[mode][1:4] == first[:3]
                assert steps[mode][4]["state_key"] == first[3]["state_key"]
            _check(text_env, obs["text"], obs["image"], obs["text+image"])
            images.append(obs["image"]["image"])
            if steps["text"][2] or steps["text"][3]:
                break
        assert any(not np.array_equal(images[0], later) for later in images[1:]), (
            "the image never changed while the state did"
        )
    finally:
        for env in envs.values():
            env.close()


@pytest.mark.parametrize("env_id", [i for i in IMAGE_IDS if not issubclass(env_class(i), WebEnv)])
def test_image_mode_system_prompt_describes_the_picture(env_id):
    env = gym.make(env_id, obs_mode="image")
    _, info = env.reset(seed=0)
    prompt = info["system_prompt"]
    assert "picture" in prompt
    # No legend of text symbols the agent is never shown.
    assert "'#' wall" not in prompt and "`#` wall" not in prompt
    assert "legal moves" not in prompt
    env.close()
