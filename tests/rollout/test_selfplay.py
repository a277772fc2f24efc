from __future__ import annotations

import importlib

import numpy as np
import pytest

from mtenvs.agents import OracleAgent, RandomAgent
from mtenvs.envs.games import tictactoe
from mtenvs.error import InvalidArgumentError
from mtenvs.rollout.selfplay import GAMES, collect_selfplay, compute_advantages


class CountingAgent(RandomAgent):
    def __init__(self) -> None:
        super().__init__(seed=0)
        self.batches: list[int] = []

    def act(self, batch):
        self.batches.append(len(batch))
        assert all(item.messages[0]["role"] == "system" for item in batch)
        assert all(item.messages[-1]["role"] == "user" for item in batch)
        return super().act(batch)


@pytest.mark.parametrize("game", list(GAMES))
def test_selfplay_records_every_seat(game):
    agent = CountingAgent()
    episodes = collect_selfplay(game, agent, episodes=8, seed=0)
    assert len(episodes) == 8 and agent.batches[0] == 8  # one batched call per round
    for ep in episodes:
        if importlib.import_module(GAMES[game]).raw_env().zero_sum:
            assert sum(ep.payoffs.values()) == pytest.approx(0.0)
        for name, traj in ep.trajectories.items():
            assert name in traj.messages[0]["content"]  # role-conditioned prompt
            assert len(traj.replies) == len(traj.rewards) == len(traj.returns)
            assert traj.total_reward == pytest.approx(ep.payoffs[name])
            if traj.returns:
                assert traj.returns[0] == pytest.approx(traj.total_reward)


def test_rewards_land_on_the_last_turn_and_discounting():
    ep = collect_selfplay("tictactoe", RandomAgent(seed=2), episodes=1, seed=0, gamma=0.5)[0]
    traj = ep.trajectories["player_0"]
    assert traj.rewards[:-1] == [0.0] * (len(traj.rewards) - 1)
    assert traj.returns[-2] == pytest.approx(0.5 * traj.rewards[-1])


def test_invalid_replies_are_turns_with_penalties():
    class Garbage:
        name = "garbage"

        def act(self, batch):
            return ["???"] * len(batch)

    def make():
        return tictactoe.raw_env(max_illegal=1, illegal_penalty=0.1)

    ep = collect_selfplay(make, Garbage(), episodes=1)[0]
    traj = ep.trajectories["player_0"]
    assert traj.invalid == [True, True] and ep.payoffs["player_0"] == pytest.approx(-1.2)
    assert ep.trajectories["player_1"].replies == [] and ep.payoffs["player_1"] == 1.0


def test_advantages_are_normalised_per_role():
    episodes = collect_selfplay("connect_four", RandomAgent(seed=1), episodes=20, seed=0)
    adv = compute_advantages(episodes)
    for agent in ("player_0", "player_1"):
        values = np.concatenate([a[agent] for a in adv])
        assert abs(values.mean()) < 1e-6 and abs(values.std() - 1) < 1e-3
    raw = compute_advantages(episodes, normalize="none")
    assert raw[0]["player_0"] == episodes[0].trajectories["player_0"].returns
    glob = np.concatenate(
        [v for a in compute_advantages(episodes, normalize="global") for v in a.values()]
    )
    assert abs(glob.mean()) < 1e-6


def test_oracle_selfplay_of_tictactoe_is_always_a_draw():
    episodes = collect_selfplay("tictactoe", OracleAgent(), episodes=3)
    assert all(ep.payoffs == {"player_0": 0.0, "player_1": 0.0} for ep in episodes)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="game"):
        collect_selfplay("chess", RandomAgent())
    with pytest.raises(InvalidArgumentError, match="act"):
        collect_selfplay("tictactoe", object())
