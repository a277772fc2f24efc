"""The single-agent game ids: opponents, seats, rewards, agent opponents."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import OracleAgent, RandomAgent
from mtenvs.envs.games.connect_four import ConnectFourEnv
from mtenvs.envs.games.kuhn_poker import KuhnPokerEnv
from mtenvs.envs.games.leduc_holdem import LeducHoldemEnv
from mtenvs.envs.games.tictactoe import TicTacToeEnv
from mtenvs.error import InvalidArgumentError

IDS = [
    "mtenvs/TicTacToe-v0",
    "mtenvs/ConnectFour-v0",
    "mtenvs/KuhnPoker-v0",
    "mtenvs/LeducHoldem-v0",
    "mtenvs/LiarsDice-v0",
    "mtenvs/Hanabi-v0",
    "mtenvs/Negotiation-v0",
]


def play(env, policy, seed):
    obs, info = env.reset(seed=seed)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(env))
        total += reward
        if terminated or truncated:
            return total, info, obs


def random_policy(rng):
    return lambda env: env.unwrapped.random_action(rng)


def oracle(env):
    return env.unwrapped.oracle_action()


@pytest.mark.parametrize("play_as", [0, 1])
def test_tictactoe_optimal_opponent_never_loses_and_oracle_draws(play_as):
    env = gym.make("mtenvs/TicTacToe-v0", opponent="optimal", play_as=play_as)
    rng = np.random.default_rng(0)
    for seed in range(15):
        total, info, _ = play(env, random_policy(rng), seed)
        assert total <= 0 and info["seat"] == play_as
        total, info, obs = play(env, oracle, seed)
        assert total == 0 and "a draw" in obs
        assert info["returns"] == [0.0, 0.0] and not info["success"]


def test_oracle_beats_weak_opponents():
    for env_id, opponent in [
        ("mtenvs/TicTacToe-v0", "random"),
        ("mtenvs/ConnectFour-v0", "random"),
    ]:
        env = gym.make(env_id, opponent=opponent)
        scores = [play(env, oracle, seed)[0] for seed in range(6)]
        assert min(scores) >= 0 and np.mean(scores) > 0.5


def test_kuhn_oracle_against_nash_earns_the_game_value():
    env = KuhnPokerEnv(opponent="optimal")
    scores, seats = [], []
    for seed in range(3000):
        total, info, _ = play(env, oracle, seed)
        scores.append(total * 2)  # outcome is chips / 2
        seats.append(info["seat"])
    scores, seats = np.array(scores), np.array(seats)
    # Seat 0 expects -1/18 and seat 1 +1/18 chip per hand under the equilibrium.
    assert abs(scores[seats == 0].mean() + 1 / 18) < 0.12
    assert abs(scores[seats == 1].mean() - 1 / 18) < 0.12


def test_poker_rewards_are_normalised_chips():
    env = LeducHoldemEnv(opponent="random", play_as=0)
    rng = np.random.default_rng(1)
    for seed in range(30):
        total, info, _ = play(env, random_policy(rng), seed)
        assert total == pytest.approx(info["returns"][0] / 13)
        assert -1 <= total <= 1


def test_kuhn_heuristic_opponent_loses_exactly_the_lower_card_hands():
    # the documented reason all agents share one success rate against `heuristic`
    env = gym.make("mtenvs/KuhnPoker-v0")
    rng = np.random.default_rng(0)
    returns = {}
    for policy in ("random", "bet", "check"):
        total = 0.0
        for seed in range(200):
            obs, info = env.reset(seed=seed)
            opponent = env.unwrapped.privileged()["opponent_card"]
            mine = obs.split("Your card: ")[1][0]
            done = False
            while not done:
                reply = (
                    env.unwrapped.random_action(rng)
                    if policy == "random"
                    else f"<action>{policy}</action>"
                )
                _, reward, terminated, truncated, info = env.step(reply)
                total += reward
                done = terminated or truncated
            assert info["success"] == ("JQK".index(mine) > "JQK".index(opponent))
        returns[policy] = total
    assert len(set(returns.values())) == 3  # the chips differ


def test_observation_and_info_at_reset():
    env = KuhnPokerEnv(opponent="optimal", play_as=1)
    obs, info = env.reset(seed=0)
    assert "You are player_1" in obs and "Your turn" in obs
    assert info["seat"] == 1 and len(info["opponent_moves"]) == 1
    assert info["legal_moves"] in (["check", "bet"], ["fold", "call"])
    assert "player_1" in info["system_prompt"]
    assert set(env.privileged()) == {"opponent_card", "nash_value", "nash_policy"}
    assert env.privileged()["nash_value"] == pytest.approx(1 / 18)


def test_illegal_reply_costs_format_penalty_and_lists_legal_moves():
    env = TicTacToeEnv(play_as=0)
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step("<action>42</action>")
    assert reward == -0.1 and not terminated and "Legal moves: 0, 1" in obs
    assert info["parse_error"]
    obs, reward, *_ = env.step(4)  # an integer id works too
    assert reward == 0.0 and info["legal_moves"]


def test_task_id_replays_the_same_deal():
    env = LeducHoldemEnv()
    _, info = env.reset(seed=3)
    cards = env.unwrapped._game.game.cards
    env.reset(seed=99)
    _, again = env.reset(options={"task_id": info["task_id"]})
    assert again["task_id"] == info["task_id"] and env._game.game.cards == cards
    with pytest.raises(InvalidArgumentError, match="leducholdem-"):
        env.reset(options={"task_id": "tictactoe-0000000001-p0"})


@pytest.mark.parametrize("agent", [RandomAgent(seed=0), OracleAgent()])
def test_any_agent_can_be_the_opponent(agent):
    env = ConnectFourEnv(opponent=agent, play_as=0)
    _, info, _ = play(env, oracle, 0)
    assert info["returns"][0] == -info["returns"][1]


def test_agent_opponent_invalid_replies_fall_back_to_a_random_move():
    class Stubborn:
        name = "stubborn"
        calls = 0

        def act(self, batch):
            Stubborn.calls += 1
            return ["no idea"] * len(batch)

    env = TicTacToeEnv(opponent=Stubborn(), play_as=1)
    _, info = env.reset(seed=0)
    assert len(info["opponent_moves"]) == 1 and Stubborn.calls == 3  # max_illegal=2 retries


def test_bad_arguments_name_the_choices():
    with pytest.raises(InvalidArgumentError, match="opponent"):
        TicTacToeEnv(opponent="minimax")
    with pytest.raises(InvalidArgumentError, match="play_as"):
        TicTacToeEnv(play_as=2)
    with pytest.raises(InvalidArgumentError, match="obs_mode"):
        KuhnPokerEnv(obs_mode="image")


@pytest.mark.parametrize("env_id", IDS[:2])
def test_image_observations(env_id):
    env = gym.make(env_id, obs_mode="text+image")
    obs, _ = env.reset(seed=0)
    assert obs["image"].dtype == np.uint8 and obs["image"].shape[2] == 3
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", IDS)
def test_reference_configs_cover_every_opponent_level(env_id):
    cls = type(gym.make(env_id).unwrapped)
    # every level once; the first is the headline (make demo, the trained agent)
    assert sorted(c["opponent"] for c in cls.reference_configs) == sorted(
        ["random", "heuristic", "optimal"]
    )
    for config in cls.reference_configs:
        env = gym.make(env_id, **config)
        play(env, random_policy(np.random.default_rng(0)), 0)


@pytest.mark.parametrize("env_id", IDS[:2])
def test_image_mode_text_has_no_board(env_id):
    """Under obs_mode="image" the board is only in the picture: no board rows, no move
    history, no legal moves; the moves since the agent's last one are told."""
    env = gym.make(env_id, obs_mode="image", play_as=0)
    obs, info = env.reset(seed=0)
    assert "picture" in info["system_prompt"]
    assert "No move played yet." in obs["text"] and "Your turn." in obs["text"]
    game = env.unwrapped._game
    while env.unwrapped.episode_active:
        text = obs["text"]
        assert "Legal moves" not in text and "Moves so far" not in text
        assert not [row for row in game.view(0).splitlines()[1:] if row in text.splitlines()]
        obs, *_ = env.step(env.unwrapped.oracle_action())
        if env.unwrapped.episode_active:
            assert obs["text"].splitlines()[2].startswith("Since your last move: player_1 ")
    assert "Game over" in obs["text"]
