"""The games table is the one spelling of every game: registered ids, AEC metadata names,
task ids, self-play names and the PettingZoo import path all derive from it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import gymnasium as gym
import pytest

import mtenvs.envs.games  # registers the game ids
import mtenvs.games
from mtenvs.core.registry import list_envs
from mtenvs.envs.games.aec import TextGameEnv
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.games.table import GAMES, GameSpec
from mtenvs.rollout import selfplay

ROWS = list(GAMES.values())
NAMES = list(GAMES)
GAMES_DIR = Path(mtenvs.envs.games.__file__).parent

#: The public spellings, pinned: changing any of them changes ids users and results know.
PINNED = {
    "tictactoe": ("mtenvs/TicTacToe-v0", "tictactoe_v0", "tictactoe"),
    "connect_four": ("mtenvs/ConnectFour-v0", "connect_four_v0", "connectfour"),
    "kuhn_poker": ("mtenvs/KuhnPoker-v0", "kuhn_poker_v0", "kuhnpoker"),
    "leduc_holdem": ("mtenvs/LeducHoldem-v0", "leduc_holdem_v0", "leducholdem"),
    "liars_dice": ("mtenvs/LiarsDice-v0", "liars_dice_v0", "liarsdice"),
    "hanabi": ("mtenvs/Hanabi-v0", "hanabi_v0", "hanabi"),
    "negotiation": ("mtenvs/Negotiation-v0", "negotiation_v0", "negotiation"),
}


def spellings(game: GameSpec) -> dict[str, str]:
    return {
        "name": game.name,
        "id_name": game.id_name,
        "title": game.title,
        "module": game.module,
        "game_class": game.game_class,
        "env_class": game.env_class,
        "env_id": game.env_id,
        "pettingzoo_name": game.pettingzoo_name,
        "import_path": game.import_path,
        "task_name": game.task_name,
    }


def test_pinned_spellings():
    assert {g.name: (g.env_id, g.pettingzoo_name, g.task_name) for g in ROWS} == PINNED


def test_every_spelling_is_unique_and_well_formed():
    for field in spellings(ROWS[0]):
        values = [spellings(g)[field] for g in ROWS]
        assert len(set(values)) == len(values), field
    for game in ROWS:
        assert GAMES[game.name] is game
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", game.name), game.name
        assert re.fullmatch(r"(?:[A-Z][a-z]+)+", game.id_name), game.id_name
        # Task ids are parsed with [a-z]+ (single.py), and read as the id without case.
        assert re.fullmatch(r"[a-z]+", game.task_name)
        assert game.task_name == game.id_name.lower()


@pytest.mark.parametrize("game", ROWS, ids=NAMES)
def test_game_module_takes_its_names_from_its_row(game: GameSpec):
    module = importlib.import_module(game.module)
    assert module.GAME is game
    game_class = getattr(module, game.game_class)
    env_class = getattr(module, game.env_class)
    assert issubclass(game_class, TextGameEnv) and issubclass(env_class, GameEnv)
    assert module.raw_env is game_class
    assert game_class.metadata["name"] == game.pettingzoo_name
    assert game_class.title == game.title
    assert env_class.game_class is game_class
    assert env_class.game_name == game.task_name
    assert {game.env_class, game.game_class, "env", "raw_env"} <= set(module.__all__)


@pytest.mark.parametrize("game", ROWS, ids=NAMES)
def test_task_ids_start_with_the_task_name(game: GameSpec):
    env_class = getattr(importlib.import_module(game.module), game.env_class)
    env = env_class(opponent="random", play_as=1)
    _, info = env.reset(seed=42)
    assert re.fullmatch(rf"{game.task_name}-\d{{10}}-p1", info["task_id"])
    assert env.reset(options={"task_id": info["task_id"]})[1]["task_id"] == info["task_id"]


def test_registered_game_ids_are_the_table():
    package = f"{mtenvs.envs.games.__name__}."
    games = {i for i in list_envs() if str(gym.spec(i).entry_point).startswith(package)}
    assert games == {g.env_id for g in ROWS}
    for game in ROWS:
        spec = gym.spec(game.env_id)
        assert spec.entry_point == game.entry_point
        assert type(spec.make().unwrapped).__name__ == game.env_class


def test_selfplay_names_are_the_table():
    assert {g.name: g.module for g in ROWS} == selfplay.GAMES
    assert list(selfplay.GAMES) == NAMES


def test_pettingzoo_import_path_is_the_table():
    modules = {m.name for m in pkgutil.iter_modules(mtenvs.games.__path__)}
    assert modules == {g.pettingzoo_name for g in ROWS}
    assert sorted(mtenvs.games.__all__) == sorted(modules)
    for game in ROWS:
        path = importlib.import_module(game.import_path)
        source = importlib.import_module(game.module)
        assert path.env is source.env and path.raw_env is source.raw_env
        assert sorted(path.__all__) == ["env", "raw_env"]


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, leaving out docstrings, ``__all__`` lists and the
    key of ``GAMES["<name>"]``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip.update(id(n) for n in ast.walk(node.value))
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "GAMES":
            skip.add(id(node.slice))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def test_no_module_spells_a_game_outside_the_table():
    # The game modules name their own row once, GAMES["<name>"] (checked above to be their
    # own row); nothing else spells a game.
    spelled = {value for game in ROWS for value in spellings(game).values()}
    paths = [
        *sorted(GAMES_DIR.glob("*.py")),
        *sorted(Path(mtenvs.games.__file__).parent.glob("*.py")),
        Path(selfplay.__file__),
    ]
    found = []
    for path in paths:
        if path.name == "table.py":
            continue
        for line, value in _string_literals(path):
            if value in spelled:
                found.append(f"{path.name}:{line}: {value!r}")
    assert not found, "spell games through mtenvs.envs.games.table.GAMES:\n" + "\n".join(found)
