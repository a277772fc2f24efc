from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.games.leduc_holdem_rules import (
    CALL,
    FOLD,
    MAX_WIN,
    RAISE,
    LeducState,
    deal,
    hand_strength,
    heuristic_policy,
    random_policy,
    showdown_equity,
    strong_policy,
)

J, Q, K = 0, 2, 4  # one card of each rank (spades)


def play(actions, cards=(J, K), public=Q):
    state = LeducState(cards, public)
    for a in actions:
        state.apply(a)
    return state


def test_fold_is_legal_only_facing_a_bet():
    state = LeducState((J, K), Q)
    assert state.legal_actions() == [CALL, RAISE]
    state.apply(RAISE)
    assert state.legal_actions() == [FOLD, CALL, RAISE]
    state.apply(RAISE)
    assert state.legal_actions() == [FOLD, CALL]  # two raises per round at most


def test_rounds_and_public_card():
    state = play([CALL])
    assert state.round == 0 and state.current_player() == 1 and state.public_card() is None
    state.apply(CALL)
    assert state.round == 1 and state.current_player() == 0 and state.public_card() == Q
    state.apply(RAISE)
    assert state.paid == [5, 1] and state.to_call() == 4


def test_largest_pot_and_showdown():
    # Raise, re-raise, call in both rounds: each player puts in 13.
    state = play([RAISE, RAISE, CALL, RAISE, RAISE, CALL], cards=(K, J), public=Q)
    assert state.is_terminal() and state.paid == [MAX_WIN, MAX_WIN] == [13, 13]
    assert state.returns() == (13.0, -13.0)
    # A pair beats a higher card.
    state = play([CALL, CALL, CALL, CALL], cards=(K, J), public=J + 1)
    assert state.returns() == (-1.0, 1.0)
    # Equal ranks split.
    state = play([CALL, CALL, CALL, CALL], cards=(K, K + 1), public=J)
    assert state.returns() == (0.0, 0.0)


def test_fold_loses_what_was_put_in():
    state = play([RAISE, FOLD])
    assert state.is_terminal() and state.returns() == (1.0, -1.0)
    assert play([RAISE]).forfeit_returns(0) == (-3.0, 3.0)


def test_hand_strength_and_equity():
    assert hand_strength(J, J + 1) > hand_strength(K, J + 1) > hand_strength(Q, J + 1)
    assert showdown_equity(K, None) > showdown_equity(Q, None) > showdown_equity(J, None)
    assert showdown_equity(J, J + 1) == 1.0


def test_deal_is_three_distinct_cards():
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert len(set(deal(rng))) == 3


@pytest.mark.parametrize("policy", [heuristic_policy, strong_policy])
def test_policies_are_legal_and_beat_random(policy):
    rng = np.random.default_rng(1)
    total = 0.0
    for i in range(600):
        seat = i % 2
        first, second, public = deal(rng)
        state = LeducState((first, second), public)
        while not state.is_terminal():
            mine = state.current_player() == seat
            move = (policy if mine else random_policy)(state, rng)
            assert move in state.legal_actions()
            state.apply(move)
        total += state.returns()[seat]
    assert total / 600 > 0.3
