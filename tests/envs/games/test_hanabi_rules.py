"""Small Hanabi rules: deck, numbering, plays, hints, the last round, scripted partners."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mtenvs.envs.games import hanabi_rules as rules
from mtenvs.envs.games.hanabi import HanabiEnv, HanabiGame

CFG = rules.HanabiConfig(colors=3, ranks=3, hand_size=3)


def fixed(order: list[tuple[int, int]]) -> rules.HanabiState:
    """A game dealing ``order`` from its start (cards alternate between the hands)."""
    return rules.HanabiState(CFG, list(reversed(order)))


def test_deck_and_action_numbering():
    assert Counter(r for _, r in CFG.deck()) == {1: 9, 2: 6, 3: 3}
    assert CFG.num_actions == 12 and CFG.max_score == 9
    state = rules.deal(CFG, np.random.default_rng(0))
    assert [state.describe(a) for a in (0, 3, 6, 8, 9, 11)] == [
        ("discard", 0),
        ("play", 0),
        ("color", 0),
        ("color", 2),
        ("rank", 1),
        ("rank", 3),
    ]
    assert len(state.deck) == 12 and all(len(h) == 3 for h in state.hands)


def test_play_fits_or_costs_a_life_and_discards_need_a_spent_token():
    deck = [(0, 1), (1, 1), (0, 2), (1, 2), (2, 1), (2, 2)] + [(0, 3)] * 4
    state = fixed(deck)
    assert state.hands == [[(0, 1), (0, 2), (2, 1)], [(1, 1), (1, 2), (2, 2)]]
    assert 0 not in state.legal_actions()  # 8 hint tokens: no discard
    state.apply(3)  # player 0 plays red 1: it fits
    assert state.fireworks == [1, 0, 0] and state.lives == 3
    state.apply(4)  # player 1 plays yellow 2: a misplay
    assert state.lives == 2 and (1, 2) in state.discards
    assert state.events[-1] == ("play", 1, (1, 2), False)


def test_hints_tell_positive_and_negative_information():
    state = fixed([(0, 1), (1, 1), (0, 2), (1, 2), (2, 1), (2, 2)] + [(0, 3)] * 4)
    state.apply(2 * 3 + 1)  # player 0 hints yellow to player 1
    assert state.hints == 7
    yellow, not_yellow = 0b010, 0b101
    assert [k[0] for k in state.knowledge[1]] == [yellow, yellow, not_yellow]
    assert state.possible_cards(1, 0, count=False) == [(1, 1), (1, 2), (1, 3)]
    assert 7 not in state.legal_actions()  # player 0 holds no yellow card: no such hint
    assert state.events[-1] == ("color", 1, (0, 1))


def test_one_more_round_after_the_last_card_and_three_misplays_score_zero():
    state = rules.deal(rules.HanabiConfig(colors=2, ranks=2, hand_size=2), np.random.default_rng(1))
    while state.deck:
        state.hints = 7  # room for the token a discard gains
        state.apply(0)
    assert state.final_turns == 2 and not state.is_terminal()
    state.apply(state.legal_actions()[0])
    state.apply(state.legal_actions()[0])
    assert state.is_terminal()
    lost = fixed([(0, 3), (1, 3), (0, 3), (1, 3), (2, 3), (2, 3)] + [(0, 2)] * 6)
    for _ in range(3):
        lost.apply(3)  # each plays its slot 0, a 3: a misplay
    assert lost.is_terminal() and lost.score() == 0 and lost.returns() == (0.0, 0.0)


@pytest.mark.parametrize("policy", [rules.heuristic_policy, rules.optimal_policy])
def test_scripted_partners_only_play_cards_proven_playable(policy):
    rng = np.random.default_rng(0)
    for seed in range(40):
        state = rules.deal(CFG, np.random.default_rng(seed))
        while not state.is_terminal():
            state.apply(policy(state, rng))
        assert state.lives == rules.MAX_LIVES and state.score() > 0


def test_team_shares_the_score_and_the_counting_partner_does_better():
    means = {}
    for level in ("heuristic", "optimal"):
        env = HanabiEnv(opponent=level)
        scores = []
        for seed in range(60):
            env.reset(seed=seed)
            while True:
                *_, terminated, truncated, info = env.step(env.oracle_action())
                if terminated or truncated:
                    assert info["returns"][0] == info["returns"][1]
                    scores.append(info["returns"][0])
                    break
        means[level] = np.mean(scores)
    assert means["optimal"] >= means["heuristic"] > 5


def test_observation_hides_own_cards_and_shows_the_partners():
    game = HanabiGame()
    game.reset(seed=0)
    text = game.observe("player_0")["text"]
    partner = game.game.hands[1][0]
    assert f"slot 0: {rules.COLOR_NAMES[partner[0]]} {partner[1]}" in text
    assert "Your cards (hidden from you" in text and "slot 0: ? ?" in text


def test_a_deck_dealt_out_at_once_still_ends():
    state = rules.deal(rules.HanabiConfig(colors=1, ranks=2, hand_size=2), np.random.default_rng(0))
    assert not state.deck and state.final_turns == 2
    state.apply(state.legal_actions()[0])
    state.apply(state.legal_actions()[0])
    assert state.is_terminal()
