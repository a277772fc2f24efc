"""The vectorized rollout engine.

``rollout`` keeps ``num_envs`` episodes in flight. Every round it makes **one** batched
``agent.act`` call for all slots waiting on the agent (one GPU batch), then steps those envs
concurrently through a :mod:`~mtenvs.rollout.workers` group. Episodes end at different
turns; a finished slot is refilled with the next task until every episode is done. The
schedule is lock-step and slot-ordered, so the trajectories are the same for every executor
(sync, thread, process, Ray) and every ``prefetch`` depth, given the same seeds and a
deterministic agent.

Envs: an id, a list of ids, a Gymnasium ``EnvSpec`` or a zero-argument factory returning an
env wrapped as the caller likes (:mod:`mtenvs.rollout.sources`); trajectories carry the
innermost registered id (``Trajectory.env_id``) and the wrappers (``Trajectory.wrappers``).

Conversations: the engine keeps each episode's chat (system prompt, then each observation as
a user message built by :func:`mtenvs.core.agent.user_message`, with its image where it has
one, and each reply). An env whose observation already is the conversation (the
:class:`~mtenvs.wrappers.ChatHistory` / :class:`~mtenvs.wrappers.ContextSummary`
transcript) is sent that transcript instead, so a summarising wrapper bounds the prompt.

Tasks: by default task ``k`` is env ``env_ids[k % len(env_ids)]`` with seed
``seed + k // len(env_ids)``; ``tasks=[(env, seed), …]`` gives the list instead. With
``group_size=G`` each task is played ``G`` times (GRPO/GiGPO groups; a task
``(env_id, seed, n)`` is played ``n`` times) and its trajectories share ``Trajectory.group``
(the task's index).

Resets never wait in the agent's turn when it can be helped: a round's refills start before
the agent call and run while it thinks, and with ``prefetch`` (local executors, on by default
for envs that are not ``io_bound``) spare envs are reset for the next tasks in the queue in
the same idle time, so a round in which many episodes end at once (a turn limit) finds them
ready.

Branches: with ``branch=Branching(turns=[2, 5], n=4)`` an episode that reaches a listed turn
(or where a rule says so) is snapshotted in its worker and ``n`` branches continue from that
state, each a trajectory of its own with ``parent`` and ``branch_turn``
(:mod:`mtenvs.rollout.branching`). Branch jobs go to the front of the queue, in order, so
branching keeps the schedule, and the trajectories, the same on every executor.

Async: ``schedule="async"`` drops the rounds: each episode moves on as soon as its reply is
ready and the agent is called with every slot then waiting (continuous batching), with the
same trajectories for the same replies (:mod:`mtenvs.rollout.async_engine`).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mtenvs.core.agent import Agent, AgentInput
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.async_engine import Schedule, as_schedule, async_rollout
from mtenvs.rollout.branching import Branching, check_branchable
from mtenvs.rollout.episodes import (
    Job,
    TaskSpec,
    _BranchJob,
    _BranchPoint,
    _finish,
    _install,
    _record,
    _schedule,
    _Slot,
    _Sources,
    make_jobs,
    task_jobs,
)
from mtenvs.rollout.records import Trajectory
from mtenvs.rollout.sources import EnvLike
from mtenvs.rollout.workers import Executor, StepOut, make_worker_group

__all__ = ["Branching", "Job", "TaskSpec", "make_jobs", "rollout", "task_jobs"]

#: Share of the last agent call's duration that resets ahead may use in the next one.
_AHEAD_SHARE = 0.8


class _Brancher:
    """Finds the branch points of a rollout, snapshots them and queues their branches."""

    def __init__(self, branching: Branching) -> None:
        self.branching = branching
        self._snap_ids = itertools.count()

    def branch(
        self, group: Any, slots: list[_Slot | None], indices: Iterable[int], jobs: deque[Any]
    ) -> None:
        """Branch the slots at ``indices`` whose turn is a branch point: one batch of
        snapshots, then their branches at the front of ``jobs`` in slot order."""
        points: list[tuple[int, _BranchPoint]] = []
        for i in indices:
            slot = slots[i]
            if slot is None:
                continue
            turn = len(slot.traj.turns)
            if turn < slot.branch_from or not self.branching.wants(
                slot.traj, turn, slot.info, slot.depth
            ):
                continue
            parent = dataclasses.replace(slot, messages=list(slot.messages), branch_from=0)
            point = _BranchPoint(
                next(self._snap_ids), turn, parent, list(slot.traj.turns), self.branching.n
            )
            points.append((i, point))
        if not points:
            return
        group.run([(i, "snapshot", (point.snap_id,)) for i, point in points])
        branches = [_BranchJob(point, k) for _, point in points for k in range(point.left)]
        jobs.extendleft(reversed(branches))


def rollout(
    env_ids: EnvLike | Sequence[EnvLike] | None,
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
    branch: Branching | None = None,
    schedule: Schedule = "lockstep",
) -> Iterator[Trajectory]:
    """Play episodes with ``num_envs`` in flight; yield each trajectory as it finishes.

    Either ``env_ids`` and ``episodes`` (tasks numbered from ``seed``, see the module doc)
    or ``tasks``: ``rollout(None, agent, tasks=[("mtenvs/Maze-v0", 7), ...], group_size=4)``
    plays exactly those task seeds (a TRL batch of prompts, a curriculum, a retry list).
    An env is an id, a Gymnasium ``EnvSpec`` or a zero-argument factory returning an env
    wrapped as you like: ``rollout(lambda: TryAgain(gym.make(id)), agent, 64)``.

    Args:
        env_ids: One env or several (tasks alternate between them): ids, ``EnvSpec`` s or
            factories; ``None`` with ``tasks``.
        agent: Any :class:`mtenvs.agents.Agent`; called once per round with every waiting slot.
        episodes: Trajectories to produce (a multiple of ``group_size``); implied by ``tasks``.
        num_envs: Episodes in flight at once.
        seed: Seed of the first task (default 0); not allowed with ``tasks``.
        group_size: Rollouts per task (GRPO/GiGPO groups).
        tasks: ``(env_id, seed)`` pairs, each played ``group_size`` times, or
            ``(env_id, seed, n)`` triples, each played ``n`` times; ``Trajectory.group`` is
            the task's index in this list. Episodes start in list order.
        env_kwargs: Constructor arguments for every env given by id or spec (a factory
            builds its env itself: passing them with one is an error).
        executor: ``"sync"``, ``"thread"`` (I/O-bound envs), ``"process"`` (CPU-bound) or
            ``"ray"`` (Ray actors, local or on a cluster); ``process`` and ``ray`` send
            factories to their workers with cloudpickle. ``"auto"``: ``thread`` when any
            env declares ``io_bound`` (read through its wrappers), else ``sync`` (thread
            hand-offs cost more than fast pure-Python steps, which hold the GIL anyway).
        workers: Threads / processes / actors (default: ``num_envs`` threads, or one
            process or actor per CPU).
        prefetch: How many upcoming episodes to reset ahead of time, on spare envs, while
            the agent thinks (``sync`` and ``thread`` executors; each costs one more env
            instance). Default: ``num_envs`` when no env is ``io_bound`` (cheap envs whose
            resets generate levels), else 0 (a spare env would hold a sandbox or browser).
            Trajectories do not depend on it.
        branch: Branch episodes (:class:`~mtenvs.rollout.branching.Branching`): at the
            chosen turns snapshot the env and play ``n`` more continuations from there,
            yielded as trajectories of their own (``parent``, ``branch_turn``) besides the
            ``episodes``; ``rollout(id, agent, 8, branch=Branching(turns=[2], n=4))``
            yields 8 episodes and the 32 branches of those that reach turn 2. The envs
            must support ``snapshot()`` / ``restore()`` (every mtenvs env does).
        schedule: ``"lockstep"`` (rounds, above) or ``"async"``: each episode moves on as
            soon as its reply is ready and the agent is called with every slot then
            waiting (continuous batching; ``thread`` executor, no ``branch``); an
            :class:`~mtenvs.rollout.async_engine.AsyncSchedule` caps the batch or lets it
            wait for more (:mod:`mtenvs.rollout.async_engine`). The same trajectories for
            the same replies; they are yielded as they finish.
    """
    asynchronous = as_schedule(schedule)
    if asynchronous is not None:
        yield from async_rollout(
            env_ids,
            agent,
            episodes,
            num_envs=num_envs,
            seed=seed,
            group_size=group_size,
            tasks=tasks,
            env_kwargs=env_kwargs,
            executor=executor,
            workers=workers,
            prefetch=prefetch,
            branch=branch,
            schedule=asynchronous,
        )
        return
    if branch is not None and not isinstance(branch, Branching):
        raise InvalidArgumentError(
            f"branch={branch!r}; give a Branching, e.g. branch=Branching(turns=[2, 5], n=4)."
        )
    sources = _Sources(env_kwargs)
    try:
        jobs: deque[Job | _BranchJob] = deque(
            _schedule(env_ids, episodes, seed, group_size, tasks, sources)
        )
        check_int_range("num_envs", num_envs, 1)
        if branch is not None:
            for key, probes in sources.probes.items():
                check_branchable(probes[0], key)
        io_bound = any(s.io_bound for s in sources.by_key.values())
        if executor == "auto":
            executor = "thread" if io_bound else "sync"
        if prefetch is None:
            prefetch = 0 if io_bound else num_envs
        check_int_range("prefetch", prefetch, 0)
        if branch is None:  # branches add jobs: keep the slots asked for
            num_envs = min(num_envs, len(jobs))
        group = make_worker_group(
            executor,
            num_envs,
            env_kwargs,
            workers=workers,
            sources={k: s.target for k, s in sources.by_key.items()},
            spare=sources.probes,
        )
        sources.probes = {}  # the group owns (or closed) them now
    finally:
        sources.close()
    named = sources.by_key
    if not group.local:
        prefetch = 0  # remote workers answer one call at a time: nothing runs ahead there
    slots: list[_Slot | None] = [None] * num_envs
    stop = threading.Event()
    agent_s: float | None = None  # the last agent call's seconds
    ids = itertools.count()  # the episodes' trajectory ids, in start order
    brancher = None if branch is None else _Brancher(branch)
    try:
        started = _install(slots, _start_fill(group, slots, jobs).result(), agent, named, ids)
        if brancher is not None:
            brancher.branch(group, slots, started, jobs)
        while any(s is not None for s in slots) or jobs:
            # Refills (and resets ahead) start now and run while the agent thinks; the
            # refilled slots join from the next round. Every executor follows this schedule.
            refill = _start_fill(group, slots, jobs)
            stop = threading.Event()
            if prefetch and jobs:
                # Resets ahead stop in time to leave the CPU (and the GIL) to the steps that
                # follow the agent's reply, judged by the last agent call.
                deadline = None if agent_s is None else time.perf_counter() + _AHEAD_SHARE * agent_s
                upcoming = [
                    (j.env_id, j.seed)
                    for j in itertools.islice(jobs, prefetch)
                    if isinstance(j, Job)  # a branch restores a snapshot instead
                ]
                group.prefetch(upcoming, stop, deadline)
            waiting = [i for i, s in enumerate(slots) if s is not None]
            if waiting:
                timing: list[float] = []
                done = _round(group, slots, waiting, agent, stop, timing)
                agent_s = timing[0] if timing else agent_s
                if brancher is not None:
                    brancher.branch(group, slots, waiting, jobs)
                yield from done
            stop.set()
            started = _install(slots, refill.result(), agent, named, ids)
            if brancher is not None:
                brancher.branch(group, slots, started, jobs)
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
) -> list[Trajectory]:
    """One batched agent call for ``waiting`` slots, then their env steps; the call's
    seconds are appended to ``timing``. Returns the trajectories that ended."""
    env = group.env
    # Positional (messages, env, info): one per waiting slot, every round.
    batch = [
        AgentInput(slot.messages, env(i), slot.info)  # type: ignore[arg-type]
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
    done = []
    for i, reply, out in zip(waiting, replies, results):
        slot = slots[i]
        assert slot is not None
        _record(slot, reply, out, agent_s)
        if _finish(slot, out):
            slots[i] = None
            done.append(slot.traj)
    return done


@dataclass
class _Fill:
    assigned: list[tuple[int, Job | _BranchJob]]
    pending: Any

    def result(self) -> tuple[list[tuple[int, Job | _BranchJob]], list[Any]]:
        return self.assigned, self.pending.result() if self.assigned else []


def _start_fill(group: Any, slots: list[_Slot | None], jobs: deque[Job | _BranchJob]) -> _Fill:
    """Take jobs for the free slots and start their resets (a branch's: its restore)."""
    free = [i for i, s in enumerate(slots) if s is None][: len(jobs)]
    assigned = [(i, jobs.popleft()) for i in free]
    calls: list[tuple[int, str, tuple[Any, ...]]] = []
    for i, job in assigned:
        if isinstance(job, _BranchJob):
            point = job.point
            point.left -= 1  # the last branch to start frees the snapshot
            args = (job.env_id, job.seed, point.snap_id, point.left == 0)
            calls.append((i, "restore", args))
        else:
            calls.append((i, "reset", (job.env_id, job.seed)))
    pending = group.start(calls) if assigned else None
    return _Fill(assigned, pending)
