from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.envs.grid.maze import MazeEnv
from mtenvs.envs.grid.maze_tasks import DIFFICULTIES, eval_set
from mtenvs.error import InvalidArgumentError, ResetNeededError


def board_of(obs):
    """The maze picture inside an observation (rows of maze characters)."""
    text = obs["text"] if isinstance(obs, dict) else obs
    return [line for line in text.splitlines() if re.fullmatch(r"[#.@G?]{5,}", line)]


def play_oracle(env, **reset_kwargs):
    obs, info = env.reset(**reset_kwargs)
    totals = {}
    turns = 0
    while True:
        obs, _, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        turns += 1
        for name, value in {**info["reward_components"], **info["uncounted_components"]}.items():
            totals[name] = totals.get(name, 0.0) + value
        if terminated or truncated:
            return obs, info, totals, turns, terminated


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
@pytest.mark.parametrize("actions_per_turn", [1, 3])
def test_oracle_solves_every_eval_task_optimally(difficulty, actions_per_turn):
    env = MazeEnv(
        difficulty=difficulty,
        eval_set=True,
        actions_per_turn=actions_per_turn,
        reward_mode="process",
    )
    for index, task in enumerate(eval_set(difficulty)):
        _, info, totals, turns, terminated = play_oracle(env, seed=index)
        assert info["success"] and terminated
        assert env.task_id == task.task_id
        assert info["effective_moves"] == task.optimal_length
        assert info["invalid_moves"] == 0
        assert turns == math.ceil(task.optimal_length / actions_per_turn)
        assert totals["outcome"] == 1.0
        assert totals["process"] == pytest.approx(1.0, abs=1e-9)


def test_process_reward_telescopes_on_detours():
    env = MazeEnv(difficulty="medium", view_radius=2, reward_mode="outcome")
    env.reset(seed=5)
    total = 0.0
    for reply in ["<action>up</action>", "<action>down</action>", "<action>left</action>"] * 3:
        _, _, terminated, _, info = env.step(reply)
        total += info["uncounted_components"]["process"]
        if terminated:
            break
    while env.episode_active:
        _, _, _, _, info = env.step(env.oracle_action())
        total += info["uncounted_components"]["process"]
    assert info["success"] and total == pytest.approx(1.0)


def test_fog_shows_only_cells_within_radius_and_hides_goal():
    task = next(
        t
        for t in eval_set("hard")
        if max(abs(t.start[0] - t.goal[0]), abs(t.start[1] - t.goal[1])) > 2
    )
    env = MazeEnv(difficulty="hard", view_radius=2, eval_set=True)
    obs, _ = env.reset(options={"task_id": task.task_id})
    rows = board_of(obs)
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            near = max(abs(r - task.start[0]), abs(c - task.start[1])) <= 2
            assert (ch != "?") == near
            if near:
                assert ch == ("@" if (r, c) == task.start else task.grid[r][c])
    assert "G" not in "".join(rows) and "not in sight" in obs
    # Walk to the goal: seen cells stay shown, the goal appears once within the radius.
    seen = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch != "?"}
    while env.episode_active:
        obs, *_ = env.step(env.oracle_action())
        rows = board_of(obs)
        now = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch != "?"}
        assert seen <= now
        seen = now
    assert "G" not in "".join(rows)  # the agent stands on it


def test_full_observation_shows_goal_and_whole_maze():
    env = MazeEnv(difficulty="easy")
    obs, _ = env.reset(seed=1)
    rows = board_of(obs)
    assert "?" not in "".join(rows) and "".join(rows).count("G") == 1
    assert "".join(rows).count("@") == 1


def test_same_seed_same_episode():
    def run(seed):
        env = MazeEnv(difficulty="medium", view_radius=1, actions_per_turn=2)
        rng = np.random.default_rng(0)
        out = [env.reset(seed=seed)]
        for _ in range(15):
            out.append(env.step(env.random_action(rng))[:4])
        return out

    assert run(3) == run(3)
    assert run(3)[0][0] != run(4)[0][0]


def test_snapshot_restore_gives_identical_continuations():
    env = MazeEnv(difficulty="hard", view_radius=2, actions_per_turn=2, reward_mode="process")
    env.reset(seed=11)
    rng = np.random.default_rng(1)
    for _ in range(5):
        env.step(env.random_action(rng))
    snap = env.snapshot()
    replies = [env.random_action(rng) for _ in range(10)] + ["junk"]

    def continuation():
        return [env.step(reply) for reply in replies], env.privileged()

    first = continuation()
    env.reset(seed=99)  # another task in between: restore must bring the old one back
    env.restore(snap)
    assert continuation() == first
    env.restore(snap)  # a snapshot can be restored any number of times
    assert continuation() == first


def test_state_key_tracks_position_and_fog():
    env = MazeEnv(difficulty="easy", view_radius=1)
    _, info0 = env.reset(seed=2)
    plan = env.privileged()["optimal_plan"]
    back = {"up": "down", "down": "up", "left": "right", "right": "left"}[plan[0]]
    _, _, _, _, info1 = env.step(f"<action>{plan[0]}</action>")
    _, _, _, _, info2 = env.step(f"<action>{back}</action>")
    assert len({info0["state_key"], info1["state_key"]}) == 2
    # Back at the start, but having seen more of the maze: a different situation.
    assert info2["state_key"] != info0["state_key"]


def test_info_keys_match_docstring_and_hide_distance():
    documented = set(
        re.findall(
            r"^\s*\| `(\w+)` \|",
            MazeEnv.__doc__.split("## Info keys")[1].split("##")[0],
            re.MULTILINE,
        )
    )
    env = MazeEnv(difficulty="easy")
    _, reset_info = env.reset(seed=0)
    _, _, _, _, step_info = env.step("<action>up</action>")
    assert documented == set(reset_info) | set(step_info)
    assert not any("dist" in key for key in (*reset_info, *step_info))


def test_wall_bumps_count_as_invalid_moves_not_format_errors():
    env = MazeEnv(difficulty="easy", actions_per_turn=4)
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<action>up up up up</action>")
    assert info["parse_error"] is None and "format" not in info["reward_components"]
    assert info["invalid_moves"] + info["effective_moves"] == 4 and info["invalid_moves"] >= 1
    assert "wall, no move" in obs


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("I would go up", "no <action>"),
        ("<action></action>", "empty"),
        ("<action>jump</action>", "unknown direction 'jump'"),
        ("<action>up left</action>", "at most 1"),
        ({"name": "teleport", "arguments": {}}, "unknown tool"),
        ({"name": "move", "arguments": {"direction": 3}}, "direction"),
        (12345, "no <action>"),
        ("", "no <action>"),
    ],
)
def test_malformed_replies_are_observations(reply, reason):
    env = MazeEnv(difficulty="easy", format_penalty=0.25)
    obs, info = env.reset(seed=0)
    key = info["state_key"]
    obs, reward, terminated, truncated, info = env.step(reply)
    assert reason in info["parse_error"]
    assert "up, down, left, right" in info["parse_error"] or "at most" in info["parse_error"]
    assert reward == -0.25 and info["reward_components"] == {"format": -0.25}
    assert "Expected format: <action>" in obs
    assert not (terminated or truncated) and env.episode_active
    assert info["state_key"] == key


@pytest.mark.parametrize(
    "reply",
    [
        "<action>up</action>",
        "<think><action>down</action></think> ok <ACTION> U </ACTION>",
        "Up.",
        "north",
        {"name": "move", "arguments": {"direction": "up"}},
        {"type": "function", "function": {"name": "move", "arguments": '{"direction": "up"}'}},
        '<tool_call>{"name": "move", "arguments": {"direction": "UP"}}</tool_call>',
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"function": {"name": "move", "arguments": '{"direction": "up"}'}}],
        },
    ],
)
def test_reply_shapes_parse_to_up(reply):
    env = MazeEnv(difficulty="easy")
    env.reset(seed=0)
    assert env.parse_action(reply) == (env.parse_action("<action>up</action>"))


def test_multi_move_replies_and_tool_call_lists():
    env = MazeEnv(difficulty="easy", actions_per_turn=3)
    env.reset(seed=0)
    up, left = env.parse_action("up")[0], env.parse_action("left")[0]
    assert env.parse_action("<action>up, up left</action>") == (up, up, left)
    calls = {
        "tool_calls": [{"name": "move", "arguments": {"direction": d}} for d in ("up", "left")]
    }
    assert env.parse_action(calls) == (up, left)


def test_truncation_at_max_turns():
    env = MazeEnv(difficulty="easy", max_turns=3)
    env.reset(seed=0)
    results = [env.step("<action>bogus</action>") for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not any(r[2] for r in results)
    with pytest.raises(ResetNeededError):
        env.step("<action>up</action>")


def test_default_max_turns_scale_with_actions_per_turn():
    assert MazeEnv(difficulty="hard").max_turns == DIFFICULTIES["hard"].move_budget
    assert MazeEnv(difficulty="easy", actions_per_turn=5).max_turns == math.ceil(
        DIFFICULTIES["easy"].move_budget / 5
    )


def test_eval_set_reset_by_seed_cursor_and_task_id():
    env = MazeEnv(difficulty="medium", eval_set=True)
    tasks = eval_set("medium")
    env.reset(seed=7)
    assert env.task_id == tasks[7].task_id and env.split == "test"
    env.reset()
    assert env.task_id == tasks[8].task_id
    env.reset(seed=57)
    assert env.task_id == tasks[7].task_id
    env.reset(options={"task_id": tasks[3].task_id})
    assert env.task_id == tasks[3].task_id
    with pytest.raises(InvalidArgumentError, match="not in the medium maze eval set"):
        env.reset(options={"task_id": "maze-medium-test-00077"})


def test_train_split_tasks_by_id():
    env = MazeEnv(difficulty="easy")
    env.reset(options={"task_id": "maze-easy-train-00042"})
    assert env.task_id == "maze-easy-train-00042"
    with pytest.raises(InvalidArgumentError, match="difficulty='hard'"):
        env.reset(options={"task_id": "maze-hard-train-00042"})
    with pytest.raises(InvalidArgumentError, match="maze-easy-test-00012"):
        env.reset(options={"task_id": "level-3"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"difficulty": "hrad"}, "Did you mean 'hard'"),
        ({"view_radius": 0}, "view_radius"),
        ({"view_radius": 1.5}, "view_radius"),
        ({"actions_per_turn": 0}, "actions_per_turn"),
        ({"eval_set": "yes"}, "eval_set"),
        ({"split": "val"}, "split"),
        ({"eval_set": True, "split": "train"}, "split='test'"),
        ({"obs_mode": "video"}, "obs_mode"),
        ({"render_mode": "human"}, "render_mode"),
        ({"max_turns": 0}, "max_turns"),
        ({"difficulty_level": "easy"}, "difficulty"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        MazeEnv(**kwargs)


def test_oracle_and_privileged_need_a_started_episode():
    env = MazeEnv()
    with pytest.raises(ResetNeededError):
        env.oracle_action()
    env.reset(seed=0)
    priv = env.privileged()
    assert priv["optimal_remaining"] == len(priv["optimal_plan"]) == priv["optimal_length"]
    assert "G" in priv["maze"] and "?" not in priv["maze"]


def test_gym_make_and_render_ansi():
    env = gym.make("mtenvs/Maze-v0", difficulty="medium", render_mode="ansi")
    obs, info = env.reset(seed=0)
    assert env.render() in obs
    assert info["task_id"].startswith("maze-medium-train-")
    env.close()


@pytest.mark.parametrize("view_radius", [None, 2])
def test_check_env_text(view_radius):
    check_env(MazeEnv(difficulty="easy", view_radius=view_radius), skip_render_check=True)


@pytest.mark.parametrize("view_radius", [None, 1])
def test_image_shows_exactly_the_text(view_radius):
    from mtenvs.envs.grid import render
    from mtenvs.envs.grid.maze import _PALETTE, _TILES

    char_of_code = {_PALETTE.code(tile): char for char, tile in _TILES.items()}
    env = MazeEnv(
        difficulty="medium",
        view_radius=view_radius,
        obs_mode="text+image",
        actions_per_turn=2,
        render_mode="rgb_array",
    )
    obs, _ = env.reset(seed=4)
    side = DIFFICULTIES["medium"].size * render.TILE_SIZE
    assert env.observation_space["image"].shape == (side, side, 3)
    rng = np.random.default_rng(0)
    while True:
        codes = render.decode_tiles(obs["image"], _PALETTE)
        decoded = ["".join(char_of_code[int(c)] for c in row) for row in codes]
        assert decoded == board_of(obs) == env.render_text().splitlines()
        assert np.array_equal(env.render(), obs["image"])
        if not env.episode_active:
            break
        reply = env.oracle_action() if rng.random() < 0.6 else env.random_action(rng)
        obs, *_ = env.step(reply)
    assert "@" in "".join(decoded) and "G" not in "".join(decoded)  # agent on the goal


@pytest.mark.parametrize("obs_mode", ["image", "text+image"])
def test_check_env_image(obs_mode):
    env = gym.make("mtenvs/Maze-v0", view_radius=1, obs_mode=obs_mode, render_mode="rgb_array")
    check_env(env.unwrapped)  # made by gym.make so the checker also tries render_mode="ansi"
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("view_radius", [None, 2])
def test_image_mode_text_has_no_maze(view_radius):
    """Under obs_mode="image" the maze, the agent and the goal are only in the picture:
    the text keeps the task, the feedback and the turns left, to the last step."""
    env = MazeEnv(obs_mode="image", view_radius=view_radius)
    obs, info = env.reset(seed=1)
    assert "picture" in info["system_prompt"] and "`#` wall" not in info["system_prompt"]
    assert "blue disc" in obs["text"] and obs["text"].endswith(f"Turns left: {env.max_turns}.")
    while env.episode_active:
        obs, _, terminated, _, _ = env.step(env.oracle_action())
        assert board_of(obs) == [] and "row" not in obs["text"]
    assert terminated and obs["text"].startswith("You moved ")
    assert obs["text"].endswith("You reached the goal!")
