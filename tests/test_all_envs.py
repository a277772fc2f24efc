"""Checks every registered id gets the moment it is registered (as Gymnasium's test_envs)."""

from __future__ import annotations

import json
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs
from mtenvs.core.args import constructor_arguments
from mtenvs.core.envdoc import parse_env_doc
from mtenvs.core.registry import env_class
from mtenvs.core.spaces import SAMPLE_CHARSET

#: The suite: every id except the bulk of adapter families (MiniWoB++ keeps 3 representative
#: pages here; tests/envs/web/test_miniwob.py opens every page).
ENV_IDS = mtenvs.list_envs(suite=True)


def _env_class(env_id: str) -> type:
    return type(gym.make(env_id).unwrapped)


def _modes(env_id: str) -> list[tuple[str, str]]:
    return [(env_id, m) for m in _env_class(env_id).supported_obs_modes()]


ENV_MODES = [pair for env_id in ENV_IDS for pair in _modes(env_id)]


def _comparable(value: Any) -> Any:
    """Observation/info in a form ``==`` compares exactly (images become bytes)."""
    if isinstance(value, np.ndarray):
        return (value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


def test_ids_are_registered():
    assert {"mtenvs/Sokoban-v0", "mtenvs/Maze-v0"} <= set(ENV_IDS)


@pytest.mark.parametrize(("env_id", "obs_mode"), ENV_MODES)
def test_check_env(env_id, obs_mode):
    env = gym.make(env_id, obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.unwrapped.random_action(np.random.default_rng(0)))
    assert env.observation_space.contains(obs)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_modes(env_id):
    for mode in _env_class(env_id).metadata["render_modes"]:
        env = gym.make(env_id, render_mode=mode)
        env.reset(seed=0)
        frame = env.render()
        if mode == "ansi":
            assert isinstance(frame, str) and frame
        else:
            assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3


def _affordable_steps(env_id: str, obs_mode: str) -> int:
    """60 steps, or 12 for envs whose steps take tens of ms (browsers): the check is the
    same, the suite stays inside its time budget."""
    env = gym.make(env_id, obs_mode=obs_mode)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(3):
        if any(env.step(env.unwrapped.random_action(rng))[2:4]):
            env.reset()
    env.close()
    return 60 if (time.perf_counter() - start) / 3 < 0.02 else 12


def _rollout(env: gym.Env, seed: int, steps: int) -> list[Any]:
    """``(reply, obs, ...)`` records of a seeded random-reply episode."""
    rng = np.random.default_rng(seed)
    record: list[Any] = []
    obs, info = env.reset(seed=seed)
    record.append(("reset", _comparable(obs), _comparable(info)))
    for _ in range(steps):
        reply = env.unwrapped.random_action(rng)
        obs, reward, terminated, truncated, info = env.step(reply)
        record.append((reply, _comparable(obs), reward, terminated, truncated, _comparable(info)))
        if terminated or truncated:
            obs, info = env.reset()
            record.append(("reset", _comparable(obs), _comparable(info)))
    return record


def _first_difference(a: list[Any], b: list[Any]) -> str | None:
    """Where two rollouts part: the record, the reply and the keys that differ (pytest's own
    diff of two long lists of image bytes ran past the test timeout)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            continue
        parts = []
        for j, (u, v) in enumerate(zip(x, y, strict=False)):
            if u == v:
                continue
            if isinstance(u, dict) and isinstance(v, dict):
                keys = sorted(k for k in u.keys() | v.keys() if u.get(k) != v.get(k))
                parts.append(f"field {j}, keys {keys}")
            else:
                parts.append(f"field {j}: {repr(u)[:200]} != {repr(v)[:200]}")
        return f"record {i} (after reply {x[0]!r:.200}): " + "; ".join(parts)
    return None if len(a) == len(b) else f"lengths {len(a)} != {len(b)}"


@pytest.mark.parametrize(("env_id", "obs_mode"), ENV_MODES)
def test_seeded_determinism(env_id, obs_mode):
    steps = _affordable_steps(env_id, obs_mode)
    # all three stay open until the end: a second env (a browser context, a sandbox) running
    # beside the first must not change what the first shows
    envs = [gym.make(env_id, obs_mode=obs_mode) for _ in range(3)]
    try:
        a = _rollout(envs[0], seed=11, steps=steps)
        b = _rollout(envs[1], seed=11, steps=steps)
        assert (difference := _first_difference(a, b)) is None, difference
        c = _rollout(envs[2], seed=12, steps=5)
        assert c[0] != a[0]
    finally:
        for env in envs:
            env.close()


def _fuzz_replies(rng: np.random.Generator, n: int) -> list[Any]:
    """Random text, unicode, empty, huge, near-miss tags, tool-call dicts and non-strings."""
    chars = list(SAMPLE_CHARSET + "<>/{}[]\"'`\\\n\t\x00\u200b\ud7ff")
    words = [
        "up",
        "down",
        "left",
        "right",
        "UP",
        "u",
        "x",
        "<action>",
        "</action>",
        "move",
        "<answer>",
        "</answer>",
        "```",
        "<tool_call>",
        "</tool_call>",
        "{",
        "}",
        "42",
        " ",
    ]
    out: list[Any] = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            out.append("".join(rng.choice(chars, size=int(rng.integers(0, 80)))))
        elif kind == 1:
            out.append(" ".join(rng.choice(words, size=int(rng.integers(0, 12)))))
        elif kind == 2:
            inner = " ".join(rng.choice(words, size=int(rng.integers(0, 6))))
            out.append(f"<action>{inner}</action>")
        elif kind == 3:
            args = {"direction": str(rng.choice(words)), "directions": list(rng.choice(words, 3))}
            out.append({"name": str(rng.choice(["move", "submit", "", "x"])), "arguments": args})
        elif kind == 4:
            out.append(
                f"<tool_call>{json.dumps({'name': 'move', 'arguments': str(rng.random())})}"
                f"</tool_call>"
            )
        elif kind == 5:
            out.append([None, 0, 1.5, b"up", ("up",), {"content": None}, object()][i % 7])
        elif kind == 6:
            out.append("" if i % 3 else "\n" * int(rng.integers(1, 50)))
        else:
            repeat = int(rng.integers(1, 3000)) if i % 97 == 0 else 1
            out.append(("<action>" * 50 + "up") * repeat)
    out[0] = "x" * 2_000_000
    out[1] = "<action>" + "up " * 200_000 + "</action>"
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ten_thousand_fuzzed_replies_never_raise(env_id):
    io_bound = env_class(env_id).io_bound
    # I/O-bound envs (sandboxes, browsers) pay a real reset per episode: 3,000 replies in
    # longer episodes there (truncation at the turn limit is tested on its own)
    env = gym.make(env_id, max_turns=500) if io_bound else gym.make(env_id)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    n = 3_000 if io_bound else 10_000
    for reply in _fuzz_replies(rng, n):
        obs, reward, terminated, truncated, info = env.step(reply)
        assert isinstance(obs, str) and np.isfinite(reward)
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        if terminated or truncated:
            env.reset()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_oracle_solves(env_id):
    env = gym.make(env_id)
    if not env.unwrapped.has_oracle:
        pytest.skip(f"{env_id} has no oracle")
    if not env.unwrapped.oracle_always_succeeds:
        pytest.skip(f"{env_id}: the oracle is optimal but cannot always win (opponent, chance)")
    for seed in range(5):
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
            if terminated or truncated:
                break
        assert info["success"] and terminated


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_snapshot_restore_continuations_are_identical(env_id):
    env = gym.make(env_id)
    env.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(3):
        if env.step(env.unwrapped.random_action(rng))[2]:
            env.reset(seed=5)
    snap = env.unwrapped.snapshot()
    replies = [env.unwrapped.random_action(rng) for _ in range(8)] + ["garbage"]

    def play() -> list[Any]:
        out = []
        for reply in replies:
            step = env.step(reply)
            out.append(_comparable(step))
            if step[2] or step[3]:
                break
        return out

    first = play()
    env.unwrapped.restore(snap)
    assert play() == first


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_documented_info_keys_and_ids_match_the_code(env_id):
    cls = _env_class(env_id)
    doc = parse_env_doc(cls)
    assert env_id in doc.registered_ids, f"{cls.__name__} docstring does not list {env_id}"
    for section in (
        "Description",
        "Action",
        "Observation",
        "Reward",
        "Episode End",
        "Info",
        "Argument",
        "Registered",
        "Version",
    ):
        assert doc.section(section), f"{cls.__name__} docstring lacks a '## {section}' section"
    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    seen = set(info)
    _, _, _, _, info = env.step("definitely not an action")
    seen |= set(info)
    rng = np.random.default_rng(0)
    while True:
        u = env.unwrapped
        reply = u.oracle_action() if u.has_oracle else u.random_action(rng)
        _, _, terminated, truncated, info = env.step(reply)
        seen |= set(info)
        if terminated or truncated:
            break
    assert set(doc.info_keys) == seen
    assert set(doc.table_keys("Argument")) == set(constructor_arguments(cls))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_privileged_facts_never_leak_into_observations(env_id):
    env = gym.make(env_id)
    _, info = env.reset(seed=3)
    privileged = env.unwrapped.privileged()
    assert isinstance(privileged, dict) and privileged
    _, _, _, _, step_info = env.step(env.unwrapped.random_action(np.random.default_rng(0)))
    assert not (set(privileged) & (set(info) | set(step_info)))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode)
    try:
        obs, info = envs.reset(seed=[3, 4])
        single = gym.make(env_id)
        expected, _ = single.reset(seed=4)
        assert obs[1] == expected and "task_id" in info
        replies = [single.unwrapped.random_action(np.random.default_rng(i)) for i in range(2)]
        obs, rewards, _, _, info = envs.step(replies)
        assert len(obs) == 2 and rewards.shape == (2,) and "reward_components" in info
        assert obs[1] == single.step(replies[1])[0]
    finally:
        envs.close()
