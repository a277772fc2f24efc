from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.games.connect_four_rules import (
    ConnectFourState,
    heuristic_policy,
    immediate_wins,
    optimal_policy,
    random_policy,
    search,
)


def play(cols):
    state = ConnectFourState()
    for c in cols:
        state.apply(c)
    return state


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ([0, 0, 1, 1, 2, 2, 3], 0),  # horizontal
        ([0, 1, 0, 1, 0, 1, 0], 0),  # vertical
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 0),  # diagonal /
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], 0),  # diagonal \
    ],
)
def test_four_in_a_row(moves, winner):
    state = play(moves)
    assert state.is_terminal() and state.winner() == winner
    assert state.returns()[winner] == 1.0


def test_full_column_is_illegal_and_draw_when_full():
    state = play([0] * 6)
    assert 0 not in state.legal_actions()
    with pytest.raises(ValueError):
        state.apply(0)
    # Columns alternate XXXOOO / OOOXXX, the last one XOXOXO: a full board without four.
    state = ConnectFourState()
    for col in [0, 1] * 3 + [1, 0] * 3 + [2, 3] * 3 + [3, 2] * 3 + [4, 5] * 3 + [5, 4] * 3:
        state.apply(col)
    for _ in range(6):
        state.apply(6)
    assert state.is_terminal() and state.winner() == -1 and state.returns() == (0.0, 0.0)


def random_positions(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        state = ConnectFourState()
        for _ in range(int(rng.integers(4, 30))):
            if state.is_terminal():
                break
            state.apply(random_policy(state, rng))
        if not state.is_terminal():
            out.append(state)
    return out


@pytest.mark.parametrize("policy", [optimal_policy, heuristic_policy])
def test_never_misses_an_immediate_win_or_block(policy):
    rng = np.random.default_rng(0)
    checked = 0
    for state in random_positions(80, seed=1):
        me, opp = state.to_move_bits()
        wins, threats = immediate_wins(me, opp), immediate_wins(opp, me)
        move = policy(state, rng)
        if wins:
            assert move in wins
            checked += 1
        elif threats:
            assert move in threats
            checked += 1
    assert checked > 10


def test_search_prefers_a_quick_win_and_is_cached():
    state = play([3, 0, 3, 0, 3])  # X threatens four in column 3 (O must block)
    assert search(*state.to_move_bits())[0] == (3,)
    before = search.cache_info().hits
    search(*state.to_move_bits())
    assert search.cache_info().hits == before + 1


def test_optimal_beats_random():
    rng = np.random.default_rng(3)
    for seat in (0, 1):
        for _ in range(3):
            state = ConnectFourState()
            while not state.is_terminal():
                mine = state.current_player() == seat
                state.apply((optimal_policy if mine else random_policy)(state, rng))
            assert state.returns()[seat] == 1.0
