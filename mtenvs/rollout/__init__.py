"""Drivers above the envs: vectorized rollouts (many episodes at once, one batched agent
call per round) of any env (an id, a spec or a factory of a wrapped env: env sources) and
self-play collection (one policy in every seat of a text game); branch rollouts
(``rollout(..., branch=Branching(turns=[2, 5], n=4))``: continuations from chosen turns);
async collection (``rollout(..., schedule="async")``: continuous batching)."""

from __future__ import annotations

from mtenvs.rollout.async_engine import AsyncSchedule
from mtenvs.rollout.branching import Branching, BranchingError, branch_groups
from mtenvs.rollout.engine import rollout
from mtenvs.rollout.records import Trajectory, Turn, read_jsonl, to_hf_dataset, write_jsonl
from mtenvs.rollout.selfplay import (
    AgentTrajectory,
    SelfPlayEpisode,
    collect_selfplay,
    compute_advantages,
)
from mtenvs.rollout.sources import EnvLike, EnvSource, WrappedEnv, env_source, env_sources
from mtenvs.rollout.workers import EXECUTORS

__all__ = [
    "EXECUTORS",
    "AgentTrajectory",
    "AsyncSchedule",
    "Branching",
    "BranchingError",
    "EnvLike",
    "EnvSource",
    "SelfPlayEpisode",
    "Trajectory",
    "Turn",
    "WrappedEnv",
    "branch_groups",
    "collect_selfplay",
    "compute_advantages",
    "env_source",
    "env_sources",
    "read_jsonl",
    "rollout",
    "to_hf_dataset",
    "write_jsonl",
]
