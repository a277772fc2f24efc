"""Kuhn poker rules, a Nash equilibrium and opponent policies; no I/O.

Three cards J < Q < K (ids 0, 1, 2), one to each player, ante 1 each, one betting round
with bets of 1. Action ids follow OpenSpiel's ``kuhn_poker``: ``0`` = pass (check, or fold
when facing a bet), ``1`` = bet (bet, or call when facing a bet). Player 0 acts first.
Terminal action sequences: pass-pass and bet-bet / pass-bet-bet go to showdown (the higher
card takes the pot), bet-pass and pass-bet-pass end in a fold.

Nash equilibrium (Kuhn 1950; the family with parameter ``alpha`` in [0, 1/3]): player 0
bets J with probability ``alpha``, K with ``3 * alpha``, never Q; after pass-bet it calls
with Q with probability ``alpha + 1/3``, always with K, never with J. Player 1 after a bet
calls with K, with Q with probability 1/3, never with J; after a pass it bets K, bets J with
probability 1/3, never Q. Every member gives player 0 the value -1/18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = [
    "CARD_NAMES",
    "GAME_VALUE",
    "NASH_ALPHA",
    "KuhnState",
    "heuristic_policy",
    "nash_probabilities",
    "optimal_policy",
    "random_policy",
]

CARD_NAMES = ("J", "Q", "K")
PASS, BET = 0, 1
#: The equilibrium member the ``optimal`` opponent plays.
NASH_ALPHA = Fraction(1, 3)
#: Value of the game for player 0 under any Nash equilibrium.
GAME_VALUE = Fraction(-1, 18)
_TERMINAL = {(0, 0), (1, 0), (1, 1), (0, 1, 0), (0, 1, 1)}


@dataclass
class KuhnState:
    """A Kuhn poker deal: ``cards[p]`` is player ``p``'s card; ``actions`` the bets so far."""

    cards: tuple[int, int] = (0, 1)
    actions: list[int] = field(default_factory=list)
    num_players: int = 2

    @property
    def history(self) -> list[tuple[int, int]]:
        return [(i % 2, a) for i, a in enumerate(self.actions)]

    def is_terminal(self) -> bool:
        return tuple(self.actions) in _TERMINAL

    def current_player(self) -> int:
        return -1 if self.is_terminal() else len(self.actions) % 2

    def facing_bet(self) -> bool:
        return BET in self.actions

    def legal_actions(self) -> list[int]:
        return [] if self.is_terminal() else [PASS, BET]

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"action {action} is not legal; legal: {self.legal_actions()}")
        self.actions.append(action)

    def contributions(self) -> tuple[int, int]:
        paid = [1, 1]
        for i, a in enumerate(self.actions):
            paid[i % 2] += a
        return paid[0], paid[1]

    def returns(self) -> tuple[float, float]:
        """Chips won by each player (zero-sum; zeros while the hand is on)."""
        if not self.is_terminal():
            return (0.0, 0.0)
        paid = self.contributions()
        if self.actions[-1] == PASS and self.facing_bet():
            folder = (len(self.actions) - 1) % 2
            won = paid[folder] if folder == 1 else -paid[folder]
        else:
            won = paid[1] if self.cards[0] > self.cards[1] else -paid[0]
        return (float(won), float(-won))

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        """A forfeit loses what ``player`` has put in, as a fold would."""
        lost = float(self.contributions()[player])
        return (-lost, lost) if player == 0 else (lost, -lost)

    def key(self) -> tuple[int, int, tuple[int, ...]]:
        return (*self.cards, tuple(self.actions))

    def clone(self) -> KuhnState:
        return KuhnState(self.cards, list(self.actions))


def nash_probabilities(
    card: int, actions: tuple[int, ...], alpha: Fraction = NASH_ALPHA
) -> tuple[Fraction, Fraction]:
    """(P(pass), P(bet)) of the equilibrium member ``alpha`` for the player to act holding
    ``card`` after ``actions``."""
    third = Fraction(1, 3)
    bet: Fraction
    if actions == ():
        bet = (alpha, Fraction(0), 3 * alpha)[card]
    elif actions == (PASS, BET):
        bet = (Fraction(0), alpha + third, Fraction(1))[card]
    elif actions == (BET,):
        bet = (Fraction(0), third, Fraction(1))[card]
    elif actions == (PASS,):
        bet = (third, Fraction(0), Fraction(1))[card]
    else:
        raise ValueError(f"no decision after actions {actions}")
    return 1 - bet, bet


def optimal_policy(state: KuhnState, rng: np.random.Generator) -> int:
    """Sample the Nash equilibrium (``NASH_ALPHA``) action for the player to act."""
    card = state.cards[state.current_player()]
    _, bet = nash_probabilities(card, tuple(state.actions))
    return BET if rng.random() < float(bet) else PASS


def heuristic_policy(state: KuhnState, rng: np.random.Generator) -> int:
    """Straightforward play without bluffs: bet or call with K, check and call with Q,
    check and fold with J."""
    card = state.cards[state.current_player()]
    if card == 2:
        return BET
    if card == 1:
        return BET if state.facing_bet() else PASS
    return PASS


def random_policy(state: KuhnState, rng: np.random.Generator) -> int:
    return int(rng.integers(2))
