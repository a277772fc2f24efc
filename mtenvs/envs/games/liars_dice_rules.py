"""Liar's Dice rules and opponent policies; no I/O.

Two players each roll ``num_dice`` six-sided dice and see only their own. Player 0 bids
first; a bid ``Q-F`` claims that at least ``Q`` of *all* dice show face ``F``, where a 6 is
wild (it counts as any face; a bid on 6s counts only 6s). Each later bid must be higher:
more dice, or as many dice of a higher face. Instead of bidding, the player to act may
call the standing bid a lie; then all dice are shown. If the bid holds, the caller loses
(-1) and the bidder wins (+1); otherwise the bidder loses. One round, as OpenSpiel's
``liars_dice``.

Action ids follow OpenSpiel's ``liars_dice``: bid ``Q-F`` is ``(Q - 1) * 6 + (F - 1)``
for ``Q`` in ``1 .. 2 * num_dice`` (so ids grow with the bid's rank), and ``liar`` is the
last id, ``2 * num_dice * 6``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations_with_replacement
from math import factorial

import numpy as np

__all__ = [
    "FACES",
    "WILD",
    "LiarsDiceState",
    "bid_id",
    "bid_label",
    "bid_of",
    "count_matches",
    "heuristic_policy",
    "optimal_policy",
    "random_policy",
]

FACES = 6
#: The wild face: counts as every face (a bid on it counts only itself).
WILD = 6


def bid_id(quantity: int, face: int) -> int:
    return (quantity - 1) * FACES + (face - 1)


def bid_of(action: int) -> tuple[int, int]:
    """``(quantity, face)`` of bid id ``action``."""
    return action // FACES + 1, action % FACES + 1


def bid_label(action: int) -> str:
    quantity, face = bid_of(action)
    return f"{quantity}-{face}"


def count_matches(dice: tuple[int, ...], face: int) -> int:
    """Dice of ``dice`` that count for a bid on ``face`` (6s are wild)."""
    return sum(1 for d in dice if d == face or (d == WILD and face != WILD))


@dataclass
class LiarsDiceState:
    """One round: ``dice[p]`` are player ``p``'s dice (sorted); ``actions`` the bids so far
    (ids), ending with the liar id once someone calls."""

    dice: tuple[tuple[int, ...], tuple[int, ...]]
    actions: list[int] = field(default_factory=list)

    @property
    def num_dice(self) -> int:
        return len(self.dice[0])

    @property
    def total_dice(self) -> int:
        return len(self.dice[0]) + len(self.dice[1])

    @property
    def liar(self) -> int:
        """Id of the ``liar`` call."""
        return self.total_dice * FACES

    @property
    def history(self) -> list[tuple[int, int]]:
        return [(i % 2, a) for i, a in enumerate(self.actions)]

    def is_terminal(self) -> bool:
        return bool(self.actions) and self.actions[-1] == self.liar

    def current_player(self) -> int:
        return -1 if self.is_terminal() else len(self.actions) % 2

    def standing_bid(self) -> int | None:
        """The last bid id (``None`` before the first bid)."""
        bids = [a for a in self.actions if a != self.liar]
        return bids[-1] if bids else None

    def legal_actions(self) -> list[int]:
        if self.is_terminal():
            return []
        last = self.standing_bid()
        start = 0 if last is None else last + 1
        return list(range(start, self.liar)) + ([self.liar] if last is not None else [])

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"action {action} is not legal; legal: {self.legal_actions()}")
        self.actions.append(action)

    def bid_holds(self) -> bool:
        """Whether the standing bid is true of all dice."""
        last = self.standing_bid()
        if last is None:
            return False
        quantity, face = bid_of(last)
        return count_matches(self.dice[0] + self.dice[1], face) >= quantity

    def returns(self) -> tuple[float, float]:
        """+1 for the winner, -1 for the loser; zeros while the round is on."""
        if not self.is_terminal():
            return (0.0, 0.0)
        caller = (len(self.actions) - 1) % 2
        loser = caller if self.bid_holds() else 1 - caller
        return (-1.0, 1.0) if loser == 0 else (1.0, -1.0)

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        return (-1.0, 1.0) if player == 0 else (1.0, -1.0)

    def key(self) -> tuple[object, ...]:
        return (self.dice, tuple(self.actions))


def roll(rng: np.random.Generator, num_dice: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Both players' dice, each sorted."""
    faces = rng.integers(1, FACES + 1, size=(2, num_dice))
    return tuple(sorted(int(f) for f in faces[0])), tuple(sorted(int(f) for f in faces[1]))


# --------------------------------------------------------------------------- policies


def random_policy(state: LiarsDiceState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def _match_probability(face: int) -> float:
    return 1 / FACES if face == WILD else 2 / FACES


def heuristic_policy(state: LiarsDiceState, rng: np.random.Generator) -> int:
    """Counts its own matching dice and expects a third of the opponent's dice (a sixth for
    6s) to match: calls ``liar`` when the standing bid exceeds that estimate, else raises
    on the face it holds most of, by the smallest legal step."""
    player = state.current_player()
    own = state.dice[player]
    hidden = len(state.dice[1 - player])
    last = state.standing_bid()

    def estimate(face: int) -> float:
        return count_matches(own, face) + hidden * _match_probability(face)

    if last is not None:
        quantity, face = bid_of(last)
        if quantity > estimate(face) + 0.5:
            return state.liar
    best_face = max(range(1, FACES), key=lambda f: (count_matches(own, f), f))
    for action in state.legal_actions():
        if action == state.liar:
            break
        quantity, face = bid_of(action)
        if face == best_face and quantity <= estimate(face) + 0.5:
            return action
    return state.liar if last is not None else bid_id(1, best_face)


@lru_cache(maxsize=8)
def _hands(num_dice: int) -> tuple[tuple[tuple[int, ...], ...], np.ndarray]:
    """Every multiset of ``num_dice`` dice and its probability."""
    hands = tuple(combinations_with_replacement(range(1, FACES + 1), num_dice))
    weights = []
    for hand in hands:
        w = factorial(num_dice)
        for f in set(hand):
            w //= factorial(hand.count(f))
        weights.append(w)
    probs = np.array(weights, dtype=float)
    return hands, probs / probs.sum()


def belief(state: LiarsDiceState, player: int) -> tuple[tuple[tuple[int, ...], ...], np.ndarray]:
    """``player``'s posterior over the opponent's dice: the roll's prior, times a likelihood
    of each opponent bid that grows with how many of the bid face that hand holds (players
    tend to bid what they have)."""
    hands, prior = _hands(len(state.dice[1 - player]))
    weights = prior.copy()
    for i, action in enumerate(state.actions):
        if i % 2 != player and action != state.liar:
            face = bid_of(action)[1]
            weights *= np.array([1.0 + count_matches(h, face) for h in hands])
    return hands, weights / weights.sum()


def optimal_policy(state: LiarsDiceState, rng: np.random.Generator) -> int:
    """A myopic Bayesian player, *not* an equilibrium strategy: with the :func:`belief`
    over the opponent's dice it values ``liar`` at ``1 - 2 P(standing bid holds)`` and a
    raise to bid ``b`` at ``2 P(b holds) - 1`` (as if it will be called), and plays the
    best; one time in ten it picks among raises within 0.2 of the best, to be harder to
    read."""
    player = state.current_player()
    own = state.dice[player]
    hands, probs = belief(state, player)
    legal = state.legal_actions()

    def p_holds(action: int) -> float:
        quantity, face = bid_of(action)
        need = quantity - count_matches(own, face)
        if need <= 0:
            return 1.0
        return float(sum(p for h, p in zip(hands, probs) if count_matches(h, face) >= need))

    values = {a: 2 * p_holds(a) - 1 for a in legal if a != state.liar}
    last = state.standing_bid()
    if last is not None:
        values[state.liar] = 1 - 2 * p_holds(last)
    best = max(values.values())
    if rng.random() < 0.1:
        close = [a for a, v in values.items() if v >= best - 0.2 and a != state.liar]
        if close:
            return close[int(rng.integers(len(close)))]
    return min(a for a, v in values.items() if v >= best - 1e-9)
