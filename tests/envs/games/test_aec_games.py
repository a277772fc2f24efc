"""PettingZoo API, seeding and rendering tests for every AEC game, plus the text interface."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, render_test, seed_test

from mtenvs.error import InvalidArgumentError
from mtenvs.games import (
    connect_four_v0,
    hanabi_v0,
    kuhn_poker_v0,
    leduc_holdem_v0,
    liars_dice_v0,
    negotiation_v0,
    tictactoe_v0,
)

MODULES = [
    tictactoe_v0,
    connect_four_v0,
    kuhn_poker_v0,
    leduc_holdem_v0,
    liars_dice_v0,
    hanabi_v0,
    negotiation_v0,
]
IDS = [m.__name__.rsplit(".", 1)[-1] for m in MODULES]


@pytest.fixture(autouse=True)
def _quiet():
    # api_test warns that text observations are not numpy arrays: expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("module", MODULES, ids=IDS)
@pytest.mark.parametrize("outcome", ["forfeit", "random"])
def test_api(module, outcome):
    api_test(module.env(illegal_outcome=outcome), num_cycles=200)
    api_test(module.env(illegal_outcome=outcome, max_illegal=0), num_cycles=50)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_seed(module):
    seed_test(module.env, num_cycles=100)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_render(module, capsys):
    render_test(lambda render_mode=None: module.env(render_mode=render_mode))
    env = module.env(render_mode="ansi")
    env.reset(seed=0)
    assert module.raw_env().title in env.render()


@pytest.mark.parametrize("module", [tictactoe_v0, connect_four_v0], ids=IDS[:2])
def test_board_image(module):
    env = module.env(render_mode="rgb_array")
    env.reset(seed=0)
    empty = env.render()
    env.step(3)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert not np.array_equal(image, empty)


def play_texts(module, seed, replies):
    env = module.raw_env(illegal_outcome="random", max_illegal=1)
    env.reset(seed=seed)
    record = []
    for reply in replies:
        if env.game.is_terminal():
            env.reset()
        env.step(reply)
        agent = env.agent_selection
        record.append((env.observe(agent)["text"], dict(env.rewards), env.infos[agent]["error"]))
    return record


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_fuzzed_replies_never_raise_and_seeds_determine_play(module):
    rng = np.random.default_rng(0)
    words = [
        "<action>",
        "</action>",
        "column",
        "cell",
        "call",
        "raise",
        "fold",
        "check",
        "bet",
        "3",
        "0",
        "1",
        "99",
        "-1",
        "é",
        "\n",
        "<tool_call>",
        "{",
        "}",
    ]
    replies: list[object] = []
    for i in range(600):
        kind = i % 6
        if kind == 0:
            replies.append(" ".join(rng.choice(words, size=int(rng.integers(0, 8)))))
        elif kind == 1:
            replies.append(int(rng.integers(-3, 12)))
        elif kind == 2:
            replies.append({"name": "play", "arguments": {"move": str(rng.choice(words))}})
        elif kind == 3:
            replies.append([None, 2.5, b"3", ("call",), {"content": None}, True][i % 6])
        elif kind == 4:
            replies.append("x" * int(rng.integers(0, 300_000)) if i % 60 == 4 else "")
        else:
            replies.append(f"<action>{rng.choice(words)}</action>")
    first = play_texts(module, 5, replies)
    assert play_texts(module, 5, replies) == first


@pytest.mark.parametrize(
    ("module", "reply", "expected"),
    [
        (tictactoe_v0, "<action>4</action>", 4),
        (tictactoe_v0, "cell 7", 7),
        (tictactoe_v0, "I think\n\n4", 4),
        (tictactoe_v0, {"name": "play", "arguments": {"move": "2"}}, 2),
        (tictactoe_v0, '<tool_call>{"name": "play", "arguments": {"cell": 5}}</tool_call>', 5),
        (tictactoe_v0, np.int64(8), 8),
        (connect_four_v0, "column 3", 3),
        (connect_four_v0, "<action>Column 6.</action>", 6),
        (connect_four_v0, "drop it in column 0", 0),
        (kuhn_poker_v0, "<action>BET</action>", 1),
        (kuhn_poker_v0, "check", 0),
        (kuhn_poker_v0, "pass", 0),
        (leduc_holdem_v0, "<think>raise?</think><action>check</action>", 1),
        (leduc_holdem_v0, "I bet", 2),
        (leduc_holdem_v0, "<action>2</action>", 2),
        (liars_dice_v0, "<action>2-4</action>", 9),
        (liars_dice_v0, "I bid 2 x 5", 10),
        (liars_dice_v0, "bid 3 of 2", 13),
        (liars_dice_v0, 0, 0),
        (hanabi_v0, "<action>play 0</action>", 3),
        (hanabi_v0, "play card 2", 5),
        (hanabi_v0, "hint red", 6),
        (hanabi_v0, "tell them about the 1s", 9),
        (negotiation_v0, "<action>propose 1 0 1</action>", 26),
        (negotiation_v0, "take 2 books and 1 ball", 51),
        (negotiation_v0, "<message>hello</message>", 126),
        (negotiation_v0, {"name": "play", "arguments": {"move": "talk", "message": "hi"}}, 126),
    ],
)
def test_lenient_parsing(module, reply, expected):
    env = module.raw_env()
    env.reset(seed=0)
    assert env.parse_move(reply) == (expected, None)


@pytest.mark.parametrize(
    ("module", "reply"),
    [
        (tictactoe_v0, "<action>9</action>"),
        (tictactoe_v0, "cells 1 and 2"),
        (tictactoe_v0, "I will think about it for a while and then maybe play the cell 4 or 5"),
        (tictactoe_v0, True),
        (connect_four_v0, "column 7"),
        (leduc_holdem_v0, "fold"),  # nothing owed: folding is not legal
        (leduc_holdem_v0, "check or raise"),
        (liars_dice_v0, "liar"),  # no bid to call yet
        (liars_dice_v0, "2-4 or liar"),
        (liars_dice_v0, "9-1"),
        (hanabi_v0, "discard 0"),  # all 8 hint tokens: no discarding
        (hanabi_v0, "play 7"),
        (hanabi_v0, "hint red or 1"),
        (negotiation_v0, "accept"),  # nothing on the table
        (negotiation_v0, "walk away"),  # only once a proposal is on the table
        (negotiation_v0, "propose 9 9 9"),
    ],
)
def test_rejected_replies(module, reply):
    env = module.raw_env()
    env.reset(seed=0)
    move, error = env.parse_move(reply)
    assert move is None and "Legal moves" in error


def test_illegal_moves_get_retries_then_forfeit():
    env = tictactoe_v0.raw_env(max_illegal=2, illegal_penalty=0.1)
    env.reset(seed=0)
    env.step(4)
    for tries in (1, 2):
        env.step("<action>4</action>")  # occupied
        assert env.agent_selection == "player_1"
        assert env.infos["player_1"]["illegal_moves"] == tries
        assert "Tries left before forfeit" in env.observe("player_1")["text"]
        assert env.rewards["player_1"] == pytest.approx(-0.1)
    env.step("nonsense")
    assert all(env.terminations.values())
    assert env.infos["player_1"]["forfeit"] and not env.infos["player_0"]["forfeit"]
    assert env.rewards == {"player_0": 1.0, "player_1": pytest.approx(-1.1)}
    assert "forfeited" in env.observe("player_0")["text"]


def test_illegal_moves_then_random_move():
    env = connect_four_v0.raw_env(max_illegal=0, illegal_outcome="random")
    env.reset(seed=0)
    env.step("column 9")
    assert env.agent_selection == "player_1" and len(env.game.history) == 1
    assert env.infos["player_0"]["random_moves"] == 1
    assert "random legal move" in env.observe("player_0")["text"]


def test_text_observation_shows_role_history_and_legal_moves():
    env = kuhn_poker_v0.raw_env()
    env.reset(seed=3)
    env.step("bet")
    text = env.observe("player_1")["text"]
    assert "You are player_1" in text and "player_0 bet" in text
    assert "Legal moves: fold, call" in text
    assert env.infos["player_1"]["legal_moves"] == ["fold", "call"]
    assert env.infos["player_1"]["action_mask"].tolist() == [1, 1]
    own = env.game.cards[1]
    assert "JQK"[own] in text.split("Your card: ")[1][:1]
    assert "Waiting for player_1" in env.observe("player_0")["text"]
    assert "player_1" in env.system_prompt("player_1")


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="illegal_outcome"):
        tictactoe_v0.env(illegal_outcome="lose")
    with pytest.raises(InvalidArgumentError, match="max_illegal"):
        tictactoe_v0.env(max_illegal=-1)
