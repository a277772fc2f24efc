"""Training text: oracle trajectories from the rollout engine, as (prompt, reply) pairs.

The baselines are Markov policies: the prompt is the env's **last observation only** (every
env they cover shows its whole state in each observation), rendered by the tokenizer's chat
template, so :class:`mtenvs.agents.HFAgent` gives the trained model exactly what it saw in
training.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from baselines.specs import TRAIN_SEED_BASE, BaselineSpec
from mtenvs.agents import Agent, OracleAgent
from mtenvs.rollout import Trajectory, rollout

__all__ = ["VALIDATION_OFFSET", "Example", "collect", "examples", "train_seed"]

#: Seed offset of the validation tasks (BC data starts at 0, RL tasks at 500,000).
VALIDATION_OFFSET = 900_000


@dataclass(frozen=True)
class Example:
    """One turn to imitate: the observation the agent saw and the reply it sent."""

    observation: str
    reply: str


def train_seed(spec: BaselineSpec, offset: int = 0) -> int:
    """First seed of the training tasks (disjoint from the eval seeds)."""
    return offset if spec.has_eval_set else TRAIN_SEED_BASE + offset


def collect(
    spec: BaselineSpec,
    episodes: int,
    *,
    agent: Agent | None = None,
    seed_offset: int = 0,
    num_envs: int = 16,
) -> list[Trajectory]:
    """Play ``episodes`` training episodes of ``spec``'s env with ``agent`` (the oracle)."""
    return list(
        rollout(
            spec.env_id,
            agent or OracleAgent(),
            episodes,
            num_envs=num_envs,
            seed=train_seed(spec, seed_offset),
            env_kwargs=spec.env_kwargs,
        )
    )


def examples(
    trajectories: Iterable[Trajectory], *, successful_only: bool = False
) -> Iterator[Example]:
    """Every well-formed turn of ``trajectories`` (of the successful ones only if asked)."""
    for traj in trajectories:
        if successful_only and not traj.success:
            continue
        for turn in traj.turns:
            if turn.parse_error is None:
                yield Example(turn.observation, turn.reply)


def corpus(trajectories: Iterable[Trajectory]) -> Iterator[str]:
    """All text the tokenizer should know: observations, replies, final observations."""
    for traj in trajectories:
        for turn in traj.turns:
            yield turn.observation
            yield turn.reply
        yield traj.final_observation


def describe(trajectories: list[Trajectory]) -> dict[str, Any]:
    """Size and quality of a collected dataset."""
    turns = sum(len(t.turns) for t in trajectories)
    return {
        "episodes": len(trajectories),
        "turns": turns,
        "success_rate": sum(t.success for t in trajectories) / max(1, len(trajectories)),
    }
