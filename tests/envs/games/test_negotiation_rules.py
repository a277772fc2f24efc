"""Negotiation rules: pools and values, numbering, deals, messages, negotiators."""

from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.games import negotiation_rules as rules
from mtenvs.envs.games.negotiation import NegotiationEnv, NegotiationGame, extract_message


def test_pools_and_private_values_follow_the_rules():
    for seed in range(200):
        counts, (a, b) = rules.deal_pool(np.random.default_rng(seed))
        assert all(1 <= n <= 4 for n in counts) and 5 <= sum(counts) <= 7
        assert rules.value(a, counts) == rules.value(b, counts) == rules.TOTAL_VALUE
        assert all(x or y for x, y in zip(a, b)) and any(x and y for x, y in zip(a, b))


def test_action_numbering():
    assert rules.proposal_id((2, 1, 0)) == 55 and rules.proposal_of(55) == (2, 1, 0)
    assert (rules.ACCEPT, rules.TALK, rules.WALK, rules.NUM_ACTIONS) == (125, 126, 127, 128)


def test_accepting_ends_with_the_deal_and_no_deal_pays_nothing():
    state = rules.NegotiationState((1, 2, 3), ((4, 0, 2), (0, 2, 2)))
    assert rules.ACCEPT not in state.legal_actions() and rules.WALK not in state.legal_actions()
    assert rules.proposal_id((2, 0, 0)) not in state.legal_actions()  # more books than exist
    state.apply(rules.proposal_id((1, 0, 1)))  # player 0 takes the book and a ball
    assert rules.ACCEPT not in state.legal_actions() or state.current_player() == 1
    state.apply(rules.ACCEPT)
    assert state.is_terminal() and state.deal() == ((1, 0, 1), (0, 2, 2))
    assert state.returns() == (6.0, 8.0)  # non-zero-sum: both gain
    timeout = rules.NegotiationState((1, 2, 3), ((4, 0, 2), (0, 2, 2)), max_moves=2)
    timeout.apply(rules.TALK)
    timeout.apply(rules.proposal_id((0, 0, 0)))
    assert timeout.is_terminal() and timeout.returns() == (0.0, 0.0)


@pytest.mark.parametrize("policy", [rules.heuristic_policy, rules.optimal_policy])
def test_negotiators_take_a_generous_offer_and_never_take_a_worthless_one(policy):
    rng = np.random.default_rng(0)
    state = rules.NegotiationState((1, 2, 3), ((4, 0, 2), (0, 2, 2)))
    state.apply(rules.proposal_id((0, 0, 0)))  # player 0 offers everything
    assert policy(state, rng) == rules.ACCEPT
    state = rules.NegotiationState((1, 2, 3), ((4, 0, 2), (0, 2, 2)))
    state.apply(rules.proposal_id((1, 2, 3)))  # player 0 takes everything
    assert policy(state, rng) != rules.ACCEPT


def test_messages_ride_along_and_are_shown_to_the_partner():
    game = NegotiationGame()
    game.reset(seed=0)
    game.step("<message>I only want \x00 the hats.</message><action>talk</action>")
    text = game.observe("player_1")["text"]
    assert 'player_0 talks (says: "I only want the hats.")' in text
    assert game.game.messages == [(0, 0, "I only want the hats.")]
    assert extract_message("<message>" + "x" * 1000 + "</message>") == "x" * 300


def test_single_agent_messages_and_deals():
    env = NegotiationEnv(opponent="heuristic", play_as=0)
    env.reset(seed=1)
    _, _, _, _, info = env.step("<message>Hello!</message><action>propose 0 0 0</action>")
    assert info["parse_error"] is None
    assert env._game.game.messages[0][2] == "Hello!"
    assert env._game.is_over() and info["returns"][0] == 0.0  # gave everything away


def test_optimal_negotiator_earns_more_than_random_play():
    means = {}
    for agent in ("oracle", "random"):
        env = NegotiationEnv(opponent="heuristic")
        rng = np.random.default_rng(0)
        scores = []
        for seed in range(100):
            env.reset(seed=seed)
            while True:
                reply = env.oracle_action() if agent == "oracle" else env.random_action(rng)
                _, reward, terminated, truncated, _ = env.step(reply)
                if terminated or truncated:
                    scores.append(reward)
                    break
        means[agent] = np.mean(scores)
    assert means["oracle"] > means["random"] + 0.2
