"""Drivers above the envs: vectorized rollouts (many episodes at once, one batched agent
call per round) and self-play collection (one policy in every seat of a text game)."""

from __future__ import annotations

from mtenvs.rollout.engine import rollout
from mtenvs.rollout.records import Trajectory, Turn, read_jsonl, to_hf_dataset, write_jsonl
from mtenvs.rollout.selfplay import (
    AgentTrajectory,
    SelfPlayEpisode,
    collect_selfplay,
    compute_advantages,
)
from mtenvs.rollout.workers import EXECUTORS

__all__ = [
    "EXECUTORS",
    "AgentTrajectory",
    "SelfPlayEpisode",
    "Trajectory",
    "Turn",
    "collect_selfplay",
    "compute_advantages",
    "read_jsonl",
    "rollout",
    "to_hf_dataset",
    "write_jsonl",
]
