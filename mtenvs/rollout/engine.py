"""The vectorized rollout engine.

``rollout`` keeps ``num_envs`` episodes in flight. Every round it makes **one** batched
``agent.act`` call for all slots waiting on the agent (one GPU batch), then steps those envs
concurrently through a :mod:`~mtenvs.rollout.workers` group. Episodes end at different
turns; a finished slot is refilled with the next task until ``episodes`` trajectories are
done. The schedule is lock-step and slot-ordered, so the trajectories are the same for every
executor (sync, thread, process, Ray) given the same seeds and a deterministic agent.

Tasks: task ``k`` is env id ``env_ids[k % len(env_ids)]`` with seed ``seed + k // len(env_ids)``;
with ``group_size=G`` each task is played ``G`` times (GRPO/GiGPO groups) and its
trajectories share ``Trajectory.group``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtenvs.agents.base import Agent, AgentInput
from mtenvs.core.registry import env_class, env_spec
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory, Turn
from mtenvs.rollout.workers import StepOut, jsonable, make_worker_group

__all__ = ["Job", "rollout"]

#: Keys of the last step's info kept in ``Trajectory.final_info`` (the rest is per-turn).
_DROP_FINAL = {
    "reward_components",
    "uncounted_components",
    "parse_error",
    "state_key",
    "system_prompt",
}


@dataclass(frozen=True)
class Job:
    """One episode to play."""

    env_id: str
    seed: int
    group: int


@dataclass
class _Slot:
    job: Job
    traj: Trajectory
    messages: list[dict[str, Any]]
    observation: str
    info: dict[str, Any]
    state_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def make_jobs(env_ids: Sequence[str], episodes: int, seed: int, group_size: int) -> list[Job]:
    """The task schedule described in the module doc."""
    if episodes % group_size:
        raise InvalidArgumentError(
            f"episodes ({episodes}) must be a multiple of group_size ({group_size})."
        )
    jobs = []
    for k in range(episodes // group_size):
        env_id = env_ids[k % len(env_ids)]
        for _ in range(group_size):
            jobs.append(Job(env_id, seed + k // len(env_ids), k))
    return jobs


def rollout(
    env_ids: str | Sequence[str],
    agent: Agent,
    episodes: int,
    *,
    num_envs: int = 8,
    seed: int = 0,
    group_size: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
    executor: str = "auto",
    workers: int | None = None,
) -> Iterator[Trajectory]:
    """Play ``episodes`` episodes with ``num_envs`` in flight; yield each as it finishes.

    Args:
        env_ids: One id or several (tasks alternate between them).
        agent: Any :class:`mtenvs.agents.Agent`; called once per round with every waiting slot.
        episodes: Trajectories to produce (a multiple of ``group_size``).
        num_envs: Episodes in flight at once.
        seed: Seed of the first task.
        group_size: Rollouts per task (GRPO/GiGPO groups).
        env_kwargs: Constructor arguments for every env.
        executor: ``"sync"``, ``"thread"`` (I/O-bound envs), ``"process"`` (CPU-bound) or
            ``"ray"`` (Ray actors, local or on a cluster). ``"auto"``: ``thread`` when any
            env declares ``io_bound``, else ``sync`` (thread hand-offs cost more than fast
            pure-Python steps, which hold the GIL anyway).
        workers: Threads / processes / actors (default: ``num_envs`` threads, or one
            process or actor per CPU).
    """
    ids = [env_ids] if isinstance(env_ids, str) else list(env_ids)
    if not ids:
        raise InvalidArgumentError("rollout() needs at least one env id.")
    for env_id in ids:
        env_spec(env_id)
    check_int_range("episodes", episodes, 1)
    check_int_range("num_envs", num_envs, 1)
    check_int_range("group_size", group_size, 1)
    if executor == "auto":
        executor = "thread" if any(env_class(i).io_bound for i in ids) else "sync"
    jobs = deque(make_jobs(ids, episodes, seed, group_size))
    num_envs = min(num_envs, len(jobs))
    group = make_worker_group(executor, num_envs, env_kwargs, workers=workers)
    slots: list[_Slot | None] = [None] * num_envs
    try:
        _install(slots, _start_fill(group, slots, jobs).result(), agent)
        while any(s is not None for s in slots) or jobs:
            # Refills start now and run while the agent thinks; the refilled slots join
            # from the next round. Every executor follows this same schedule.
            refill = _start_fill(group, slots, jobs)
            waiting = [i for i, s in enumerate(slots) if s is not None]
            if waiting:
                yield from _round(group, slots, waiting, agent)
            _install(slots, refill.result(), agent)
    finally:
        group.close()


def _round(
    group: Any, slots: list[_Slot | None], waiting: list[int], agent: Agent
) -> Iterator[Trajectory]:
    """One batched agent call for ``waiting`` slots, then their env steps."""
    batch = [
        AgentInput(messages=slots[i].messages, env=group.env(i), info=slots[i].info)  # type: ignore[union-attr]
        for i in waiting
    ]
    start = time.perf_counter()
    replies = agent.act(batch)
    agent_s = (time.perf_counter() - start) / len(batch)
    if len(replies) != len(batch):
        raise InvalidArgumentError(
            f"{type(agent).__name__}.act returned {len(replies)} replies for {len(batch)} inputs."
        )
    results: list[StepOut] = group.run(
        [(i, "step", (reply,)) for i, reply in zip(waiting, replies)]
    )
    for i, reply, out in zip(waiting, replies, results):
        slot = slots[i]
        assert slot is not None
        _record(slot, reply, out, agent_s)
        if out.terminated or out.truncated:
            slot.traj.final_observation = out.observation
            slot.traj.success = bool(out.info.get("success", False))
            slot.traj.final_info = jsonable(
                {k: v for k, v in out.info.items() if k not in _DROP_FINAL}
            )
            slots[i] = None
            yield slot.traj


def _record(slot: _Slot, reply: Any, out: StepOut, agent_s: float) -> None:
    text = reply if isinstance(reply, str) else repr(reply)
    slot.traj.turns.append(
        Turn(
            observation=slot.observation,
            reply=text,
            reward=out.reward,
            reward_components=dict(out.info.get("reward_components", {})),
            state_key=slot.state_key,
            parse_error=out.info.get("parse_error"),
            terminated=out.terminated,
            truncated=out.truncated,
            agent_s=agent_s,
            env_s=out.env_s,
        )
    )
    slot.messages.append({"role": "assistant", "content": text})
    slot.messages.append({"role": "user", "content": out.observation})
    slot.observation = out.observation
    slot.info = out.info
    slot.state_key = str(out.info.get("state_key", ""))


@dataclass
class _Fill:
    assigned: list[tuple[int, Job]]
    pending: Any

    def result(self) -> tuple[list[tuple[int, Job]], list[StepOut]]:
        return self.assigned, self.pending.result() if self.assigned else []


def _start_fill(group: Any, slots: list[_Slot | None], jobs: deque[Job]) -> _Fill:
    """Take jobs for the free slots and start their resets."""
    free = [i for i, s in enumerate(slots) if s is None][: len(jobs)]
    assigned = [(i, jobs.popleft()) for i in free]
    calls = [(i, "reset", (j.env_id, j.seed)) for i, j in assigned]
    pending = group.start(calls) if assigned else None
    return _Fill(assigned, pending)


def _install(
    slots: list[_Slot | None],
    done: tuple[list[tuple[int, Job]], list[StepOut]],
    agent: Agent,
) -> None:
    assigned, results = done
    for (i, job), out in zip(assigned, results):
        prompt = str(out.info.get("system_prompt", ""))
        slots[i] = _Slot(
            job=job,
            traj=Trajectory(
                env_id=job.env_id,
                seed=job.seed,
                task_id=str(out.info.get("task_id", "")),
                agent=getattr(agent, "name", type(agent).__name__),
                system_prompt=prompt,
                group=job.group,
            ),
            messages=[
                {"role": "system", "content": prompt},
                {"role": "user", "content": out.observation},
            ],
            observation=out.observation,
            info=out.info,
            state_key=str(out.info.get("state_key", "")),
        )
