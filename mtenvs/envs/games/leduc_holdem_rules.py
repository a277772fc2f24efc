"""Leduc Hold'em rules and opponent policies; no I/O.

Six cards: J, Q, K in two suits (card ids 0-5, rank ``card // 2``: 0 = J, 1 = Q, 2 = K).
Each player antes 1 and gets one private card; one public card is revealed after the first
betting round. Two betting rounds, player 0 acts first in each; raises are 2 chips in the
first round and 4 in the second, at most two raises per round. Action ids follow
OpenSpiel's ``leduc_poker``: ``0`` = fold (legal only when facing a bet), ``1`` = call
(check when nothing is owed), ``2`` = raise (bet when nothing is owed). A round ends with a
call that is not its first action. At showdown a private card pairing the public card wins,
else the higher rank; equal ranks split the pot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MAX_WIN",
    "LeducState",
    "deal",
    "hand_strength",
    "heuristic_policy",
    "random_policy",
    "showdown_equity",
    "strong_policy",
]

FOLD, CALL, RAISE = 0, 1, 2
RANK_NAMES = ("J", "Q", "K")
SUIT_NAMES = ("spades", "hearts")
RAISE_SIZES = (2, 4)
MAX_RAISES = 2
#: Most chips one player can win in a hand (ante 1 + two raises in each round).
MAX_WIN = 1 + 2 * RAISE_SIZES[0] + 2 * RAISE_SIZES[1]


def rank(card: int) -> int:
    return card // 2


def card_name(card: int) -> str:
    return f"{RANK_NAMES[rank(card)]} of {SUIT_NAMES[card % 2]}"


def deal(rng: np.random.Generator) -> tuple[int, int, int]:
    """Private card of player 0, of player 1, and the public card (all distinct)."""
    a, b, c = rng.permutation(6)[:3]
    return int(a), int(b), int(c)


def hand_strength(card: int, public: int | None) -> int:
    """Showdown strength: pairs beat every high card (higher is better)."""
    if public is not None and rank(card) == rank(public):
        return 10 + rank(card)
    return rank(card)


@dataclass
class LeducState:
    """A Leduc hand: private ``cards``, the ``public`` card (hidden until round 2) and the
    betting so far; ``history`` holds ``(player, action)`` pairs across both rounds."""

    cards: tuple[int, int] = (0, 2)
    public: int = 4
    history: list[tuple[int, int]] = field(default_factory=list)
    round: int = 0
    round_actions: list[int] = field(default_factory=list)
    paid: list[int] = field(default_factory=lambda: [1, 1])
    raises: int = 0
    folded: int = -1
    finished: bool = False
    num_players: int = 2

    def is_terminal(self) -> bool:
        return self.finished

    def current_player(self) -> int:
        return -1 if self.finished else len(self.round_actions) % 2

    def to_call(self) -> int:
        """Chips the player to act must add to match the bet."""
        p = self.current_player()
        return max(self.paid) - self.paid[p] if p >= 0 else 0

    def legal_actions(self) -> list[int]:
        if self.finished:
            return []
        moves = [FOLD] if self.to_call() > 0 else []
        moves.append(CALL)
        if self.raises < MAX_RAISES:
            moves.append(RAISE)
        return moves

    def public_card(self) -> int | None:
        """The public card if it has been revealed (second round or a showdown)."""
        return self.public if self.round == 1 else None

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"action {action} is not legal; legal: {self.legal_actions()}")
        p = self.current_player()
        self.history.append((p, action))
        self.round_actions.append(action)
        if action == FOLD:
            self.folded, self.finished = p, True
            return
        if action == RAISE:
            self.paid[p] = max(self.paid) + RAISE_SIZES[self.round]
            self.raises += 1
            return
        self.paid[p] = max(self.paid)
        if len(self.round_actions) >= 2:
            if self.round == 1:
                self.finished = True
            else:
                self.round, self.round_actions, self.raises = 1, [], 0

    def pot(self) -> int:
        return sum(self.paid)

    def returns(self) -> tuple[float, float]:
        """Chips won by each player (zero-sum; zeros while the hand is on)."""
        if not self.finished:
            return (0.0, 0.0)
        if self.folded >= 0:
            lost = float(self.paid[self.folded])
            return (-lost, lost) if self.folded == 0 else (lost, -lost)
        s0, s1 = (hand_strength(c, self.public) for c in self.cards)
        if s0 == s1:
            return (0.0, 0.0)
        won = float(self.paid[1] if s0 > s1 else -self.paid[0])
        return (won, -won)

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        """A forfeit loses what ``player`` has put in, as a fold would."""
        lost = float(self.paid[player])
        return (-lost, lost) if player == 0 else (lost, -lost)

    def key(self) -> tuple[object, ...]:
        return (self.cards, self.public, tuple(self.history))

    def clone(self) -> LeducState:
        return LeducState(
            self.cards,
            self.public,
            list(self.history),
            self.round,
            list(self.round_actions),
            list(self.paid),
            self.raises,
            self.folded,
            self.finished,
        )


def random_policy(state: LeducState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def heuristic_policy(state: LeducState, rng: np.random.Generator) -> int:
    """Rank-based play: raise with K (first round) or a pair (second round); check and call
    one bet with Q or an unpaired K; check with J and fold it to a bet."""
    p = state.current_player()
    legal = state.legal_actions()
    strength = hand_strength(state.cards[p], state.public_card())
    if strength >= 10 or (state.round == 0 and strength == 2):
        return RAISE if RAISE in legal else CALL
    if strength >= 1 and state.raises <= 1:
        return CALL
    return FOLD if FOLD in legal else CALL


def showdown_equity(card: int, public: int | None) -> float:
    """Chance of winning a showdown (ties count half) against a uniformly random opponent
    card, averaged over the unseen public card when it is not revealed yet."""
    total = wins = 0.0
    for opp in range(6):
        if opp in (card, public):
            continue
        for pub in (
            [public] if public is not None else [c for c in range(6) if c not in (card, opp)]
        ):
            mine, theirs = hand_strength(card, pub), hand_strength(opp, pub)
            wins += 1.0 if mine > theirs else 0.5 if mine == theirs else 0.0
            total += 1.0
    return wins / total


def strong_policy(state: LeducState, rng: np.random.Generator) -> int:
    """A hand-written mixed strategy by showdown equity (not a computed equilibrium):
    value-bet and raise strong hands (sometimes slow-playing them), call when the equity
    beats the pot odds, bluff weak hands now and then, fold the rest."""
    p = state.current_player()
    legal = state.legal_actions()
    equity = showdown_equity(state.cards[p], state.public_card())
    owed = state.to_call()
    u = float(rng.random())
    if owed == 0:
        bet_prob = 0.9 if equity >= 0.7 else 0.35 if equity >= 0.5 else 0.15
        return RAISE if RAISE in legal and u < bet_prob else CALL
    if equity >= 0.75:
        return RAISE if RAISE in legal and u < 0.75 else CALL
    pot_odds = owed / (state.pot() + owed)
    if equity >= pot_odds + 0.1:
        return CALL
    if RAISE in legal and u < 0.08:
        return RAISE
    return CALL if u < 0.2 else FOLD
