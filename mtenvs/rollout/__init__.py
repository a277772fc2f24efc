"""Vectorized rollouts: many episodes at once, one batched agent call per round."""

from __future__ import annotations

from mtenvs.rollout.engine import rollout
from mtenvs.rollout.records import Trajectory, Turn, read_jsonl, to_hf_dataset, write_jsonl
from mtenvs.rollout.workers import EXECUTORS

__all__ = [
    "EXECUTORS",
    "Trajectory",
    "Turn",
    "read_jsonl",
    "rollout",
    "to_hf_dataset",
    "write_jsonl",
]
