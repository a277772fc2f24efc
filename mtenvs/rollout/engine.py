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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from mtenvs.core.agent import Agent, AgentInput, Message, user_message
from mtenvs.core.env import StepInfo
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.async_engine import Schedule, as_schedule, async_rollout
from mtenvs.rollout.branching import Branching, check_branchable
from mtenvs.rollout.records import Trajectory, Turn
from mtenvs.rollout.sources import EnvLike, EnvSource, probe_source
from mtenvs.rollout.workers import Executor, StepOut, jsonable, make_worker_group

__all__ = ["Branching", "Job", "TaskSpec", "make_jobs", "rollout", "task_jobs"]

#: Keys of the last step's info kept in ``Trajectory.final_info`` (the rest is per-turn).
_DROP_FINAL = {
    "reward_components",
    "uncounted_components",
    "parse_error",
    "state_key",
    "system_prompt",
}

#: Keys of a step's info not kept in ``Turn.info`` (recorded in their own fields, or the
#: same on every step).
_DROP_TURN = _DROP_FINAL | {"success", "turn", "tools", "task_id", "max_turns", "split"}

#: Share of the last agent call's duration that resets ahead may use in the next one.
_AHEAD_SHARE = 0.8

#: A task for ``rollout(tasks=…)``: ``(env, seed)``, played ``group_size`` times, or
#: ``(env, seed, n)``, played ``n`` times; ``env`` is an id, an ``EnvSpec`` or a factory.
TaskSpec = tuple[EnvLike, int] | tuple[EnvLike, int, int]


@dataclass(frozen=True)
class Job:
    """One episode to play."""

    #: The env's key: its id, or for a spec or factory a key the engine gave it.
    env_id: str
    seed: int
    group: int


@dataclass
class _Slot:
    job: Job
    traj: Trajectory
    #: The conversation the agent is sent.
    messages: list[Message]
    observation: str
    info: StepInfo
    state_key: str = ""
    image: np.ndarray | None = None
    #: The env supplies the conversation (a transcript observation).
    env_chat: bool = False
    #: ``messages`` can be rebuilt from the records (no summary replaced older turns).
    verbatim: bool = True
    #: How many times this episode's line branched (0: an episode, 1: its branch, ...).
    depth: int = 0
    #: The first turn at which it may branch (a branch not again at its own branch turn).
    branch_from: int = 0


@dataclass(eq=False)
class _BranchPoint:
    """A state an episode branches from; its worker keeps the env snapshot ``snap_id``."""

    snap_id: int
    turn: int
    #: The parent's slot at the branch point (its messages copied, its turns in ``turns``).
    parent: _Slot
    turns: list[Turn]
    #: Branches not started yet (the last to start frees the snapshot).
    left: int

    def slot(self, index: int) -> _Slot:
        """The slot of branch ``index``: the parent's state at the branch point."""
        parent, traj = self.parent, self.parent.traj
        return dataclasses.replace(
            parent,
            traj=Trajectory(
                env_id=traj.env_id,
                seed=traj.seed,
                task_id=traj.task_id,
                agent=traj.agent,
                system_prompt=traj.system_prompt,
                turns=list(self.turns),
                group=traj.group,
                wrappers=list(traj.wrappers),
                id=f"{traj.id}/{self.turn}.{index}",
                parent=traj.id,
                branch_turn=self.turn,
            ),
            messages=list(parent.messages),
            depth=parent.depth + 1,
            branch_from=self.turn + 1,
        )


@dataclass(eq=False)
class _BranchJob:
    """One branch to play from a branch point."""

    point: _BranchPoint
    index: int

    @property
    def env_id(self) -> str:
        return self.point.parent.job.env_id

    @property
    def seed(self) -> int:
        return self.point.parent.job.seed


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


def _is_single(envs: object) -> bool:
    return isinstance(envs, (str, EnvSpec)) or callable(envs)


class _Sources:
    """The env sources of one rollout call: a key per distinct env (an id is its own key;
    specs and factories, told apart by identity, get ``name#n``), probed once each."""

    def __init__(self, env_kwargs: Mapping[str, Any] | None) -> None:
        self._kwargs = dict(env_kwargs or {})
        self._keys: dict[object, str] = {}
        self.by_key: dict[str, EnvSource] = {}
        #: The env each probe built, handed to an in-process worker (or closed).
        self.probes: dict[str, list[gym.Env[Any, Any]]] = {}

    def key(self, env_like: EnvLike) -> str:
        ident: object = env_like if isinstance(env_like, str) else id(env_like)
        known = self._keys.get(ident)
        if known is not None:
            return known
        source, probe = probe_source(env_like, self._kwargs)
        if isinstance(env_like, str):
            key = env_like
        else:
            n = sum(k.startswith(f"{source.name}#") for k in self.by_key)
            key = f"{source.name}#{n}"
        self._keys[ident] = key
        self.by_key[key] = source
        self.probes[key] = [probe]
        return key

    def close(self) -> None:
        for envs in self.probes.values():
            for env in envs:
                env.close()
        self.probes.clear()


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


def task_jobs(
    tasks: Sequence[TaskSpec], group_size: int, key: Callable[[EnvLike], str] | None = None
) -> list[Job]:
    """The jobs of ``rollout(tasks=…)``: task ``k`` played ``group_size`` (or its own ``n``)
    times as group ``k``, in list order; ``key`` names each task's env (default: its id)."""
    jobs: list[Job] = []
    for k, task in enumerate(tasks):
        ok = isinstance(task, (tuple, list)) and len(task) in (2, 3)
        ok = ok and (isinstance(task[0], str) or (key is not None and _is_single(task[0])))
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in task[1:])
        ok = ok and (len(task) == 2 or task[2] >= 1)
        if not ok:
            raise InvalidArgumentError(
                f"tasks[{k}] is {task!r}; each task must be (env, seed) or (env, seed, n) "
                "with an env id, EnvSpec or env factory, an int seed and an int n >= 1, "
                "e.g. ('mtenvs/Sokoban-v0', 3)."
            )
        count = group_size if len(task) == 2 else task[2]  # type: ignore[misc]
        env_key = key(task[0]) if key is not None else str(task[0])
        jobs.extend(Job(env_key, task[1], k) for _ in range(count))
    if not jobs:
        raise InvalidArgumentError("tasks is empty; give at least one (env_id, seed) task.")
    return jobs


def _schedule(
    env_ids: EnvLike | Sequence[EnvLike] | None,
    episodes: int | None,
    seed: int | None,
    group_size: int,
    tasks: Sequence[TaskSpec] | None,
    sources: _Sources,
) -> list[Job]:
    """The job list of a ``rollout`` call, with its arguments checked and its envs
    probed into ``sources``."""
    check_int_range("group_size", group_size, 1)
    if tasks is None:
        # One env (the probe checks what it is) or a list of them.
        given = list(env_ids) if isinstance(env_ids, (list, tuple)) else [env_ids]
        envs = [cast(EnvLike, e) for e in given if e is not None]
        if not envs:
            raise InvalidArgumentError(
                "rollout() needs at least one env id (or tasks=[(env_id, seed), ...])."
            )
        if episodes is None:
            raise InvalidArgumentError(
                "rollout() needs episodes (the number of trajectories) with env_ids."
            )
        check_int_range("episodes", episodes, 1)
        keys = [sources.key(e) for e in envs]
        jobs = make_jobs(keys, episodes, 0 if seed is None else seed, group_size)
    else:
        if env_ids is not None or seed is not None:
            raise InvalidArgumentError(
                "rollout(tasks=...) takes the env ids and seeds from the tasks; pass "
                f"env_ids=None and no seed (got env_ids={env_ids!r}, seed={seed!r})."
            )
        jobs = task_jobs(tasks, group_size, sources.key)
        if episodes is not None and episodes != len(jobs):
            raise InvalidArgumentError(
                f"episodes={episodes!r} but the tasks make {len(jobs)} episodes; leave "
                "episodes unset with tasks."
            )
    return jobs


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
    done = []
    for i, reply, out in zip(waiting, replies, results):
        slot = slots[i]
        assert slot is not None
        _record(slot, reply, out, agent_s)
        if _finish(slot, out):
            slots[i] = None
            done.append(slot.traj)
    return done


def _finish(slot: _Slot, out: StepOut) -> bool:
    """Whether the step ``out`` ended the slot's episode; if so, its trajectory's final
    fields are set."""
    if not (out.terminated or out.truncated):
        return False
    slot.traj.final_observation = out.observation
    slot.traj.final_image = out.image
    slot.traj.success = bool(out.info.get("success", False))
    slot.traj.final_info = jsonable({k: v for k, v in out.info.items() if k not in _DROP_FINAL})
    return True


_SCALARS = (bool, int, float, str, type(None))


def _turn_info(info: StepInfo) -> dict[str, Any]:
    """The scalar env-specific entries of a step's info: what wrappers add (``attempt``,
    ``retried``, ``turn_limit_reached``, ``summarised_turns``, …) and the env's own flags.
    Scalars only, so it stays cheap on every step; ``final_info`` keeps the rest."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in _DROP_TURN:
            continue
        if isinstance(value, _SCALARS):
            out[key] = value
        elif isinstance(value, np.generic):  # the same record from every executor
            out[key] = value.item()
    return out


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
            image=slot.image,
            info=_turn_info(out.info),
            context=None if slot.verbatim else list(slot.messages),
        )
    )
    if slot.env_chat and out.messages is not None:
        sent = slot.messages
        messages = list(out.messages)
        # Still the plain transcript when the env only added the reply and the observation.
        slot.verbatim = (
            slot.verbatim
            and len(messages) == len(sent) + 2
            and messages[: len(sent)] == sent
            and messages[-2] == {"role": "assistant", "content": text}
        )
        slot.messages = messages
    else:
        slot.messages.append({"role": "assistant", "content": text})
        slot.messages.append(_user(out))
    slot.observation = out.observation
    slot.image = out.image
    slot.info = out.info
    slot.state_key = str(out.info.get("state_key", ""))


def _user(out: StepOut) -> Message:
    """The user message of an observation: its text, with its image as a content part."""
    if out.image is None:
        return {"role": "user", "content": out.observation}
    return user_message({"text": out.observation, "image": out.image})


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


def _install(
    slots: list[_Slot | None],
    done: tuple[list[tuple[int, Job | _BranchJob]], list[Any]],
    agent: Agent,
    sources: Mapping[str, EnvSource],
    ids: Iterator[int],
) -> list[int]:
    """Put the filled slots' episodes in place (an episode takes the next id); returns
    the slots filled."""
    assigned, results = done
    for (i, job), out in zip(assigned, results):
        if isinstance(job, _BranchJob):
            slots[i] = job.point.slot(job.index)
            continue
        prompt = str(out.info.get("system_prompt", ""))
        source = sources.get(job.env_id)
        own: list[Message] = [{"role": "system", "content": prompt}, _user(out)]
        messages = own if out.messages is None else list(out.messages)
        slots[i] = _Slot(
            job=job,
            traj=Trajectory(
                env_id=job.env_id if source is None else source.name,
                seed=job.seed,
                task_id=str(out.info.get("task_id", "")),
                agent=getattr(agent, "name", type(agent).__name__),
                system_prompt=prompt,
                group=job.group,
                wrappers=[] if source is None else list(source.wrappers),
                id=str(next(ids)),
            ),
            messages=messages,
            observation=out.observation,
            info=out.info,
            state_key=str(out.info.get("state_key", "")),
            image=out.image,
            env_chat=out.messages is not None,
            verbatim=messages == own,
        )
    return [i for i, _ in assigned]
