from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from mtenvs.envs.grid.maze_rules import (
    apply_moves,
    generate_maze,
    grid_distances,
    initial_board,
    move_offsets,
    optimal_plan,
    view_windows,
)


def reference_bfs(grid, source):
    """Independent BFS on (row, col) tuples, for cross-checking the text-indexed one."""
    dist = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            if (
                0 <= nr < len(grid)
                and 0 <= nc < len(grid[0])
                and grid[nr][nc] != "#"
                and (nr, nc) not in dist
            ):
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


def floor_cells(grid):
    return {(r, c) for r, row in enumerate(grid) for c, ch in enumerate(row) if ch != "#"}


def edge_count(grid):
    cells = floor_cells(grid)
    return sum((r + 1, c) in cells for r, c in cells) + sum((r, c + 1) in cells for r, c in cells)


@pytest.mark.parametrize("cells", [2, 3, 5, 7])
@pytest.mark.parametrize("loops", [0, 3])
def test_generated_mazes_are_connected_and_goal_is_farthest(cells, loops):
    for seed in range(25):
        maze = generate_maze(cells, cells, np.random.default_rng(seed), loops=loops)
        size = 2 * cells + 1
        assert len(maze.grid) == size and all(len(row) == size for row in maze.grid)
        assert set("".join(maze.grid)) <= {"#", "."}
        # Outer ring is solid wall, so moves never leave the board.
        assert maze.grid[0] == maze.grid[-1] == "#" * size
        assert all(row[0] == row[-1] == "#" for row in maze.grid)
        dist = reference_bfs(maze.grid, maze.start)
        assert set(dist) == floor_cells(maze.grid)  # every floor cell reachable
        assert maze.start[0] % 2 == maze.start[1] % 2 == 1
        assert dist[maze.goal] == max(dist.values()) > 0
        # A perfect maze is a tree; each loop opens one of the walls the tree kept.
        kept_walls = 2 * cells * (cells - 1) - (cells * cells - 1)
        assert edge_count(maze.grid) == len(dist) - 1 + min(loops, kept_walls)


def test_perfect_maze_is_a_tree():
    maze = generate_maze(6, 4, np.random.default_rng(1))
    assert edge_count(maze.grid) == len(floor_cells(maze.grid)) - 1
    assert len(maze.grid) == 13 and len(maze.grid[0]) == 9


def test_generation_is_deterministic_per_seed():
    a = generate_maze(5, 5, np.random.default_rng(7), loops=2)
    b = generate_maze(5, 5, np.random.default_rng(7), loops=2)
    assert a == b
    others = {generate_maze(5, 5, np.random.default_rng(s)).grid for s in range(20)}
    assert len(others) > 15


def test_too_small_maze_is_rejected():
    with pytest.raises(ValueError, match="at least 2 cells"):
        generate_maze(1, 1, np.random.default_rng(0))


def test_text_indexed_distances_match_reference_bfs():
    maze = generate_maze(5, 5, np.random.default_rng(3), loops=3)
    stride = len(maze.grid[0]) + 1
    dist = grid_distances(maze.grid, maze.goal)
    ref = reference_bfs(maze.grid, maze.goal)
    for r, row in enumerate(maze.grid):
        for c in range(len(row)):
            assert dist[r * stride + c] == ref.get((r, c), -1)


def test_optimal_plan_walks_to_goal_in_distance_steps():
    maze = generate_maze(7, 7, np.random.default_rng(4), loops=4)
    width = len(maze.grid[0])
    stride = width + 1
    dist = grid_distances(maze.grid, maze.goal)
    pos = maze.start[0] * stride + maze.start[1]
    plan = optimal_plan(dist, pos, width)
    assert len(plan) == reference_bfs(maze.grid, maze.start)[maze.goal]
    offsets = move_offsets(width)
    for name in plan:
        pos += offsets[name]
        r, c = divmod(pos, stride)
        assert maze.grid[r][c] == "."
    assert divmod(pos, stride) == maze.goal
    assert optimal_plan(dist, maze.start[0] * stride + maze.start[1], width, 3) == plan[:3]


def test_view_windows_are_chebyshev_squares():
    height, width, radius = 7, 9, 2
    stride = width + 1
    windows = view_windows(height, width, radius)
    for r in range(height):
        for c in range(width):
            got = {divmod(i, stride) for i in windows[r * stride + c]}
            want = {
                (rr, cc)
                for rr in range(height)
                for cc in range(width)
                if max(abs(rr - r), abs(cc - c)) <= radius
            }
            assert got == want


def test_fogged_board_shows_only_the_window_and_remembers():
    maze = generate_maze(5, 5, np.random.default_rng(5))
    base, board = initial_board(maze.grid, maze.start, maze.goal, 1)
    stride = len(maze.grid[0]) + 1
    for i, ch in enumerate(board.decode()):
        if ch == "\n":
            continue
        r, c = divmod(i, stride)
        near = max(abs(r - maze.start[0]), abs(c - maze.start[1])) <= 1
        assert (ch != "?") == near
    # Walk one optimal step: new cells appear, old ones stay shown.
    dist = grid_distances(maze.grid, maze.goal)
    pos = maze.start[0] * stride + maze.start[1]
    step = move_offsets(len(maze.grid[0]))[optimal_plan(dist, pos, len(maze.grid[0]), 1)[0]]
    seen_before = {i for i, b in enumerate(board) if b != ord("?")}
    windows = view_windows(len(maze.grid), len(maze.grid[0]), 1)
    goal = maze.goal[0] * stride + maze.goal[1]
    new_pos, moved = apply_moves(board, base, pos, [step], goal, windows)
    assert moved == [True] and new_pos == pos + step
    seen_after = {i for i, b in enumerate(board) if b != ord("?")}
    assert seen_before < seen_after
    assert board[new_pos] == ord("@") and board.count(b"@") == 1


def test_apply_moves_bumps_walls_and_stops_at_goal():
    grid = ("#####", "#...#", "#####")
    base, board = initial_board(grid, (1, 1), (1, 3), None)
    assert board.decode() == "#####\n#@.G#\n#####"
    off = move_offsets(5)
    goal = 1 * 6 + 3
    pos, moved = apply_moves(board, base, 7, [off["up"], off["right"]], goal, None)
    assert (pos, moved) == (8, [False, True])
    assert board.decode() == "#####\n#.@G#\n#####"
    pos, moved = apply_moves(board, base, pos, [off["right"], off["left"], off["left"]], goal, None)
    assert (pos, moved) == (goal, [True])  # moves after the goal are not played
    assert board.decode() == "#####\n#..@#\n#####"
