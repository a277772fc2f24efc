from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.games.tictactoe_rules import (
    TicTacToeState,
    best_actions,
    heuristic_policy,
    minimax_value,
    optimal_policy,
    random_policy,
)


def play(cells):
    state = TicTacToeState()
    for c in cells:
        state.apply(c)
    return state


def test_perfect_play_is_a_draw():
    assert minimax_value((0,) * 9) == 0
    # Every opening move keeps the draw.
    assert best_actions((0,) * 9) == list(range(9))


def test_lines_and_returns():
    state = play([0, 3, 1, 4, 2])  # X takes the top row
    assert state.is_terminal() and state.winner() == 0 and state.returns() == (1.0, -1.0)
    state = play([0, 1, 2, 4, 3, 5, 7, 6, 8])  # full board, no line
    assert state.is_terminal() and state.winner() == -1 and state.returns() == (0.0, 0.0)
    assert state.forfeit_returns(1) == (1.0, -1.0)


def test_illegal_move_raises():
    state = play([4])
    with pytest.raises(ValueError):
        state.apply(4)


def test_minimax_finds_win_and_block():
    # X to move with 0,1 taken: 2 wins.
    assert best_actions(play([0, 3, 1, 4]).key()) == [2]
    # O to move, X threatens 0-1-2: O must block at 2.
    assert best_actions(play([0, 4, 1]).key()) == [2]


def test_heuristic_wins_then_blocks():
    rng = np.random.default_rng(0)
    assert heuristic_policy(play([0, 3, 1, 4]), rng) == 2
    assert heuristic_policy(play([0, 4, 1]), rng) == 2
    assert heuristic_policy(TicTacToeState(), rng) == 4


@pytest.mark.parametrize("optimal_seat", [0, 1])
def test_optimal_never_loses(optimal_seat):
    rng = np.random.default_rng(optimal_seat)
    for _ in range(200):
        state = TicTacToeState()
        while not state.is_terminal():
            policy = optimal_policy if state.current_player() == optimal_seat else random_policy
            state.apply(policy(state, rng))
        assert state.returns()[optimal_seat] >= 0
