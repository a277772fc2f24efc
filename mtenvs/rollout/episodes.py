"""Episodes in flight, shared by the lock-step engine (:mod:`mtenvs.rollout.engine`) and
the async one (:mod:`mtenvs.rollout.async_engine`): the job schedule of a ``rollout`` call,
its env sources, a slot's episode state (and a branch point's), and how a reset or a step
is recorded into the slot's trajectory and conversation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from mtenvs.core.agent import Agent, Message, user_message
from mtenvs.core.env import StepInfo
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory, Turn
from mtenvs.rollout.sources import EnvLike, EnvSource, probe_source
from mtenvs.rollout.workers import StepOut, jsonable

__all__ = ["Job", "TaskSpec", "make_jobs", "task_jobs"]

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
#: The scalar types themselves: a set lookup of ``type(value)`` is the common case's test
#: (subclasses, such as an IntEnum, take the isinstance path).
_SCALAR_TYPES = frozenset(_SCALARS)


def _turn_info(info: StepInfo) -> dict[str, Any]:
    """The scalar env-specific entries of a step's info: what wrappers add (``attempt``,
    ``retried``, ``turn_limit_reached``, ``summarised_turns``, …) and the env's own flags.
    Scalars only, so it stays cheap on every step; ``final_info`` keeps the rest."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in _DROP_TURN:
            continue
        if type(value) in _SCALAR_TYPES or isinstance(value, _SCALARS):
            out[key] = value
        elif isinstance(value, np.generic):  # the same record from every executor
            out[key] = value.item()
    return out


def _record(slot: _Slot, reply: Any, out: StepOut, agent_s: float) -> None:
    text = reply if isinstance(reply, str) else repr(reply)
    info = out.info
    # Positional, in Turn's field order (this runs once per env step): observation,
    # reply, reward, reward_components, state_key, parse_error, terminated, truncated,
    # agent_s, env_s, image, info, context.
    slot.traj.turns.append(
        Turn(
            slot.observation,
            text,
            out.reward,
            dict(info.get("reward_components", {})),
            slot.state_key,
            info.get("parse_error"),
            out.terminated,
            out.truncated,
            agent_s,
            out.env_s,
            slot.image,
            _turn_info(info),
            None if slot.verbatim else list(slot.messages),
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
    slot.info = info
    key = info.get("state_key", "")
    slot.state_key = key if type(key) is str else str(key)


def _user(out: StepOut) -> Message:
    """The user message of an observation: its text, with its image as a content part."""
    if out.image is None:
        return {"role": "user", "content": out.observation}
    return user_message({"text": out.observation, "image": out.image})


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
