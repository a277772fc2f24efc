from __future__ import annotations

import random
import time
from collections import deque

import pytest

from mtenvs.envs.grid.sokoban_rules import Level, MoveResult, State
from mtenvs.envs.grid.sokoban_solver import SokobanSolver
from mtenvs.envs.grid.sokoban_tasks import _reachable, generate_task, load_eval_set

# Hand-made levels and their optimal move counts (walks and pushes each count 1).
KNOWN = [
    (("#####", "#@$.#", "#####"), 1),
    # Walk round the box: left, left, up, then push right twice.
    (("#######", "#     #", "# $ . #", "#  @  #", "#######"), 5),
    # Two pushes in different directions with a diagonal reposition between them.
    (("#######", "#.    #", "# $   #", "#   @ #", "#######"), 6),
    # A corridor: walk right twice, then three pushes straight down.
    (("######", "#@   #", "#  $ #", "### ##", "### ##", "###.##", "######"), 5),
    # Two boxes: the order matters (the reference search below states the count).
    (("#######", "#     #", "# $$  #", "#  .. #", "#  @  #", "#######"), None),
]


def reference_distance(level: Level, start: State) -> int:
    """Plain forward BFS over every state (no pruning): the ground truth."""
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        state, dist = queue.popleft()
        if level.is_solved(state):
            return dist
        for move in range(4):
            nxt, result = level.move(state, move)
            if result < MoveResult.BLOCKED_BY_WALL and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, dist + 1))
    return -1


def replay(level: Level, state: State, moves) -> State:
    for move in moves:
        state, _ = level.move(state, move)
    return state


@pytest.mark.parametrize(("rows", "expected"), KNOWN)
@pytest.mark.parametrize("full_table", [True, False])
def test_known_optimal_lengths(rows, expected, full_table):
    level, start = Level.from_rows(rows)
    if expected is None:
        expected = reference_distance(level, start)
    assert reference_distance(level, start) == expected
    solver = SokobanSolver(level, full_table_limit=10**9 if full_table else 0)
    assert solver.use_full_table is full_table
    solution = solver.solve(start.player, start.boxes)
    assert solution is not None and solution.distance == expected == len(solution.moves)
    assert level.is_solved(replay(level, start, solution.moves))
    assert solver.distance(start.player, start.boxes) == expected


@pytest.mark.parametrize("full_table", [True, False])
def test_unsolvable_states(full_table):
    limit = 10**9 if full_table else 0
    level, start = Level.from_rows(("######", "#$   #", "#  . #", "# @  #", "######"))
    solver = SokobanSolver(level, full_table_limit=limit)
    assert solver.solve(start.player, start.boxes) is None
    assert solver.distance(start.player, start.boxes) == -1
    assert solver.plan(start.player, start.boxes) == []
    assert solver.dead[level.cell(1, 1)] == 1
    # Two boxes side by side against a wall: a freeze deadlock though no box is in a corner.
    level, start = Level.from_rows(("#######", "# $$  #", "#   ..#", "#  @  #", "#######"))
    solver = SokobanSolver(level, full_table_limit=limit)
    assert solver.is_freeze_deadlock(start.boxes, level.cell(1, 2))
    assert solver.distance(start.player, start.boxes) == -1


def test_frozen_boxes_on_targets_are_not_a_deadlock():
    level, start = Level.from_rows(("#######", "# **  #", "#     #", "#  @  #", "#######"))
    solver = SokobanSolver(level, full_table_limit=0)
    assert not solver.is_freeze_deadlock(start.boxes, level.cell(1, 2))
    assert solver.distance(start.player, start.boxes) == 0


def random_states(level: Level, start: State, rng: random.Random, n: int) -> list[State]:
    """States reached by random walks (pushes included) from ``start``."""
    states, state = [], start
    for _ in range(n):
        for _ in range(rng.randint(1, 6)):
            state, _ = level.move(state, rng.randrange(4))
        states.append(state)
        if rng.random() < 0.2:
            state = start
    return states


@pytest.mark.parametrize("difficulty", ["easy", "medium"])
def test_lazy_astar_agrees_with_full_table(difficulty):
    """The pruned A* (dead squares, freeze deadlocks) gives the exact distance of the
    exhaustive backward search, solvable and unsolvable states alike."""
    rng = random.Random(7)
    checked = unsolvable = 0
    for task in load_eval_set(difficulty)[:6]:
        level, start = task.parsed
        full = SokobanSolver(level, full_table_limit=10**9)
        lazy = SokobanSolver(level, full_table_limit=0)
        lazy.learn_path(start.player, start.boxes, task.solution_moves)
        for state in random_states(level, start, rng, 60):
            expected = full.distance(*state)
            assert lazy.distance(*state) == expected
            plan = lazy.plan(*state)
            assert len(plan) == max(expected, 0)
            if expected >= 0:
                assert level.is_solved(replay(level, state, plan))
            checked += 1
            unsolvable += expected < 0
    assert checked == 360 and unsolvable > 0


def test_full_table_matches_reference_bfs():
    task = load_eval_set("easy")[0]
    level, start = task.parsed
    solver = SokobanSolver(level)
    assert solver.use_full_table
    for state in random_states(level, start, random.Random(1), 40):
        assert solver.distance(*state) == reference_distance(level, state)


def test_learn_path_rejects_a_plan_that_does_not_solve():
    level, start = Level.from_rows(KNOWN[1][0])
    with pytest.raises(ValueError, match="does not solve"):
        SokobanSolver(level).learn_path(start.player, start.boxes, [0, 1])


def test_node_limit_gives_up_without_recording():
    task = load_eval_set("hard")[0]
    level, start = task.parsed
    solver = SokobanSolver(level, full_table_limit=0)
    assert solver.solve(start.player, start.boxes, node_limit=1) is None
    solution = solver.solve(start.player, start.boxes)
    assert solution is not None and solution.distance == task.optimal_length


def test_eval_levels_solve_from_scratch_fast():
    """Every shipped level solves from scratch well under a second (the generator's node
    limit), so the per-step distance stays cheap."""
    worst = 0.0
    for difficulty in ("easy", "medium", "hard"):
        for task in load_eval_set(difficulty)[::5]:
            level, start = task.parsed
            t0 = time.perf_counter()
            solution = SokobanSolver(level, full_table_limit=0).solve(*start)
            worst = max(worst, time.perf_counter() - t0)
            assert solution is not None and solution.distance == task.optimal_length
    assert worst < 1.0


def test_generated_solution_is_optimal_by_reference():
    for index in range(5):
        task = generate_task("easy", "train", index)
        assert reference_distance(*task.parsed) == task.optimal_length


def test_reachable_cells_match_a_plain_flood_fill():
    rng = random.Random(0)
    for index in range(12):
        task = generate_task("medium", "train", index)
        level, _ = task.parsed
        floor = level.floor_cells()
        for _ in range(10):
            boxes = sum(1 << c for c in rng.sample(floor, 3))
            player = rng.choice([c for c in floor if not boxes >> c & 1])
            seen, stack = {player}, [player]
            while stack:
                x = stack.pop()
                for d in level.deltas:
                    y = x + d
                    if y not in seen and not level.wall[y] and not boxes >> y & 1:
                        seen.add(y)
                        stack.append(y)
            assert _reachable(level, player, boxes) == sorted(seen)


def test_learn_path_sets_the_plan_on_a_full_table():
    task = generate_task("easy", "train", 5)
    level, start = task.parsed
    solver = SokobanSolver(level)
    solver.prepare()
    assert solver._full
    solver.learn_path(start.player, start.boxes, task.solution_moves)
    assert solver.plan(start.player, start.boxes) == list(task.solution_moves)
    assert solver.distance(start.player, start.boxes) == task.optimal_length


def test_reset_prepares_the_solver_so_steps_never_build_tables(monkeypatch):
    import mtenvs.envs.grid.sokoban_solver as solver_module
    from mtenvs.envs.grid.sokoban import SokobanEnv

    env = SokobanEnv(max_turns=40)
    env.reset(seed=123_457)
    # The level is cached now but its solver is not: reset must build the table itself.
    monkeypatch.setattr(solver_module, "_solvers", type(solver_module._solvers)())
    env.reset(seed=123_457)
    solver = env._solver
    assert solver is solver_module.solver_for(env._level) and solver.level is env._level
    assert solver.use_full_table and solver._full  # easy levels: built in reset

    def no_build(self):
        raise AssertionError("a step built a solver table")

    monkeypatch.setattr(SokobanSolver, "_build_full_table", no_build)
    for move in ["left", "up", "right", "down"] * 10:
        *_, terminated, truncated, info = env.step(f"<action>{move}</action>")
        if terminated or truncated:
            break
    assert info["turn"] > 1


def test_generator_hands_its_solver_to_the_env():
    import mtenvs.envs.grid.sokoban_solver as solver_module

    task = generate_task.__wrapped__("easy", "train", 987_654)
    level, _ = task.parsed
    shared = solver_module.solver_for(level)
    assert shared._full and shared.level == level  # the generator's table, not a new one


def reference_table(level: Level) -> dict[int, int]:
    """The full table by a plain FIFO backward search over (player, boxes) pairs: each
    state keeps the move it was first reached by (the order the oracle's plans follow)."""
    shift = SokobanSolver(level).shift
    goal = level.targets_mask
    table: dict[int, int] = {}
    queue: deque[tuple[int, int, int]] = deque()
    for p in level.floor_cells():
        if not goal >> p & 1:
            table[goal << shift | p] = 0
            queue.append((p, goal, 0))
    while queue:
        p, boxes, distance = queue.popleft()
        for move, d in enumerate(level.deltas):
            q, b = p - d, p + d  # the player came from q; a box pushed from p is on b
            if level.wall[q] or boxes >> q & 1:
                continue
            predecessors = [boxes]
            if boxes >> b & 1:
                predecessors.append(boxes ^ (1 << b) ^ (1 << p))
            for before in predecessors:
                key = before << shift | q
                if key not in table:
                    table[key] = (distance + 1) << 2 | move
                    queue.append((q, before, distance + 1))
    return table


@pytest.mark.parametrize("difficulty", ["easy", "medium"])
def test_full_table_equals_a_plain_fifo_search(difficulty):
    checked = 0
    for task in load_eval_set(difficulty)[:12]:
        level, _ = task.parsed
        solver = SokobanSolver(level)
        if not solver.use_full_table:
            continue
        solver.prepare()
        assert solver._table == reference_table(level)  # distances and best moves
        checked += 1
    assert checked > 0
