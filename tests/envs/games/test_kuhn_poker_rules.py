from __future__ import annotations

from fractions import Fraction
from itertools import permutations

import numpy as np
import pytest

from mtenvs.envs.games.kuhn_poker_rules import (
    GAME_VALUE,
    KuhnState,
    nash_probabilities,
    optimal_policy,
)


def expected_value(state: KuhnState, alpha: Fraction) -> Fraction:
    """Exact value for player 0 when both players follow the equilibrium member alpha."""
    if state.is_terminal():
        return Fraction(state.returns()[0]).limit_denominator()
    card = state.cards[state.current_player()]
    total = Fraction(0)
    for action, prob in enumerate(nash_probabilities(card, tuple(state.actions), alpha)):
        if prob:
            child = state.clone()
            child.apply(action)
            total += prob * expected_value(child, alpha)
    return total


@pytest.mark.parametrize("alpha", [Fraction(0), Fraction(1, 6), Fraction(1, 3)])
def test_nash_value_for_the_first_player_is_minus_one_eighteenth(alpha):
    deals = list(permutations(range(3), 2))
    value = sum(expected_value(KuhnState(deal), alpha) for deal in deals) / len(deals)
    assert value == GAME_VALUE == Fraction(-1, 18)


def test_no_pure_deviation_of_player_0_beats_the_equilibrium():
    # Player 0's best response to player 1's equilibrium strategy earns exactly -1/18:
    # enumerate player 0's pure strategies (decision per card at [] and [pass, bet]).
    alpha = Fraction(1, 3)
    best = None
    for first in range(2**3):
        for second in range(2**3):
            total = Fraction(0)
            for deal in permutations(range(3), 2):
                total += _value_vs_pure(KuhnState(deal), alpha, first, second)
            value = total / 6
            best = value if best is None else max(best, value)
    assert best == Fraction(-1, 18)


def _value_vs_pure(state: KuhnState, alpha: Fraction, first: int, second: int) -> Fraction:
    if state.is_terminal():
        return Fraction(state.returns()[0]).limit_denominator()
    player = state.current_player()
    card = state.cards[player]
    if player == 0:
        bits = first if not state.actions else second
        probs = (Fraction(0), Fraction(1)) if bits >> card & 1 else (Fraction(1), Fraction(0))
    else:
        probs = nash_probabilities(card, tuple(state.actions), alpha)
    total = Fraction(0)
    for action, prob in enumerate(probs):
        if prob:
            child = state.clone()
            child.apply(action)
            total += prob * _value_vs_pure(child, alpha, first, second)
    return total


@pytest.mark.parametrize(
    ("cards", "actions", "returns"),
    [
        ((2, 0), [0, 0], (1.0, -1.0)),
        ((0, 2), [1, 0], (1.0, -1.0)),
        ((0, 2), [1, 1], (-2.0, 2.0)),
        ((2, 1), [0, 1, 0], (-1.0, 1.0)),
        ((2, 1), [0, 1, 1], (2.0, -2.0)),
    ],
)
def test_payoffs(cards, actions, returns):
    state = KuhnState(cards)
    for a in actions:
        assert not state.is_terminal()
        state.apply(a)
    assert state.is_terminal() and state.returns() == returns


def test_optimal_policy_samples_the_equilibrium():
    rng = np.random.default_rng(0)
    bets = sum(optimal_policy(KuhnState((0, 1)), rng) for _ in range(3000))
    assert abs(bets / 3000 - 1 / 3) < 0.03  # J bluffs with probability alpha = 1/3
    assert all(optimal_policy(KuhnState((1, 2)), rng) == 0 for _ in range(50))  # Q checks
