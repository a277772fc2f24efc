"""Liar's Dice rules: OpenSpiel numbering, wild 6s, resolution, and the policies."""

from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.games import liars_dice_rules as rules
from mtenvs.envs.games.liars_dice import LiarsDiceEnv, LiarsDiceGame
from mtenvs.error import InvalidArgumentError


def test_action_numbering_follows_openspiel():
    assert rules.bid_id(1, 1) == 0 and rules.bid_id(1, 6) == 5 and rules.bid_id(2, 4) == 9
    assert rules.bid_of(9) == (2, 4) and rules.bid_label(9) == "2-4"
    state = rules.LiarsDiceState(((1, 2), (3, 4)))
    assert state.liar == 24 and LiarsDiceGame(num_dice=2).num_actions == 25
    assert LiarsDiceGame(num_dice=5).num_actions == 61


def test_sixes_are_wild_except_for_bids_on_sixes():
    assert rules.count_matches((6, 6, 2), 2) == 3
    assert rules.count_matches((6, 2, 3), 6) == 1
    assert rules.count_matches((1, 3), 5) == 0


def test_bids_must_rise_and_liar_needs_a_bid():
    state = rules.LiarsDiceState(((1, 2), (3, 4)))
    assert rules.LiarsDiceState(((1,), (2,))).legal_actions() == list(range(12))
    assert state.liar not in state.legal_actions()
    state.apply(rules.bid_id(2, 3))
    assert state.legal_actions() == [*range(rules.bid_id(2, 4), state.liar), state.liar]
    with pytest.raises(ValueError):
        state.apply(rules.bid_id(1, 6))


@pytest.mark.parametrize(
    ("dice", "bid", "returns"),
    [
        (((3, 6), (3, 1)), (3, 3), (1.0, -1.0)),  # 3, 6 (wild), 3: the bid holds; 1 called
        (((3, 5), (3, 1)), (3, 3), (-1.0, 1.0)),  # only two 3s: the bidder (0) loses
        (((6, 6), (6, 1)), (3, 6), (1.0, -1.0)),
    ],
)
def test_the_call_resolves_against_the_caller_or_the_bidder(dice, bid, returns):
    state = rules.LiarsDiceState(dice)
    state.apply(rules.bid_id(*bid))
    state.apply(state.liar)
    assert state.is_terminal() and state.returns() == returns


def test_policies_never_call_a_bid_their_own_dice_prove():
    rng = np.random.default_rng(0)
    for policy in (rules.heuristic_policy, rules.optimal_policy):
        state = rules.LiarsDiceState(((2, 3), (4, 6)))
        state.apply(rules.bid_id(2, 4))  # player 1 holds a 4 and a wild 6: it holds
        for _ in range(20):
            assert policy(state, rng) in state.legal_actions()
            assert policy(state, rng) != state.liar


def test_optimal_beats_random_and_edges_out_the_heuristic():
    env = LiarsDiceEnv(opponent="random")
    totals = {}
    for opponent in ("random", "heuristic"):
        env = LiarsDiceEnv(opponent=opponent)
        scores = []
        for seed in range(200):
            env.reset(seed=seed)
            while True:
                _, reward, terminated, truncated, _ = env.step(env.oracle_action())
                if terminated or truncated:
                    scores.append(reward)
                    break
        totals[opponent] = float(np.mean(scores))
    assert totals["random"] > 0.6 and totals["heuristic"] > -0.1


def test_num_dice_is_checked():
    with pytest.raises(InvalidArgumentError, match="num_dice"):
        LiarsDiceGame(num_dice=6)
    with pytest.raises(InvalidArgumentError, match="num_dice"):
        LiarsDiceEnv(num_dice=0)
