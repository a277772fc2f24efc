"""Two-player negotiation over a pool of items (as Lewis et al. 2017, "Deal or no deal?");
rules, deals and negotiator policies; no I/O.

A pool holds 1 to 4 of each of three item types (books, hats, balls), 5 to 7 items in all.
Each player has private integer values per item type that add up to 10 over the pool;
every item type is worth something to at least one player and some type to both (so there
is something to share and something to fight over). Players alternate moves, player 0
first: propose a split (how many of each type *they* take; the partner gets the rest),
accept the partner's standing proposal (the game ends with that deal), talk (a message
only; the turn passes), or, once a proposal is on the table, walk away (no deal). After ``max_moves`` moves without a deal
the game ends with no deal. A deal pays each player the value of the items they get; no
deal pays both 0.

Action ids: a proposal taking ``(b, h, l)`` books, hats and balls is ``25 * b + 5 * h + l``
(ids 0-124; those taking more than the pool are illegal), then ``accept`` = 125,
``talk`` = 126, ``walk away`` = 127.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

import numpy as np

__all__ = [
    "ACCEPT",
    "ITEMS",
    "NUM_ACTIONS",
    "TALK",
    "TOTAL_VALUE",
    "WALK",
    "NegotiationState",
    "deal_pool",
    "heuristic_policy",
    "optimal_policy",
    "proposal_id",
    "proposal_of",
    "random_policy",
    "valuations",
]

ITEMS = ("book", "hat", "ball")
MAX_COUNT = 4
NUM_PROPOSALS = (MAX_COUNT + 1) ** len(ITEMS)
ACCEPT, TALK, WALK = NUM_PROPOSALS, NUM_PROPOSALS + 1, NUM_PROPOSALS + 2
NUM_ACTIONS = NUM_PROPOSALS + 3
TOTAL_VALUE = 10
Split = tuple[int, ...]


def proposal_id(take: Split) -> int:
    base = MAX_COUNT + 1
    return (take[0] * base + take[1]) * base + take[2]


def proposal_of(action: int) -> Split:
    base = MAX_COUNT + 1
    return action // (base * base), action // base % base, action % base


def value(values: Split, items: Split) -> int:
    return sum(v * n for v, n in zip(values, items))


@lru_cache(maxsize=128)
def valuations(counts: Split) -> tuple[Split, ...]:
    """Every value vector (non-negative ints) worth exactly ``TOTAL_VALUE`` over
    ``counts``."""
    ranges = [range(TOTAL_VALUE // n + 1) for n in counts]
    return tuple(v for v in product(*ranges) if value(v, counts) == TOTAL_VALUE)


def deal_pool(rng: np.random.Generator) -> tuple[Split, tuple[Split, Split]]:
    """A pool and both players' values, drawn uniformly under the rules' conditions."""
    while True:
        counts = tuple(int(c) for c in rng.integers(1, MAX_COUNT + 1, size=3))
        if 5 <= sum(counts) <= 7:
            break
    options = valuations(counts)
    while True:
        a = options[int(rng.integers(len(options)))]
        b = options[int(rng.integers(len(options)))]
        if all(x or y for x, y in zip(a, b)) and any(x and y for x, y in zip(a, b)):
            return counts, (a, b)


@dataclass
class NegotiationState:
    """A negotiation: the pool ``counts``, private ``values``, the moves so far and the
    messages sent with them (``(move index, player, text)``)."""

    counts: Split
    values: tuple[Split, Split]
    max_moves: int = 10
    actions: list[int] = field(default_factory=list)
    messages: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def history(self) -> list[tuple[int, int]]:
        return [(i % 2, a) for i, a in enumerate(self.actions)]

    def standing(self) -> tuple[int, Split] | None:
        """``(proposer, what the proposer takes)`` of the proposal on the table."""
        for i in range(len(self.actions) - 1, -1, -1):
            if self.actions[i] < NUM_PROPOSALS:
                return i % 2, proposal_of(self.actions[i])
        return None

    def is_terminal(self) -> bool:
        return bool(self.actions) and (
            self.actions[-1] in (ACCEPT, WALK) or len(self.actions) >= self.max_moves
        )

    def current_player(self) -> int:
        return -1 if self.is_terminal() else len(self.actions) % 2

    def moves_left(self) -> int:
        return self.max_moves - len(self.actions)

    def legal_actions(self) -> list[int]:
        if self.is_terminal():
            return []
        legal = sorted(proposal_id(take) for take in product(*(range(n + 1) for n in self.counts)))
        standing = self.standing()
        if standing is None:
            return [*legal, TALK]
        if standing[0] != self.current_player():
            legal.append(ACCEPT)  # every proposal id is below ACCEPT: the order holds
        return [*legal, TALK, WALK]

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"action {action} is not legal; legal: {self.legal_actions()}")
        self.actions.append(action)

    def say(self, player: int, text: str) -> None:
        """Record a message of ``player`` sent with its latest move."""
        self.messages.append((len(self.actions) - 1, player, text))

    def deal(self) -> tuple[Split, Split] | None:
        """The items each player gets, if the game ended in a deal."""
        if not self.actions or self.actions[-1] != ACCEPT:
            return None
        standing = self.standing()
        assert standing is not None
        proposer, take = standing
        rest = tuple(n - t for n, t in zip(self.counts, take))
        return (take, rest) if proposer == 0 else (rest, take)

    def returns(self) -> tuple[float, float]:
        """Each player's value of its share of the deal; zeros without a deal."""
        deal = self.deal()
        if deal is None:
            return (0.0, 0.0)
        return float(value(self.values[0], deal[0])), float(value(self.values[1], deal[1]))

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        """A forfeit ends the negotiation without a deal."""
        return (0.0, 0.0)

    def key(self) -> tuple[object, ...]:
        return (self.counts, self.values, self.max_moves, tuple(self.actions), tuple(self.messages))


# --------------------------------------------------------------------------- policies


def random_policy(state: NegotiationState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def _offer_value(state: NegotiationState, player: int) -> int | None:
    """What accepting the standing proposal would give ``player`` (``None``: nothing to
    accept)."""
    standing = state.standing()
    if standing is None or standing[0] == player:
        return None
    rest = tuple(n - t for n, t in zip(state.counts, standing[1]))
    return value(state.values[player], rest)


def heuristic_policy(state: NegotiationState, rng: np.random.Generator) -> int:
    """Concedes on a schedule: its target falls from 8 to 5 of 10 over the game; accepts an
    offer worth the target (on its last move, any offer worth something), else proposes
    the split that reaches the target leaving the partner the most items."""
    player = state.current_player()
    own = state.values[player]
    progress = len(state.actions) / max(state.max_moves - 1, 1)
    target = 8 - 3 * progress
    offer = _offer_value(state, player)
    if offer is not None and (offer >= target or (state.moves_left() <= 1 and offer > 0)):
        return ACCEPT
    best: tuple[int, int, int] | None = None
    for take in product(*(range(n + 1) for n in state.counts)):
        mine = value(own, take)
        if mine >= target:
            key = (sum(take), -mine, proposal_id(take))
            best = key if best is None or key < best else best
    return best[2] if best is not None else proposal_id(state.counts)


def belief(state: NegotiationState, player: int) -> tuple[tuple[Split, ...], np.ndarray]:
    """``player``'s posterior over the partner's values: uniform over every valuation of
    the pool, times a softmax likelihood of each partner proposal (a partner proposes
    splits that are worth more to it more often)."""
    options = valuations(state.counts)
    takes = list(product(*(range(n + 1) for n in state.counts)))
    table = np.array([[value(v, t) for t in takes] for v in options], dtype=np.float64)
    log_norm = np.log(np.exp(0.5 * table).sum(axis=1))
    logp = np.zeros(len(options))
    for i, action in enumerate(state.actions):
        if i % 2 != player and action < NUM_PROPOSALS:
            column = takes.index(proposal_of(action))
            logp += 0.5 * table[:, column] - log_norm
    probs = np.exp(logp - logp.max())
    return options, probs / probs.sum()


def optimal_policy(state: NegotiationState, rng: np.random.Generator) -> int:
    """*Not* a solved strategy (the partner's values are private and its behaviour
    unknown): an expected-value negotiator. It keeps a :func:`belief` over the partner's
    values, models the partner as accepting a split worth at least its own falling target
    (7 to 4 of 10, logistic noise), proposes the split with the highest value x acceptance
    probability, and accepts the standing offer when that is worth at least as much (on its
    last move, any positive offer)."""
    player = state.current_player()
    own = state.values[player]
    options, probs = belief(state, player)
    progress = len(state.actions) / max(state.max_moves - 1, 1)
    threshold = 7 - 3 * progress
    best_value, best_action = -1.0, proposal_id(state.counts)
    for take in product(*(range(n + 1) for n in state.counts)):
        rest = tuple(n - t for n, t in zip(state.counts, take))
        theirs = np.array([value(v, rest) for v in options], dtype=np.float64)
        accept = float(np.dot(probs, 1 / (1 + np.exp(-(theirs - threshold)))))
        expected = accept * value(own, take)
        if expected > best_value + 1e-9:
            best_value, best_action = expected, proposal_id(take)
    offer = _offer_value(state, player)
    if offer is not None and (offer >= best_value or (state.moves_left() <= 2 and offer > 0)):
        return ACCEPT
    if math.isclose(best_value, 0.0) and WALK in state.legal_actions():
        return WALK
    return best_action
