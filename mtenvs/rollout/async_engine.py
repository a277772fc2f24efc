"""Async collection: each episode moves on as soon as its reply is ready.

``rollout(..., schedule="async")`` (or ``schedule=AsyncSchedule(max_batch=…, max_wait=…)``)
drops the lock-step rounds of :mod:`mtenvs.rollout.engine`. Every reset and step runs as a
future of its own on a thread pool; the loop waits for the first to complete, and calls the
agent once with every slot now waiting on it (continuous batching, as DART and VerlTool
do), while the other episodes' steps go on. A slow env (a web page, a long test run) holds
only its own episode; a finished slot takes the next task at once.

**Same trajectories.** Task ``k`` of the schedule (the same task list as lock-step:
``env_ids``/``episodes``/``seed``/``group_size`` or ``tasks``) is the ``k``-th episode
started in both modes, so it gets the same ``Trajectory.id`` (``str(k)``). For an agent
whose reply to a conversation depends only on that conversation and its env (the oracle, a
policy seeded from the conversation, greedy decoding), the trajectories of the two modes
are equal field by field, except the timings ``Turn.agent_s`` / ``Turn.env_s`` and the
order in which they are yielded (async: as they finish). A sampling agent with one
generator for the whole run (``RandomAgent``) sees other batches in the other mode, so it
samples other replies, in either mode equally valid.

**Records.** The same :class:`~mtenvs.rollout.records.Trajectory` / ``Turn``: ``agent_s`` is
the agent call's seconds divided by its batch size (as in lock-step), ``env_s`` the step's
own seconds in its thread.

**Where it runs.** Env calls run on threads in this process (one per slot by default,
``workers=`` to cap them): ``executor="thread"`` or ``"auto"``. Lock-step-only
combinations raise :class:`~mtenvs.error.InvalidArgumentError`: ``executor="sync"``
(nothing runs beside the agent), ``"process"`` and ``"ray"`` (their workers answer one
batch at a time), ``branch=`` (branch jobs keep their place in the queue by the round
order) and ``prefetch`` > 0 (a free slot starts its next reset at once anyway).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal, cast

import gymnasium as gym

from mtenvs.core.agent import Agent, AgentInput
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.episodes import _finish, _install, _record, _schedule, _Slot, _Sources
from mtenvs.rollout.records import Trajectory
from mtenvs.rollout.sources import EnvLike, build_env
from mtenvs.rollout.workers import EnvWorker, Executor, StepOut

__all__ = ["AsyncSchedule", "Schedule", "as_schedule", "async_rollout"]


@dataclass(frozen=True)
class AsyncSchedule:
    """How ``schedule="async"`` batches agent calls (the defaults are ``"async"``)."""

    #: Most slots in one agent call (``None``: every slot waiting); the rest wait for the
    #: next call, oldest first.
    max_batch: int | None = None
    #: Seconds the first slot to wait may wait for others to join the agent call while env
    #: calls are still running (0: call the agent with whatever is waiting).
    max_wait: float = 0.0

    def __post_init__(self) -> None:
        if self.max_batch is not None:
            check_int_range("max_batch", self.max_batch, 1)
        if not isinstance(self.max_wait, (int, float)) or not self.max_wait >= 0:
            raise InvalidArgumentError(
                f"max_wait={self.max_wait!r}; give seconds >= 0, e.g. max_wait=0.01."
            )


#: ``rollout(schedule=…)``: ``"lockstep"`` (rounds, the default), ``"async"`` or an
#: :class:`AsyncSchedule`.
Schedule = Literal["lockstep", "async"] | AsyncSchedule


def as_schedule(schedule: object) -> AsyncSchedule | None:
    """``None`` for lock-step, the :class:`AsyncSchedule` for async; anything else raises
    :class:`~mtenvs.error.InvalidArgumentError` naming the choices."""
    if isinstance(schedule, AsyncSchedule):
        return schedule
    if schedule == "lockstep":
        return None
    if schedule == "async":
        return AsyncSchedule()
    raise InvalidArgumentError(
        f"schedule={schedule!r}; choose 'lockstep', 'async' or AsyncSchedule(max_batch=…, "
        "max_wait=…)."
    )


def check_async(executor: Executor, prefetch: int | None, branch: object) -> None:
    """Refuse what async collection does not do, saying what to use instead."""
    if executor not in ("auto", "thread"):
        raise InvalidArgumentError(
            f"schedule='async' runs env calls on threads in this process; executor="
            f"{executor!r} is lock-step only. Use executor='thread' (or 'auto') with "
            "schedule='async', or schedule='lockstep' with this executor."
        )
    if branch is not None:
        raise InvalidArgumentError(
            "branch= needs schedule='lockstep' (branches keep their place in the queue by "
            "the lock-step rounds); drop branch= or schedule='async'."
        )
    if prefetch:
        raise InvalidArgumentError(
            f"prefetch={prefetch!r} needs schedule='lockstep'; with schedule='async' a free "
            "slot starts its next reset at once: leave prefetch unset (or 0)."
        )


class _SharedWorker(EnvWorker):
    """An :class:`EnvWorker` whose slots are called from several threads at once: taking
    and returning idle envs is locked (each slot's own calls never overlap)."""

    def __init__(
        self,
        env_kwargs: Mapping[str, Any] | None,
        sources: Mapping[str, EnvLike],
        spare: Mapping[str, Sequence[gym.Env[Any, Any]]],
    ) -> None:
        super().__init__(env_kwargs, plain=False, sources=sources, spare=spare)
        self._lock = threading.Lock()

    def _take(self, env_id: str) -> gym.Env[Any, Any]:
        with self._lock:
            idle = self._idle.get(env_id)
            if idle:
                return idle.pop()
        # Built outside the lock: a sandbox or browser start must not hold the others.
        return build_env(self._sources.get(env_id, env_id), self._env_kwargs)

    def release(self, slot: int) -> None:
        with self._lock:
            super().release(slot)


@dataclass(frozen=True)
class _Reset:
    slot: int
    job: Any  # episodes.Job
    traj_id: int


@dataclass(frozen=True)
class _Step:
    slot: int
    reply: Any
    agent_s: float


def async_rollout(
    env_ids: Any,
    agent: Agent,
    episodes: int | None,
    *,
    num_envs: int,
    seed: int | None,
    group_size: int,
    tasks: Any,
    env_kwargs: Mapping[str, Any] | None,
    executor: Executor,
    workers: int | None,
    prefetch: int | None,
    branch: object,
    schedule: AsyncSchedule,
) -> Iterator[Trajectory]:
    """``rollout(..., schedule=…)`` with an async schedule (see the module doc)."""

    check_async(executor, prefetch, branch)
    sources = _Sources(env_kwargs)
    try:
        jobs = deque(_schedule(env_ids, episodes, seed, group_size, tasks, sources))
        check_int_range("num_envs", num_envs, 1)
        num_envs = min(num_envs, len(jobs))
        if workers is not None:
            check_int_range("workers", workers, 1)
        worker = _SharedWorker(
            env_kwargs, {k: s.target for k, s in sources.by_key.items()}, sources.probes
        )
        sources.probes = {}  # the worker owns them now
    finally:
        sources.close()
    named = sources.by_key
    cap = schedule.max_batch or num_envs
    pool = ThreadPoolExecutor(workers or num_envs, thread_name_prefix="mtenvs-async")
    slots: list[_Slot | None] = [None] * num_envs
    running: dict[Future[Any], _Reset | _Step] = {}
    #: Slots waiting on the agent, oldest first, with the time each began to wait.
    ready: deque[tuple[int, float]] = deque()
    ids = itertools.count()  # task k of the schedule is trajectory "k", as in lock-step

    def start(i: int) -> None:
        job = jobs.popleft()
        running[pool.submit(worker.reset, i, job.env_id, job.seed)] = _Reset(i, job, next(ids))

    try:
        for i in range(num_envs):
            start(i)
        while running or ready:
            timeout: float | None = None  # nothing waits on the agent: wait for an env
            if ready:
                wait_until = ready[0][1] + schedule.max_wait
                timeout = max(0.0, wait_until - time.perf_counter()) if len(ready) < cap else 0
            done: set[Future[Any]] = set()
            if running:
                done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
            finished: list[Trajectory] = []
            now = time.perf_counter()
            for future in done:
                call = running.pop(future)
                out: StepOut = future.result()  # an env's exception is raised here
                if isinstance(call, _Reset):
                    _install(
                        slots, ([(call.slot, call.job)], [out]), agent, named, iter([call.traj_id])
                    )
                    ready.append((call.slot, now))
                    continue
                slot = slots[call.slot]
                assert slot is not None
                _record(slot, call.reply, out, call.agent_s)
                if _finish(slot, out):
                    slots[call.slot] = None
                    finished.append(slot.traj)
                    if jobs:
                        start(call.slot)
                else:
                    ready.append((call.slot, now))
            yield from finished
            if not ready:
                continue
            if (
                running
                and len(ready) < cap
                and time.perf_counter() < ready[0][1] + schedule.max_wait
            ):
                continue  # more may join this agent call
            _act(
                agent,
                worker,
                slots,
                [ready.popleft()[0] for _ in range(min(cap, len(ready)))],
                pool,
                running,
            )
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        worker.close()


def _act(
    agent: Agent,
    worker: EnvWorker,
    slots: Sequence[Any],
    batch_slots: list[int],
    pool: ThreadPoolExecutor,
    running: dict[Future[Any], _Reset | _Step],
) -> None:
    """One agent call for ``batch_slots``; their steps start as futures."""
    batch = [
        AgentInput(
            messages=slots[i].messages,
            env=worker.unwrapped(i),
            info=cast(dict[str, Any], slots[i].info),
        )
        for i in batch_slots
    ]
    start = time.perf_counter()
    replies = agent.act(batch)
    agent_s = (time.perf_counter() - start) / len(batch)
    if len(replies) != len(batch):
        raise InvalidArgumentError(
            f"{type(agent).__name__}.act returned {len(replies)} replies for {len(batch)} inputs."
        )
    for i, reply in zip(batch_slots, replies):
        running[pool.submit(worker.step, i, reply)] = _Step(i, reply, agent_s)
