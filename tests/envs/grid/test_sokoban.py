from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.core.envdoc import parse_env_doc
from mtenvs.envs.grid import render
from mtenvs.envs.grid.sokoban import SokobanEnv
from mtenvs.envs.grid.sokoban_rules import Level
from mtenvs.envs.grid.sokoban_tasks import (
    DIFFICULTIES,
    EVAL_SET_SIZE,
    generate_task,
    layout_split,
    load_eval_set,
)
from mtenvs.error import InvalidArgumentError

DIFFS = tuple(DIFFICULTIES)


def play(env: SokobanEnv, replies):
    out = []
    for reply in replies:
        out.append(env.step(reply))
        if out[-1][2] or out[-1][3]:
            break
    return out


def run_oracle(env: SokobanEnv, **reset_kwargs):
    _, info = env.reset(**reset_kwargs)
    steps = []
    while True:
        steps.append(env.step(env.oracle_action()))
        if steps[-1][2] or steps[-1][3]:
            return info, steps


# ---------------------------------------------------------------------- tasks


@pytest.mark.parametrize(("difficulty", "count"), [("easy", 40), ("medium", 15), ("hard", 6)])
def test_generated_levels_are_solvable_in_their_stated_length(difficulty, count):
    spec = DIFFICULTIES[difficulty]
    for split in ("train", "test"):
        for index in range(count):
            task = generate_task(difficulty, split, index)
            level, start = task.parsed
            state = start
            for move in task.solution_moves:
                state, _ = level.move(state, move)
            assert level.is_solved(state)
            assert len(task.solution) == task.optimal_length
            assert spec.min_length <= task.optimal_length <= spec.max_length
            assert level.height <= spec.room[0] and level.width <= spec.room[1]
            assert level.num_boxes == spec.boxes
            assert layout_split(task.rows) == split
            assert task.task_id == f"sokoban-{difficulty}-{split}-{index}"


def test_generation_is_deterministic():
    a = generate_task.__wrapped__("medium", "train", 3)
    b = generate_task.__wrapped__("medium", "train", 3)
    assert a == b and a != generate_task("medium", "train", 4)


@pytest.mark.parametrize("difficulty", DIFFS)
def test_eval_sets_are_test_levels_disjoint_from_train(difficulty):
    tasks = load_eval_set(difficulty)
    assert len(tasks) == EVAL_SET_SIZE
    assert len({t.rows for t in tasks}) == EVAL_SET_SIZE
    train_layouts = {generate_task(difficulty, "train", i).rows for i in range(15)}
    for task in tasks:
        assert task.split == "test" and layout_split(task.rows) == "test"
        assert task.rows not in train_layouts
        # The shipped copy is what the generator makes (the file is not stale).
    assert tasks[:3] == tuple(generate_task(difficulty, "test", i) for i in range(3))


# ---------------------------------------------------------------------- oracle and rewards


@pytest.mark.parametrize("difficulty", DIFFS)
@pytest.mark.parametrize("k", [1, 4])
def test_oracle_solves_every_eval_level_optimally(difficulty, k):
    env = SokobanEnv(
        difficulty=difficulty, eval_set=True, actions_per_turn=k, reward_mode="process"
    )
    for index, task in enumerate(load_eval_set(difficulty)):
        info, steps = run_oracle(env, seed=index)
        assert info["task_id"] == task.task_id
        last = steps[-1][4]
        assert last["success"] and steps[-1][2] and not steps[-1][3]
        assert last["total_effective_moves"] == task.optimal_length
        assert last["total_invalid_moves"] == 0
        assert len(steps) == math.ceil(task.optimal_length / k)
        process = sum(s[4]["reward_components"]["process"] for s in steps)
        assert process == pytest.approx(1.0)
        assert sum(s[1] for s in steps) == pytest.approx(2.0)  # outcome 1 + process 1


def test_outcome_mode_reports_process_as_uncounted():
    env = SokobanEnv()
    _, steps = run_oracle(env, seed=5)
    assert [s[1] for s in steps] == [0.0] * (len(steps) - 1) + [1.0]
    assert sum(s[4]["uncounted_components"]["process"] for s in steps) == pytest.approx(1.0)


def test_process_reward_is_the_distance_delta():
    env = SokobanEnv(reward_mode="process")
    env.reset(seed=11)
    d0 = env.privileged()["optimal_remaining"]
    rng = np.random.default_rng(0)
    for _ in range(30):
        before = env.privileged()["optimal_remaining"]
        _, _, terminated, _, info = env.step(env.random_action(rng))
        after = env.privileged()["optimal_remaining"]
        capped = 2 * d0 if after < 0 else min(after, 2 * d0)
        assert info["reward_components"]["process"] == pytest.approx(
            (min(before, 2 * d0) - capped) / d0
        )
        if terminated:
            break


def test_deadlock_terminates_with_process_sum_minus_one():
    rng = np.random.default_rng(1)
    env = SokobanEnv(reward_mode="process")
    for seed in range(200):
        env.reset(seed=seed)
        total, info, terminated, truncated = 0.0, {}, False, False
        while not (terminated or truncated):
            _, _, terminated, truncated, info = env.step(env.random_action(rng))
            total += info["reward_components"]["process"]
        if info["deadlock"]:
            assert terminated and not info["success"]
            assert info["reward_components"]["outcome"] == 0.0
            assert total == pytest.approx(-1.0)
            assert env.privileged()["solvable"] is False
            assert env.privileged()["optimal_remaining"] == -1
            return
    pytest.fail("random play never deadlocked")


# ---------------------------------------------------------------------- determinism and snapshots


def test_same_seed_same_task_and_trajectory():
    words = ["up", "left", "down", "right", "left", "left", "up", "down"]
    replies = [f"<action>{d}</action>" for d in words]
    a, b = SokobanEnv(difficulty="medium"), SokobanEnv(difficulty="medium")
    obs_a, info_a = a.reset(seed=42)
    obs_b, info_b = b.reset(seed=42)
    assert obs_a == obs_b and info_a == info_b
    for ra, rb in zip(play(a, replies), play(b, replies)):
        assert ra == rb
    assert SokobanEnv(difficulty="medium").reset(seed=43)[1]["task_id"] != info_a["task_id"]


def test_snapshot_restore_gives_identical_continuations():
    env = SokobanEnv(obs_mode="text+image", reward_mode="process")
    env.reset(seed=3)
    rng = np.random.default_rng(2)
    play(env, [env.random_action(rng) for _ in range(3)])
    snap = env.snapshot()
    replies = [env.random_action(rng) for _ in range(15)]
    first = play(env, replies)
    env.reset(seed=99)  # somewhere else entirely, then back
    env.restore(snap)
    second = play(env, replies)
    assert len(first) == len(second)
    for x, y in zip(first, second):
        assert x[0]["text"] == y[0]["text"] and (x[0]["image"] == y[0]["image"]).all()
        assert x[1:] == y[1:]


def test_task_id_option_replays_a_level():
    env = SokobanEnv(difficulty="medium")
    _, info = env.reset(seed=8)
    _, again = env.reset(options={"task_id": info["task_id"]})
    assert again["task_id"] == info["task_id"]
    with pytest.raises(InvalidArgumentError, match="difficulty='easy'"):
        env.reset(options={"task_id": "sokoban-easy-train-1"})
    with pytest.raises(InvalidArgumentError, match="expected 'sokoban-"):
        env.reset(options={"task_id": "level-1"})
    ev = SokobanEnv(eval_set=True)
    assert ev.reset(options={"task_id": 7})[1]["task_id"] == load_eval_set("easy")[7].task_id
    assert ev.reset(seed=EVAL_SET_SIZE + 2)[1]["task_id"] == load_eval_set("easy")[2].task_id
    with pytest.raises(InvalidArgumentError, match="not in the easy eval set"):
        ev.reset(options={"task_id": "sokoban-easy-train-1"})


# ---------------------------------------------------------------------- observations


def board_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith("#")]


@pytest.mark.parametrize("difficulty", DIFFS)
def test_image_shows_the_text_board(difficulty):
    env = SokobanEnv(difficulty=difficulty, obs_mode="text+image", render_mode="rgb_array")
    palette = render.make_palette(
        (
            render.WALL,
            render.FLOOR,
            render.TARGET,
            render.BOX,
            render.BOX_ON_TARGET,
            render.PLAYER,
            render.PLAYER_ON_TARGET,
        )
    )
    symbols = "# .$*@+"
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    for _ in range(12):
        codes = render.decode_tiles(obs["image"], palette)
        picture = ["".join(symbols[c] for c in row) for row in codes]
        board = board_of(obs["text"])
        assert len(picture) == DIFFICULTIES[difficulty].room[0]
        for r, row in enumerate(picture):  # padding beyond the room is wall
            expected = board[r] if r < len(board) else ""
            assert row == expected.ljust(len(row), "#")
        assert (env.render() == obs["image"]).all()
        obs, _, terminated, truncated, _ = env.step(env.random_action(rng))
        if terminated or truncated:
            break


def test_text_observation_and_status():
    env = SokobanEnv(render_mode="ansi")
    obs, info = env.reset(seed=0)
    level, state = Level.from_rows(board_of(obs))
    assert env.render() == level.render(state)
    assert "Boxes on targets: 0/1. Moves made: 0. Turns left: 60." in obs
    assert "<action>up</action>" in info["system_prompt"]
    obs, *_ = env.step("<action>up</action>")
    assert re.match(r"(You moved up\.|You pushed a box up\.|Moving up hit a wall)", obs)
    assert "Turns left: 59." in obs


@pytest.mark.parametrize("obs_mode", ["text", "image", "text+image"])
def test_check_env(obs_mode):
    check_env(SokobanEnv(obs_mode=obs_mode).unwrapped, skip_render_check=True)
    check_env(
        gym.make("mtenvs/Sokoban-v0", obs_mode=obs_mode, difficulty="hard").unwrapped,
        skip_render_check=True,
    )


# ---------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    "reply",
    [
        "<action>up</action>",
        "I think <action> UP </action>",
        "Up",
        "u.",
        "<action>u</action>",
        {"name": "move", "arguments": {"direction": "up"}},
        {"type": "function", "function": {"name": "move", "arguments": '{"direction": "up"}'}},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"function": {"name": "move", "arguments": {"directions": ["up"]}}}],
        },
        '<tool_call>{"name": "move", "arguments": {"direction": "up"}}</tool_call>',
        {"role": "assistant", "content": "<action>up</action>"},
    ],
)
def test_accepted_reply_shapes(reply):
    env = SokobanEnv()
    env.reset(seed=0)
    assert env.parse_action(reply) == (0,)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("<action>jump</action>", "unknown move 'jump'; allowed moves: up, down, left, right"),
        ("jump", "unknown move 'jump'"),
        ("let me think about it", "no <action>"),
        ("<action></action>", "holds no move"),
        ("<action>up left</action>", "2 moves given, but at most 1 move is allowed"),
        ({"name": "teleport", "arguments": {}}, "unknown tool 'teleport'"),
        ({"name": "move", "arguments": {"direction": 3}}, "needs 'direction'"),
        (12, "expected a text reply"),
    ],
)
def test_malformed_replies_cost_format_and_the_episode_goes_on(reply, reason):
    env = SokobanEnv(format_penalty=0.25)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(reply)
    assert reason in info["parse_error"]
    assert reward == -0.25 and info["reward_components"] == {"format": -0.25}
    assert not terminated and not truncated and env.episode_active
    assert "Expected format: <action>MOVE</action>" in obs
    assert info["effective_moves"] == info["invalid_moves"] == 0
    assert env.step("<action>down</action>")[4]["parse_error"] is None


def test_multiple_moves_per_turn_and_invalid_moves_are_counted():
    env = SokobanEnv(actions_per_turn=3)
    obs, _ = env.reset(seed=0)
    assert "up to 3 moves" in env.system_prompt()
    level, state = Level.from_rows(board_of(obs))
    # Find a direction into a wall from the start, to have a guaranteed no-op.
    wall_dir = next(d for d in range(4) if level.move(state, d)[1] == 2)
    word = ("up", "down", "left", "right")[wall_dir]
    _, _, _, _, info = env.step(f"<action>{word} {word}</action>")
    assert info["invalid_moves"] == 2 and info["effective_moves"] == 0
    assert info["total_invalid_moves"] == 2
    assert env.parse_action({"name": "move", "arguments": {"directions": "l r u"}}) == (2, 3, 0)
    assert env.parse_action("left right") == (2, 3)
    assert env.random_action(np.random.default_rng(0)).startswith("<action>")


# ---------------------------------------------------------------------- arguments and docs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"difficulty": "hrad"}, "choose one of 'easy', 'medium', 'hard'. Did you mean 'hard'?"),
        ({"obs_mode": "pixels"}, "choose one of 'text', 'image', 'text+image'"),
        ({"actions_per_turn": 0}, "actions_per_turn must be >= 1"),
        ({"actions_per_turn": "2"}, "actions_per_turn must be an int"),
        ({"eval_set": "yes"}, "eval_set must be True or False"),
        ({"eval_set": True, "split": "train"}, "use split='test'"),
        ({"render_mode": "human"}, "choose one of None, 'ansi', 'rgb_array'"),
        ({"difficulty_level": "easy"}, "allowed arguments: difficulty"),
        ({"max_turns": 0}, "max_turns must be >= 1"),
    ],
)
def test_bad_arguments_name_the_allowed_values(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        SokobanEnv(**kwargs)


def test_defaults_per_difficulty():
    for difficulty, spec in DIFFICULTIES.items():
        env = SokobanEnv(difficulty=difficulty, obs_mode="image")
        assert env.max_turns == spec.default_max_turns
        rows, cols = spec.room
        assert env.observation_space["image"].shape == (rows * 16, cols * 16, 3)
    assert SokobanEnv(eval_set=True).split == "test"
    assert SokobanEnv(max_turns=7).max_turns == 7


def test_documented_info_keys_match_the_real_ones():
    env = SokobanEnv()
    _, reset_info = env.reset(seed=0)
    step_info = env.step("<action>up</action>")[4]
    bad_info = env.step("nonsense")[4]
    assert set(step_info) == set(bad_info)
    assert set(parse_env_doc(SokobanEnv).info_keys) == set(reset_info) | set(step_info)


def test_privileged_and_oracle():
    env = SokobanEnv(actions_per_turn=2)
    _, info = env.reset(seed=4)
    facts = env.privileged()
    assert facts["solvable"] and facts["task"]["task_id"] == info["task_id"]
    assert facts["optimal_remaining"] == len(facts["optimal_plan"])
    assert facts["optimal_remaining"] == facts["task"]["optimal_length"]
    assert env.oracle_action() == f"<action>{' '.join(facts['optimal_plan'][:2])}</action>"
    assert gym.make("mtenvs/Sokoban-v0").reset(seed=4)[1]["task_id"] == info["task_id"]


def test_image_mode_text_has_no_board():
    """Under obs_mode="image" the board is only in the picture; the text keeps the level,
    the feedback and the counters, and the system prompt's legend is the picture's."""
    env = SokobanEnv(obs_mode="image")
    text_env = SokobanEnv()
    obs, info = env.reset(seed=0)
    _, text_info = text_env.reset(seed=0)
    assert LEGEND_TEXT not in info["system_prompt"] and LEGEND_TEXT in text_info["system_prompt"]
    assert "red ring marks a target" in info["system_prompt"]
    board = text_env.render_text().splitlines()
    while env.episode_active:
        lines = obs["text"].splitlines()
        assert not [row for row in board if row in lines]
        assert "Boxes on targets" not in obs["text"] and "Turns left:" in obs["text"]
        reply = env.oracle_action()
        obs, *_ = env.step(reply)
        text_env.step(reply)
        board = text_env.render_text().splitlines()
    assert "solved in" in obs["text"]


LEGEND_TEXT = "'#' wall"
