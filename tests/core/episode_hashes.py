"""Fingerprints of every suite env's episodes, to show that a refactor changes no behaviour.

For each suite id: ``reset(seed=s)`` then seeded random replies (and oracle replies where the
env has an oracle) until the episode ends or ``MAX_TURNS``; every observation, reward,
termination flag and info goes into one SHA-256 per (env, agent). Run as a script to record
(``python -m tests.core.episode_hashes --write``); ``test_episode_hashes.py`` compares.
Values that depend on the clock or the machine (durations, ports) are left out by key."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import mtenvs
from mtenvs.core.registry import env_class

RECORD = Path(__file__).parent / "data" / "episode_hashes.json"
SEEDS = (0, 3)
MAX_TURNS = 12
#: Info keys whose values depend on the clock or the machine, not on the env's logic.
VOLATILE_KEYS = frozenset({"duration_s", "elapsed_s", "wall_s", "time_s", "port", "pid"})


def _plain(value: Any) -> Any:
    """A JSON-able, machine-independent form of an observation or info value."""
    if isinstance(value, np.ndarray):
        return {"ndarray": list(value.shape), "sha": hashlib.sha256(value.tobytes()).hexdigest()}
    if isinstance(value, dict):
        return {
            str(k): _plain(v)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            if str(k) not in VOLATILE_KEYS
        }
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, str | int | bool) or value is None:
        return value
    return repr(type(value).__name__)


def episode_hash(env_id: str, agent: str, seed: int) -> str:
    env = gym.make(env_id, disable_env_checker=True)
    try:
        digest = hashlib.sha256()
        rng = np.random.default_rng(seed)
        obs, info = env.reset(seed=seed)
        digest.update(json.dumps(_plain([obs, info]), sort_keys=True).encode())
        for _ in range(MAX_TURNS):
            base = env.unwrapped
            reply = base.oracle_action() if agent == "oracle" else base.random_action(rng)
            obs, reward, terminated, truncated, info = env.step(reply)
            step = [reply, obs, float(reward), terminated, truncated, info]
            digest.update(json.dumps(_plain(step), sort_keys=True).encode())
            if terminated or truncated:
                break
        return digest.hexdigest()[:16]
    finally:
        env.close()


def agents_for(env_id: str) -> list[str]:
    has_oracle = getattr(env_class(env_id), "has_oracle", True)
    return ["random", "oracle"] if has_oracle else ["random"]


def all_hashes() -> dict[str, str]:
    out = {}
    for env_id in mtenvs.list_envs(suite=True):
        for agent in agents_for(env_id):
            for seed in SEEDS:
                out[f"{env_id} {agent} seed={seed}"] = episode_hash(env_id, agent, seed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"record into {RECORD}")
    args = parser.parse_args()
    hashes = all_hashes()
    if args.write:
        RECORD.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(json.dumps(hashes, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
