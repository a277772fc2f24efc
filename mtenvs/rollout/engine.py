"""The vectorized rollout engine.

``rollout`` keeps ``num_envs`` episodes in flight. Every round it makes **one** batched
``agent.act`` call for all slots waiting on the agent (one GPU batch), then steps those envs
concurrently through a :mod:`~mtenvs.rollout.workers` group. Episodes end at different
turns; a finished slot is refilled with the next task until every episode is done. The
schedule is lock-step and slot-ordered, so the trajectories are the same for every executor
(sync, thread, process, Ray) and every ``prefetch`` depth, given the same seeds and a
deterministic agent.

Tasks: by default task ``k`` is env id ``env_ids[k % len(env_ids)]`` with seed
``seed + k // len(env_ids)``; ``tasks=[(env_id, seed), …]`` gives the list instead. With
``group_size=G`` each task is played ``G`` times (GRPO/GiGPO groups; a task
``(env_id, seed, n)`` is played ``n`` times) and its trajectories share ``Trajectory.group``
(the task's index).

Resets never wait in the agent's turn when it can be helped: a round's refills start before
the agent call and run while it thinks, and with ``prefetch`` (local executors, on by default
for envs that are not ``io_bound``) spare envs are reset for the next tasks in the queue in
the same idle time, so a round in which many episodes end at once (a turn limit) finds them
ready.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from mtenvs.core.agent import Agent, AgentInput
from mtenvs.core.env import StepInfo
from mtenvs.core.registry import env_class, env_spec
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory, Turn
from mtenvs.rollout.workers import Executor, StepOut, jsonable, make_worker_group

__all__ = ["Job", "TaskSpec", "make_jobs", "rollout", "task_jobs"]

#: Keys of the last step's info kept in ``Trajectory.final_info`` (the rest is per-turn).
_DROP_FINAL = {
    "reward_components",
    "uncounted_components",
    "parse_error",
    "state_key",
    "system_prompt",
}

#: Share of the last agent call's duration that resets ahead may use in the next one.
_AHEAD_SHARE = 0.8

#: A task for ``rollout(tasks=…)``: ``(env_id, seed)``, played ``group_size`` times, or
#: ``(env_id, seed, n)``, played ``n`` times.
TaskSpec = tuple[str, int] | tuple[str, int, int]


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
    info: StepInfo
    state_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def make_jobs(env_ids: Sequence[str], episodes: int, seed: int, group_size: int) -> list[Job]:
    """The default task schedule described in the module doc."""
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


def task_jobs(tasks: Sequence[TaskSpec], group_size: int) -> list[Job]:
    """The jobs of ``rollout(tasks=…)``: task ``k`` played ``group_size`` (or its own ``n``)
    times as group ``k``, in list order."""
    jobs: list[Job] = []
    for k, task in enumerate(tasks):
        ok = isinstance(task, (tuple, list)) and len(task) in (2, 3)
        ok = ok and isinstance(task[0], str)
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in task[1:])
        ok = ok and (len(task) == 2 or task[2] >= 1)
        if not ok:
            raise InvalidArgumentError(
                f"tasks[{k}] is {task!r}; each task must be (env_id, seed) or (env_id, seed, "
                "n) with an int seed and an int n >= 1, e.g. ('mtenvs/Sokoban-v0', 3)."
            )
        count = group_size if len(task) == 2 else task[2]  # type: ignore[misc]
        jobs.extend(Job(task[0], task[1], k) for _ in range(count))
    if not jobs:
        raise InvalidArgumentError("tasks is empty; give at least one (env_id, seed) task.")
    return jobs


def _schedule(
    env_ids: str | Sequence[str] | None,
    episodes: int | None,
    seed: int | None,
    group_size: int,
    tasks: Sequence[TaskSpec] | None,
) -> list[Job]:
    """The job list of a ``rollout`` call, with its arguments checked."""
    check_int_range("group_size", group_size, 1)
    if tasks is None:
        ids = [env_ids] if isinstance(env_ids, str) else list(env_ids or [])
        if not ids:
            raise InvalidArgumentError(
                "rollout() needs at least one env id (or tasks=[(env_id, seed), ...])."
            )
        if episodes is None:
            raise InvalidArgumentError(
                "rollout() needs episodes (the number of trajectories) with env_ids."
            )
        check_int_range("episodes", episodes, 1)
        jobs = make_jobs(ids, episodes, 0 if seed is None else seed, group_size)
    else:
        if env_ids is not None or seed is not None:
            raise InvalidArgumentError(
                "rollout(tasks=...) takes the env ids and seeds from the tasks; pass "
                f"env_ids=None and no seed (got env_ids={env_ids!r}, seed={seed!r})."
            )
        jobs = task_jobs(tasks, group_size)
        if episodes is not None and episodes != len(jobs):
            raise InvalidArgumentError(
                f"episodes={episodes!r} but the tasks make {len(jobs)} episodes; leave "
                "episodes unset with tasks."
            )
    for env_id in dict.fromkeys(j.env_id for j in jobs):
        env_spec(env_id)
    return jobs


def rollout(
    env_ids: str | Sequence[str] | None,
    agent: Agent,
    episodes: int | None = None,
    *,
    num_envs: int = 8,
    seed: int | None = None,
    group_size: int = 1,
    tasks: Sequence[TaskSpec] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    executor: Executor = "auto",
    workers: int | None = None,
    prefetch: int | None = None,
) -> Iterator[Trajectory]:
    """Play episodes with ``num_envs`` in flight; yield each trajectory as it finishes.

    Either ``env_ids`` and ``episodes`` (tasks numbered from ``seed``, see the module doc)
    or ``tasks``: ``rollout(None, agent, tasks=[("mtenvs/Maze-v0", 7), ...], group_size=4)``
    plays exactly those task seeds (a TRL batch of prompts, a curriculum, a retry list).

    Args:
        env_ids: One id or several (tasks alternate between them); ``None`` with ``tasks``.
        agent: Any :class:`mtenvs.agents.Agent`; called once per round with every waiting slot.
        episodes: Trajectories to produce (a multiple of ``group_size``); implied by ``tasks``.
        num_envs: Episodes in flight at once.
        seed: Seed of the first task (default 0); not allowed with ``tasks``.
        group_size: Rollouts per task (GRPO/GiGPO groups).
        tasks: ``(env_id, seed)`` pairs, each played ``group_size`` times, or
            ``(env_id, seed, n)`` triples, each played ``n`` times; ``Trajectory.group`` is
            the task's index in this list. Episodes start in list order.
        env_kwargs: Constructor arguments for every env.
        executor: ``"sync"``, ``"thread"`` (I/O-bound envs), ``"process"`` (CPU-bound) or
            ``"ray"`` (Ray actors, local or on a cluster). ``"auto"``: ``thread`` when any
            env declares ``io_bound``, else ``sync`` (thread hand-offs cost more than fast
            pure-Python steps, which hold the GIL anyway).
        workers: Threads / processes / actors (default: ``num_envs`` threads, or one
            process or actor per CPU).
        prefetch: How many upcoming episodes to reset ahead of time, on spare envs, while
            the agent thinks (``sync`` and ``thread`` executors; each costs one more env
            instance). Default: ``num_envs`` when no env is ``io_bound`` (cheap envs whose
            resets generate levels), else 0 (a spare env would hold a sandbox or browser).
            Trajectories do not depend on it.
    """
    jobs = deque(_schedule(env_ids, episodes, seed, group_size, tasks))
    check_int_range("num_envs", num_envs, 1)
    ids = list(dict.fromkeys(j.env_id for j in jobs))
    io_bound = any(env_class(i).io_bound for i in ids)
    if executor == "auto":
        executor = "thread" if io_bound else "sync"
    if prefetch is None:
        prefetch = 0 if io_bound else num_envs
    check_int_range("prefetch", prefetch, 0)
    num_envs = min(num_envs, len(jobs))
    group = make_worker_group(executor, num_envs, env_kwargs, workers=workers)
    if not group.local:
        prefetch = 0  # remote workers answer one call at a time: nothing runs ahead there
    slots: list[_Slot | None] = [None] * num_envs
    stop = threading.Event()
    agent_s: float | None = None  # the last agent call's seconds
    try:
        _install(slots, _start_fill(group, slots, jobs).result(), agent)
        while any(s is not None for s in slots) or jobs:
            # Refills (and resets ahead) start now and run while the agent thinks; the
            # refilled slots join from the next round. Every executor follows this schedule.
            refill = _start_fill(group, slots, jobs)
            stop = threading.Event()
            if prefetch and jobs:
                # Resets ahead stop in time to leave the CPU (and the GIL) to the steps that
                # follow the agent's reply, judged by the last agent call.
                deadline = None if agent_s is None else time.perf_counter() + _AHEAD_SHARE * agent_s
                upcoming = [(j.env_id, j.seed) for j in itertools.islice(jobs, prefetch)]
                group.prefetch(upcoming, stop, deadline)
            waiting = [i for i, s in enumerate(slots) if s is not None]
            if waiting:
                timing: list[float] = []
                yield from _round(group, slots, waiting, agent, stop, timing)
                agent_s = timing[0] if timing else agent_s
            stop.set()
            _install(slots, refill.result(), agent)
    finally:
        stop.set()
        group.close()


def _round(
    group: Any,
    slots: list[_Slot | None],
    waiting: list[int],
    agent: Agent,
    stop: threading.Event,
    timing: list[float],
) -> Iterator[Trajectory]:
    """One batched agent call for ``waiting`` slots, then their env steps; the call's
    seconds are appended to ``timing``."""
    env = group.env
    batch = [
        AgentInput(messages=slot.messages, env=env(i), info=cast(dict[str, Any], slot.info))
        for i in waiting
        if (slot := slots[i]) is not None
    ]
    start = time.perf_counter()
    try:
        replies = agent.act(batch)
    finally:
        stop.set()  # work ahead stops with the agent's turn: the steps need the CPU now
    elapsed = time.perf_counter() - start
    timing.append(elapsed)
    agent_s = elapsed / len(batch)
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
