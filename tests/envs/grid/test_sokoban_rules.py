from __future__ import annotations

import numpy as np
import pytest

from mtenvs.envs.grid import render
from mtenvs.envs.grid.sokoban_rules import DIRECTIONS, LEGEND, Level, MoveResult, State

UP, DOWN, LEFT, RIGHT = (DIRECTIONS.index(d) for d in ("up", "down", "left", "right"))

ROWS = (
    "#######",
    "#. .  #",
    "# $@$ #",
    "#  *  #",
    "#######",
)


def test_rows_round_trip_and_symbols():
    level, state = Level.from_rows(ROWS)
    assert level.to_rows(state) == ROWS
    assert level.render(state) == "\n".join(ROWS)
    assert level.num_boxes == 3
    assert level.boxes_on_target(state) == 1
    assert not level.is_solved(state)
    assert level.rc(state.player) == (2, 3)
    for symbol in "#.$*@+":
        assert repr(symbol) in LEGEND


def test_player_on_target_symbol():
    level, state = Level.from_rows(("######", "#+ $ #", "# $. #", "######"))
    assert level.render(state).split("\n")[1] == "#+ $ #"


def test_walk_push_and_blocked_moves():
    level, state = Level.from_rows(ROWS)
    walked, result = level.move(state, UP)
    assert result is MoveResult.WALKED and level.to_rows(walked)[1] == "#. +  #"
    pushed, result = level.move(state, LEFT)
    assert result is MoveResult.PUSHED and level.to_rows(pushed)[2] == "#$@ $ #"
    # A box on a target pushed down into the wall: blocked, nothing changes.
    same, result = level.move(state, DOWN)
    assert result is MoveResult.BLOCKED_BY_BOX and same == state
    corner = State(level.cell(1, 1), state.boxes)
    same, result = level.move(corner, UP)
    assert result is MoveResult.BLOCKED_BY_WALL and same == corner


def test_two_boxes_in_a_row_cannot_be_pushed():
    level, state = Level.from_rows(("#######", "#@$$ .#", "#   . #", "#######"))
    same, result = level.move(state, RIGHT)
    assert result is MoveResult.BLOCKED_BY_BOX and same == state


def test_solved_and_state_is_hashable():
    level, state = Level.from_rows(("#####", "#@$.#", "#####"))
    solved, result = level.move(state, RIGHT)
    assert result is MoveResult.PUSHED and level.is_solved(solved)
    assert len({state, solved, State(state.player, state.boxes)}) == 2


def test_ragged_rows_outside_become_walls():
    level, state = Level.from_rows(("  ####", "###  #", "#@$ .#", "######"))
    assert level.to_rows(state) == ("######", "###  #", "#@$ .#", "######")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("####", "#$.#", "####"), "exactly one player"),
        (("#####", "#@$. ", "#####"), "not enclosed"),
        (("#####", "#@$$#", "#. ##", "#####"), "as many boxes as targets"),
        (("#####", "#@x.#", "#####"), "unknown symbol"),
    ],
)
def test_bad_levels_are_rejected(rows, message):
    with pytest.raises(ValueError, match=message):
        Level.from_rows(rows)


def test_level_is_hashable_by_layout():
    a, _ = Level.from_rows(ROWS)
    b, _ = Level.from_rows(ROWS)
    assert a == b and hash(a) == hash(b)


# ---------------------------------------------------------------------- shared tile renderer


def test_tiles_are_distinct_and_round_trip():
    palette = render.make_palette(render.TILE_NAMES)
    flat = palette.bitmaps.reshape(len(palette.names), -1)
    assert len({row.tobytes() for row in flat}) == len(render.TILE_NAMES)
    codes = np.random.default_rng(0).integers(0, len(palette.names), (5, 7)).astype(np.uint8)
    image = render.render_tiles(codes, palette)
    assert image.shape == (5 * 16, 7 * 16, 3) and image.dtype == np.uint8
    assert (render.decode_tiles(image, palette) == codes).all()
    assert palette.code(render.WALL) == 0


def test_decode_rejects_foreign_tiles_and_unknown_names():
    palette = render.make_palette((render.WALL, render.FLOOR))
    image = render.render_tiles(np.zeros((2, 2), np.uint8), palette).copy()
    image[20, 20] = (1, 2, 3)
    with pytest.raises(ValueError, match="row 1, column 1"):
        render.decode_tiles(image, palette)
    with pytest.raises(ValueError, match="unknown tile"):
        render.make_palette(("lava",))
