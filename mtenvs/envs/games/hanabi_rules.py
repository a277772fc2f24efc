"""A small two-player Hanabi: rules, card knowledge and scripted partners; no I/O.

The deck has ``colors`` colours (red, yellow, green, white, blue: the first ``colors``) of
``ranks`` ranks; each colour has three 1s, two of each middle rank and one top card. Each
player holds ``hand_size`` cards facing away: they see their partner's cards, never their
own. On a turn a player plays a card (it goes on its colour's firework if it is the next
rank, else it is discarded and a life is lost), discards a card (gains a hint token; not
allowed with all 8 tokens), or spends a hint token to tell the partner every card of one
colour or one rank in their hand (the hint must name at least one card). Playing a
colour's top card gains a hint token back. The game ends when the team loses its 3rd life
(score 0), completes every firework (the maximum, ``colors * ranks``), or one full round
after the deck runs out; the score is the number of cards on the fireworks, shared by both
players.

Action ids follow the Hanabi Learning Environment / OpenSpiel ``hanabi`` numbering for two
players: ``discard i`` = ``i``, ``play i`` = ``hand_size + i``, ``hint colour c`` =
``2 * hand_size + c``, ``hint rank r`` = ``2 * hand_size + colors + r - 1`` (slot ``i``
counted from 0, the oldest card; drawn cards go to the end).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "COLOR_NAMES",
    "MAX_HINTS",
    "MAX_LIVES",
    "HanabiConfig",
    "HanabiState",
    "deal",
    "heuristic_policy",
    "optimal_policy",
    "random_policy",
]

COLOR_NAMES = ("red", "yellow", "green", "white", "blue")
MAX_HINTS = 8
MAX_LIVES = 3
Card = tuple[int, int]  # (colour index, rank 1..ranks)


@dataclass(frozen=True)
class HanabiConfig:
    """Deck and hand sizes of a game."""

    colors: int = 3
    ranks: int = 3
    hand_size: int = 3

    @property
    def num_actions(self) -> int:
        return 2 * self.hand_size + self.colors + self.ranks

    @property
    def max_score(self) -> int:
        return self.colors * self.ranks

    def copies(self, rank: int) -> int:
        """Copies of each card of ``rank`` in the deck."""
        return 3 if rank == 1 else 1 if rank == self.ranks else 2

    def deck(self) -> list[Card]:
        return [
            (c, r)
            for c in range(self.colors)
            for r in range(1, self.ranks + 1)
            for _ in range(self.copies(r))
        ]


@dataclass
class HanabiState:
    """A game in progress. ``knowledge[p][i]`` is what player ``p`` has been told about
    its card in slot ``i``: (bitmask of possible colours, bitmask of possible ranks, bit
    ``r - 1`` for rank ``r``)."""

    config: HanabiConfig
    deck: list[Card]
    hands: list[list[Card]] = field(default_factory=list)
    knowledge: list[list[tuple[int, int]]] = field(default_factory=list)
    fireworks: list[int] = field(default_factory=list)
    discards: list[Card] = field(default_factory=list)
    hints: int = MAX_HINTS
    lives: int = MAX_LIVES
    actions: list[int] = field(default_factory=list)
    #: Turns left once the deck is empty (``None`` before).
    final_turns: int | None = None
    #: What each action did: ``("play", slot, card, succeeded)``, ``("discard", slot,
    #: card)`` or ``("color"|"rank", value, slots touched)``.
    events: list[tuple[object, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.hands:
            self.hands = [[], []]
            self.knowledge = [[], []]
            self.fireworks = [0] * self.config.colors
            for _ in range(self.config.hand_size):
                for p in (0, 1):
                    self._draw(p)
            if not self.deck:  # a deck dealt out at once: the last round starts now
                self.final_turns = 2

    # ------------------------------------------------------------------ ids

    def describe(self, action: int) -> tuple[str, int]:
        """``("discard"|"play", slot)``, ``("color", colour)`` or ``("rank", rank)``."""
        h, c = self.config.hand_size, self.config.colors
        if action < h:
            return "discard", action
        if action < 2 * h:
            return "play", action - h
        if action < 2 * h + c:
            return "color", action - 2 * h
        return "rank", action - 2 * h - c + 1

    # ------------------------------------------------------------------ GameState

    @property
    def history(self) -> list[tuple[int, int]]:
        return [(i % 2, a) for i, a in enumerate(self.actions)]

    def score(self) -> int:
        return 0 if self.lives == 0 else sum(self.fireworks)

    def is_terminal(self) -> bool:
        return (
            self.lives == 0 or sum(self.fireworks) == self.config.max_score or self.final_turns == 0
        )

    def current_player(self) -> int:
        return -1 if self.is_terminal() else len(self.actions) % 2

    def legal_actions(self) -> list[int]:
        if self.is_terminal():
            return []
        player = len(self.actions) % 2
        h, c = self.config.hand_size, self.config.colors
        size = len(self.hands[player])
        legal = list(range(size)) if self.hints < MAX_HINTS else []
        legal += [h + i for i in range(size)]
        if self.hints > 0:
            other = self.hands[1 - player]
            legal += [2 * h + k for k in range(c) if any(card[0] == k for card in other)]
            legal += [
                2 * h + c + r - 1
                for r in range(1, self.config.ranks + 1)
                if any(card[1] == r for card in other)
            ]
        return legal

    def apply(self, action: int) -> None:
        if action not in self.legal_actions():
            raise ValueError(f"action {action} is not legal; legal: {self.legal_actions()}")
        player = len(self.actions) % 2
        kind, value = self.describe(action)
        deck_before = len(self.deck)
        if kind in ("play", "discard"):
            card = self.hands[player].pop(value)
            self.knowledge[player].pop(value)
            if kind == "discard":
                self.discards.append(card)
                self.hints += 1
                self.events.append((kind, value, card))
            elif self.fireworks[card[0]] == card[1] - 1:
                self.fireworks[card[0]] = card[1]
                if card[1] == self.config.ranks and self.hints < MAX_HINTS:
                    self.hints += 1
                self.events.append((kind, value, card, True))
            else:
                self.discards.append(card)
                self.lives -= 1
                self.events.append((kind, value, card, False))
            self._draw(player)
        else:
            self.hints -= 1
            other = 1 - player
            index = 0 if kind == "color" else 1
            bit = 1 << (value - index)  # colours from 0, ranks from 1
            touched = []
            for i, card in enumerate(self.hands[other]):
                masks = list(self.knowledge[other][i])
                masks[index] &= bit if card[index] == value else ~bit
                self.knowledge[other][i] = (masks[0], masks[1])
                if card[index] == value:
                    touched.append(i)
            self.events.append((kind, value, tuple(touched)))
        self.actions.append(action)
        if self.final_turns is not None:
            self.final_turns -= 1
        elif deck_before and not self.deck:
            self.final_turns = 2

    def returns(self) -> tuple[float, float]:
        """Both players get the team's score (zeros while the game is on)."""
        if not self.is_terminal():
            return (0.0, 0.0)
        return (float(self.score()), float(self.score()))

    def forfeit_returns(self, player: int) -> tuple[float, float]:
        """A forfeit loses the game for the team: score 0, as losing every life."""
        return (0.0, 0.0)

    def key(self) -> tuple[object, ...]:
        return (
            tuple(map(tuple, self.hands)),
            tuple(map(tuple, self.knowledge)),
            tuple(self.fireworks),
            tuple(self.deck),
            tuple(self.discards),
            self.hints,
            self.lives,
            tuple(self.actions),
            self.final_turns,
        )

    def _draw(self, player: int) -> None:
        if self.deck:
            self.hands[player].append(self.deck.pop())
            full = (1 << self.config.colors) - 1, (1 << self.config.ranks) - 1
            self.knowledge[player].append(full)

    # ------------------------------------------------------------------ knowledge

    def possible_cards(self, player: int, slot: int, *, count: bool) -> list[Card]:
        """Cards ``player``'s ``slot`` may be, from the hints; with ``count``, also
        without cards whose every copy ``player`` can see (partner's hand, discards,
        fireworks)."""
        colors, ranks = self.knowledge[player][slot]
        cards = [
            (c, r)
            for c in range(self.config.colors)
            for r in range(1, self.config.ranks + 1)
            if colors >> c & 1 and ranks >> (r - 1) & 1
        ]
        if not count:
            return cards
        seen = self.hands[1 - player] + self.discards
        seen += [(c, r) for c in range(self.config.colors) for r in range(1, self.fireworks[c] + 1)]
        return [card for card in cards if seen.count(card) < self.config.copies(card[1])] or cards

    def playable(self, card: Card) -> bool:
        return self.fireworks[card[0]] == card[1] - 1

    def useless(self, card: Card) -> bool:
        return card[1] <= self.fireworks[card[0]]


def deal(config: HanabiConfig, rng: np.random.Generator) -> HanabiState:
    """A freshly shuffled game."""
    deck = config.deck()
    order = rng.permutation(len(deck))
    return HanabiState(config, [deck[int(i)] for i in order])


# --------------------------------------------------------------------------- policies


def random_policy(state: HanabiState, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    return legal[int(rng.integers(len(legal)))]


def _hint_for(state: HanabiState, player: int, slot: int) -> int | None:
    """The legal hint that tells the partner most about its card in ``slot``: its rank
    when the rank is not known yet, else its colour."""
    h, c = state.config.hand_size, state.config.colors
    card = state.hands[1 - player][slot]
    colors, ranks = state.knowledge[1 - player][slot]
    legal = state.legal_actions()
    options = []
    if ranks & (ranks - 1):
        options.append(2 * h + c + card[1] - 1)
    if colors & (colors - 1):
        options.append(2 * h + card[0])
    return next((a for a in options if a in legal), None)


def _scripted(state: HanabiState, rng: np.random.Generator, *, count: bool) -> int:
    player = state.current_player()
    h = state.config.hand_size
    legal = state.legal_actions()
    own = range(len(state.hands[player]))
    possible = [state.possible_cards(player, i, count=count) for i in own]
    # 1. Play a card that is surely playable.
    for i, cards in enumerate(possible):
        if all(state.playable(card) for card in cards):
            return h + i
    # 2. Hint a playable card the partner does not know is playable (lowest rank first).
    partner = state.hands[1 - player]
    if state.hints > 0:
        slots = sorted(
            (i for i, card in enumerate(partner) if state.playable(card)),
            key=lambda i: partner[i][1],
        )
        for i in slots:
            told = state.possible_cards(1 - player, i, count=False)
            if not all(state.playable(card) for card in told):
                hint = _hint_for(state, player, i)
                if hint is not None:
                    return hint
    can_discard = state.hints < MAX_HINTS
    # 3. Discard a card known to be useless, else the oldest card nobody has hinted.
    if can_discard:
        if count:
            for i, cards in enumerate(possible):
                if all(state.useless(card) for card in cards):
                    return i
        full = (1 << state.config.colors) - 1, (1 << state.config.ranks) - 1
        for i in own:
            if state.knowledge[player][i] == full:
                return i
        return 0
    # 4. All tokens in hand and nothing to play or hint usefully: a hint about the
    # partner's oldest card (it costs nothing the team could have used).
    for i in range(len(partner)):
        hint = _hint_for(state, player, i)
        if hint is not None:
            return hint
    hints = [a for a in legal if a >= 2 * h]
    return hints[0] if hints else legal[0]


def heuristic_policy(state: HanabiState, rng: np.random.Generator) -> int:
    """The scripted partner: play a card the hints prove playable; else hint a playable
    card of the partner's (its rank, or its colour when the rank is known); else discard
    the oldest card no hint has touched; with all 8 tokens, hint the partner's oldest
    card."""
    return _scripted(state, rng, count=False)


def optimal_policy(state: HanabiState, rng: np.random.Generator) -> int:
    """*Not* an optimal Hanabi policy (none is known to be computable): the scripted
    partner plus card counting: a card is played when every possibility left by the hints
    *and* the visible cards (partner's hand, discards, fireworks) is playable, and a card
    that can only be already-played is discarded first."""
    return _scripted(state, rng, count=True)
