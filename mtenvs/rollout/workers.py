"""Env workers: who owns the env instances and runs their resets and steps.

:class:`EnvWorker` owns the envs of some rollout slots. The engine talks to workers through
a :class:`WorkerGroup`, which runs a batch of calls concurrently:

* ``sync``: one worker in this thread, calls one after another (debugging, tiny envs);
* ``thread``: one worker in this process, calls on a thread pool (I/O-bound envs: sandboxes,
  browsers, databases — the GIL is released while they wait);
* ``process``: workers in subprocesses, slots spread over them (CPU-bound envs);
* ``ray``: workers as Ray actors, on one machine or a cluster.

Every call returns plain picklable data, so all four give identical results.

Branch rollouts (:mod:`mtenvs.rollout.branching`): ``snapshot`` keeps a slot's env state in
the worker that owns the env, under an id the engine gives; ``restore`` puts another env of
that worker in it for a branch's slot. Process and Ray groups route a slot's calls to the
worker its episode lives in: a branch's slot moves to the worker holding the snapshot (its
env there released first), and goes home (``slot % workers``) at its next reset. Snapshots
never travel, so they need not pickle. Envs come from
env sources (:mod:`mtenvs.rollout.sources`): ids, specs or factories; workers in other
processes receive them cloudpickled.

A step's observation comes back as its text, its image (an RGB ``uint8`` array, for
``{"text", "image"}`` observations) and, when the env's observation is a chat transcript
(the :class:`~mtenvs.wrappers.ChatHistory` / :class:`~mtenvs.wrappers.ContextSummary`
observation), its messages.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
import traceback
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple, Protocol, cast, get_args

import gymnasium as gym
import numpy as np

from mtenvs.core.agent import Message, message_text
from mtenvs.core.env import StepInfo
from mtenvs.core.spaces import obs_text
from mtenvs.error import Error, check_choice
from mtenvs.rollout.branching import EnvState, restore_env, snapshot_env
from mtenvs.rollout.sources import EnvLike, build_env, pickle_sources

__all__ = [
    "EXECUTORS",
    "EnvWorker",
    "Executor",
    "StepOut",
    "WorkerGroup",
    "as_executor",
    "chat_messages",
    "make_worker_group",
    "observation_parts",
]

#: How env steps run (see the module doc); ``auto`` picks ``thread`` or ``sync``.
Executor = Literal["auto", "sync", "thread", "process", "ray"]
EXECUTORS: tuple[Executor, ...] = get_args(Executor)


class WorkerError(Error, RuntimeError):
    """An env raised inside a worker; the message carries the worker's traceback."""


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into JSON types (images dropped)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return None if value.ndim >= 2 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def as_executor(name: str) -> Executor:
    """``name`` as an :data:`Executor` (a command-line value, say), or
    :class:`~mtenvs.error.InvalidArgumentError` naming the allowed ones."""
    check_choice("executor", name, EXECUTORS)
    return cast(Executor, name)


class StepOut(NamedTuple):
    """A reset or step result in plain data (a named tuple: built once per step, cheaply)."""

    #: The observation's text (:func:`~mtenvs.core.spaces.obs_text`; for a chat transcript
    #: observation, the text of its last message).
    observation: str
    #: The env's reset or step info (a reset's is a :class:`~mtenvs.core.env.ResetInfo`,
    #: whose keys :class:`~mtenvs.core.env.StepInfo` has too), with its env-specific keys.
    info: StepInfo
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    env_s: float = 0.0
    #: The observation's image (RGB ``uint8``, H x W x 3), if it has one.
    image: np.ndarray | None = None
    #: The observation as chat messages, when the env gives a transcript (ChatHistory,
    #: ContextSummary): the conversation to send to the agent as it is.
    messages: tuple[Message, ...] | None = None


def chat_messages(obs: Any) -> tuple[Message, ...] | None:
    """``obs`` as chat messages when it is a transcript (a list or tuple of
    ``{"role", "content"}`` mappings, the :class:`~mtenvs.wrappers.ChatHistory`
    observation), else ``None``."""
    if not isinstance(obs, (list, tuple)) or not obs:
        return None
    if not all(isinstance(m, Mapping) and "role" in m and "content" in m for m in obs):
        return None
    return tuple(dict(m) for m in obs)


def observation_parts(obs: Any) -> tuple[str, np.ndarray | None, tuple[Message, ...] | None]:
    """An observation as ``(text, image, messages)`` (see :class:`StepOut`)."""
    if isinstance(obs, str):  # the common case first: it is on every step's path
        return obs, None, None
    if isinstance(obs, Mapping):
        image = obs.get("image")
        pixels = None if image is None else np.array(image, dtype=np.uint8)
        return obs_text(obs), pixels, None
    messages = chat_messages(obs)
    if messages is not None:
        return message_text(messages[-1]), None, messages
    return obs_text(obs), None, None


def _same(info: dict[str, Any]) -> StepInfo:
    return cast(StepInfo, info)


def _plain(info: dict[str, Any]) -> StepInfo:
    return cast(StepInfo, jsonable(info))


class EnvWorker:
    """Owns the envs of some rollout slots; envs are created lazily and reused.

    An env serves one slot for one episode; when the slot resets, its env returns to a pool
    of idle envs of its id, from which the next reset (of any slot) takes one. That lets
    :meth:`prefetch` reset idle envs for upcoming tasks ahead of time: a later
    :meth:`reset` to one of those tasks takes the prepared env instead of resetting one.
    ``reset(seed=…)`` determines an episode, so which env instance plays it changes nothing.

    ``plain=True`` (workers in other processes or Ray actors) turns infos into JSON types
    before they travel; in-process workers pass the env's info dict on as it is (a fresh
    dict every step; JSON conversion cost ~11 µs a step).
    """

    def __init__(
        self,
        env_kwargs: Mapping[str, Any] | None = None,
        *,
        plain: bool = True,
        sources: Mapping[str, EnvLike] | None = None,
        spare: Mapping[str, Sequence[gym.Env[Any, Any]]] | None = None,
    ) -> None:
        self._env_kwargs = dict(env_kwargs or {})
        self._info: Callable[[dict[str, Any]], StepInfo] = _plain if plain else _same
        #: Env key -> what builds it (an id, spec or factory); a key not here is an id.
        self._sources: dict[str, EnvLike] = dict(sources or {})
        #: Idle envs per env key; ``spare`` are envs built already (the engine's probes).
        self._idle: dict[str, list[gym.Env[Any, Any]]] = {
            key: list(envs) for key, envs in (spare or {}).items()
        }
        #: slot -> (env id, env, unwrapped env) of the episode it plays.
        self._current: dict[int, tuple[str, gym.Env[Any, Any], Any]] = {}
        #: Envs reset ahead of time, per (env id, seed), with their reset result.
        self._ready: dict[tuple[str, int], deque[tuple[gym.Env[Any, Any], StepOut]]] = {}
        #: Running mean of the prefetched resets' seconds.
        self._reset_s = 0.0
        #: Env states kept for branches, by the engine's snapshot id: (env key, state).
        self._snapshots: dict[int, EnvState] = {}
        #: Envs reset at least once (a restore into one never reset resets it first).
        self._was_reset: weakref.WeakSet[gym.Env[Any, Any]] = weakref.WeakSet()

    def _take(self, env_id: str) -> gym.Env[Any, Any]:
        idle = self._idle.get(env_id)
        if idle:
            return idle.pop()
        return build_env(self._sources.get(env_id, env_id), self._env_kwargs)

    def _reset_env(self, env: gym.Env[Any, Any], seed: int) -> StepOut:
        start = time.perf_counter()
        obs, info = env.reset(seed=seed)
        elapsed = time.perf_counter() - start
        self._was_reset.add(env)
        text, image, messages = observation_parts(obs)
        return StepOut(text, self._info(info), 0.0, False, False, elapsed, image, messages)

    def release(self, slot: int) -> None:
        """Return the slot's env (if any) to the idle envs of its key."""
        previous = self._current.pop(slot, None)
        if previous is not None:
            self._idle.setdefault(previous[0], []).append(previous[1])

    def reset(self, slot: int, env_id: str, seed: int) -> StepOut:
        self.release(slot)
        ready = self._ready.get((env_id, seed))
        if ready:
            env, out = ready.popleft()
            if not ready:
                del self._ready[env_id, seed]
        else:
            env = self._take(env_id)
            out = self._reset_env(env, seed)
        self._current[slot] = (env_id, env, env.unwrapped)
        return out

    def prefetch(
        self,
        upcoming: Sequence[tuple[str, int]],
        stop: threading.Event,
        deadline: float | None = None,
    ) -> int:
        """Reset idle (or new) envs for the ``(env_id, seed)`` tasks in ``upcoming``, in
        order, until each has a prepared env, ``stop`` is set, or a reset (judged by the
        recent ones) would run past ``deadline`` (a ``time.perf_counter()`` value); returns
        how many were reset.

        A failing reset is left for :meth:`reset` to raise when the task's turn comes.
        """
        wanted: dict[tuple[str, int], int] = {}
        done = 0
        for key in upcoming:
            wanted[key] = wanted.get(key, 0) + 1
            ready = self._ready.get(key)
            if ready is not None and len(ready) >= wanted[key]:
                continue
            if stop.is_set() or (
                deadline is not None and time.perf_counter() + self._reset_s > deadline
            ):
                break
            env = self._take(key[0])
            try:
                out = self._reset_env(env, key[1])
            except Exception:
                with contextlib.suppress(Exception):
                    env.close()
                break
            self._reset_s += 0.25 * (out.env_s - self._reset_s)
            self._ready.setdefault(key, deque()).append((env, out))
            done += 1
        return done

    def step(self, slot: int, reply: Any) -> StepOut:
        env = self._current[slot][1]
        start = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(reply)
        elapsed = time.perf_counter() - start
        if type(obs) is str:  # the common case, without a call (one per env step)
            text, image, messages = obs, None, None
        else:
            text, image, messages = observation_parts(obs)
        return StepOut(
            text,
            self._info(info),
            float(reward),
            bool(terminated),
            bool(truncated),
            elapsed,
            image,
            messages,
        )

    def snapshot(self, slot: int, snap_id: int) -> None:
        """Keep the state of the slot's env (and its wrappers) as snapshot ``snap_id``."""
        self._snapshots[snap_id] = snapshot_env(self._current[slot][1])

    def restore(self, slot: int, env_id: str, seed: int, snap_id: int, release: bool) -> float:
        """Play snapshot ``snap_id`` in ``slot`` on an idle (or new) env of ``env_id``
        (one never reset is reset with ``seed`` first, so it is fully set up); with
        ``release`` the snapshot is dropped after. Returns the seconds it took."""
        start = time.perf_counter()
        self.release(slot)
        state = self._snapshots.pop(snap_id) if release else self._snapshots[snap_id]
        env = self._take(env_id)
        if env not in self._was_reset:
            env.reset(seed=seed)
            self._was_reset.add(env)
        restore_env(env, state)
        self._current[slot] = (env_id, env, env.unwrapped)
        return time.perf_counter() - start

    def drop_snapshot(self, slot: int, snap_id: int) -> None:
        """Forget snapshot ``snap_id`` (``slot`` only routes the call)."""
        self._snapshots.pop(snap_id, None)

    def call(self, slot: int, method: str, *args: Any) -> Any:
        """Call a method of the slot's unwrapped env (``oracle_action``, ``random_action``…)."""
        return getattr(self._current[slot][2], method)(*args)

    def call_with_rng(
        self, slot: int, method: str, rng: np.random.Generator
    ) -> tuple[Any, Mapping[str, Any]]:
        """``method(rng)`` (``random_action``, ``scripted_action``) plus the generator's new
        state (for remote callers, whose generator is a copy that must be advanced to
        match)."""
        reply = self.call(slot, method, rng)
        return reply, rng.bit_generator.state

    def unwrapped(self, slot: int) -> Any:
        return self._current[slot][2]

    def close(self) -> None:
        envs = [current[1] for current in self._current.values()]
        envs += [env for idle in self._idle.values() for env in idle]
        envs += [env for ready in self._ready.values() for env, _ in ready]
        self._current.clear()
        self._idle.clear()
        self._ready.clear()
        self._snapshots.clear()
        for env in envs:
            env.close()


#: One call in a batch: (slot, method name, positional arguments).
Call = tuple[int, str, tuple[Any, ...]]


class Pending(Protocol):
    """A batch started with :meth:`WorkerGroup.start`."""

    def result(self) -> list[Any]: ...


class _Done:
    def __init__(self, value: list[Any]) -> None:
        self._value = value

    def result(self) -> list[Any]:
        return self._value


class WorkerGroup(Protocol):
    """Runs batches of worker calls; results come back in call order."""

    local: bool

    def run(self, calls: Sequence[Call]) -> list[Any]: ...

    def start(self, calls: Sequence[Call]) -> Pending:
        """Start a batch that may run while the agent thinks (local groups run it on a
        background thread; remote groups run it at once, their pipes being in use)."""
        ...

    def prefetch(
        self,
        upcoming: Sequence[tuple[str, int]],
        stop: threading.Event,
        deadline: float | None = None,
    ) -> None:
        """Start resetting spare envs for these upcoming ``(env_id, seed)`` tasks, after the
        batches already started, until ``stop`` is set or ``deadline`` comes (see
        :meth:`EnvWorker.prefetch`; local groups only, remote ones ignore it)."""
        ...

    def env(self, slot: int) -> Any:
        """The slot's unwrapped env (local groups) or a proxy forwarding calls to it."""
        ...

    def close(self) -> None: ...


class _LocalGroup:
    local = True

    def __init__(
        self,
        env_kwargs: Mapping[str, Any],
        threads: int | None,
        sources: Mapping[str, EnvLike] | None = None,
        spare: Mapping[str, Sequence[gym.Env[Any, Any]]] | None = None,
    ) -> None:
        self._worker = EnvWorker(env_kwargs, plain=False, sources=sources, spare=spare)
        self._threads = threads or 1
        self._pool = ThreadPoolExecutor(threads) if threads else None
        self._background = ThreadPoolExecutor(1, thread_name_prefix="mtenvs-reset")

    def _chunk(self, calls: Sequence[Call]) -> list[Any]:
        worker = self._worker
        step = worker.step  # the hot call: one per env per round
        return [
            step(slot, *args) if method == "step" else getattr(worker, method)(slot, *args)
            for slot, method, args in calls
        ]

    def run(self, calls: Sequence[Call]) -> list[Any]:
        if self._pool is None or len(calls) <= 1:
            return self._chunk(calls)
        # One contiguous chunk per thread: a task per step cost more in hand-offs than the
        # step itself for fast envs (~3 ms a round at 64 envs).
        n = min(self._threads, len(calls))
        bounds = [len(calls) * i // n for i in range(n + 1)]
        chunks = [calls[bounds[i] : bounds[i + 1]] for i in range(n)]
        return [r for part in self._pool.map(self._chunk, chunks) for r in part]

    def start(self, calls: Sequence[Call]) -> Pending:
        return self._background.submit(self.run, list(calls))

    def prefetch(
        self,
        upcoming: Sequence[tuple[str, int]],
        stop: threading.Event,
        deadline: float | None = None,
    ) -> None:
        # Same background thread as start(): batches run in submission order, so a refill
        # started later finds the envs this prepared.
        self._background.submit(self._worker.prefetch, list(upcoming), stop, deadline)

    def env(self, slot: int) -> Any:
        return self._worker.unwrapped(slot)

    def close(self) -> None:
        self._background.shutdown(wait=True)
        self._worker.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class RemoteEnv:
    """Forwards the agent-facing env methods (``oracle_action``, ``random_action``,
    ``scripted_action``, ``privileged``) to the slot's env in a remote worker."""

    def __init__(self, group: WorkerGroup, slot: int) -> None:
        self._group, self._slot = group, slot

    def oracle_action(self) -> str:
        return self._group.run([(self._slot, "call", ("oracle_action",))])[0]

    def random_action(self, rng: np.random.Generator) -> str:
        return self._with_rng("random_action", rng)

    def scripted_action(self, rng: np.random.Generator) -> str:
        return self._with_rng("scripted_action", rng)

    def _with_rng(self, method: str, rng: np.random.Generator) -> str:
        # The generator travels to the worker and back so its state advances here too.
        call = (self._slot, "call_with_rng", (method, rng))
        reply, state = self._group.run([call])[0]
        rng.bit_generator.state = state
        return str(reply)

    def privileged(self) -> dict[str, Any]:
        return self._group.run([(self._slot, "call", ("privileged",))])[0]


def _answer(worker: EnvWorker, slot: int, method: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    """A remote worker's reply to one call: ``("ok", result)`` or ``("err", traceback)``."""
    try:
        return "ok", getattr(worker, method)(slot, *args)
    except Exception:
        return "err", traceback.format_exc()


def _results(calls: Sequence[Call], replies: Iterable[tuple[str, Any]], who: str) -> list[Any]:
    """The results of remote ``replies`` (see :func:`_answer`) in call order; the first
    failed call raises :class:`WorkerError` naming its slot, with the worker's traceback."""
    out = []
    for (slot, _, _), (status, result) in zip(calls, replies):
        if status == "err":
            raise WorkerError(f"{who} for slot {slot} failed:\n{result}")
        out.append(result)
    return out


#: A routed call: (worker index, call, whether its result is the caller's).
_Routed = tuple[int, Call, bool]


class _RemoteGroup(ABC):
    """What process and Ray groups share: every batch runs at once, nothing ahead, the
    agent reaches a slot's env through a :class:`RemoteEnv`, and each call goes to the
    worker the slot's episode lives in (see the module doc)."""

    local = False
    #: Who failed, in a :class:`WorkerError`.
    _who = "env worker"

    def __init__(self, workers: int) -> None:
        self._workers = workers
        #: Slots whose episode lives away from their home worker (branches).
        self._away: dict[int, int] = {}
        #: Snapshot id -> the worker keeping it.
        self._kept: dict[int, int] = {}

    def _route(self, calls: Sequence[Call]) -> list[_Routed]:
        routed: list[_Routed] = []
        for call in calls:
            slot, method, args = call
            home = slot % self._workers
            now = self._away.get(slot, home)
            if method == "restore":
                target = self._kept[args[2]]
                if args[3]:
                    del self._kept[args[2]]
            elif method == "drop_snapshot":
                target = self._kept.pop(args[0], now)
            elif method == "reset":
                target = home
            else:
                target = now
            if target != now:
                # The slot's env on the worker it leaves goes back to that worker's idle envs.
                routed.append((now, (slot, "release", ()), False))
            if target == home:
                self._away.pop(slot, None)
            else:
                self._away[slot] = target
            if method == "snapshot":
                self._kept[args[0]] = target
            routed.append((target, call, True))
        return routed

    def run(self, calls: Sequence[Call]) -> list[Any]:
        routed = self._route(calls)
        results = _results([call for _, call, _ in routed], self._exchange(routed), self._who)
        return [result for result, (_, _, mine) in zip(results, routed) if mine]

    @abstractmethod
    def _exchange(self, routed: Sequence[_Routed]) -> list[tuple[str, Any]]:
        """Run the routed calls (concurrently across workers, in order on each); their
        replies (see :func:`_answer`) in order."""

    @abstractmethod
    def close(self) -> None: ...

    def start(self, calls: Sequence[Call]) -> Pending:
        return _Done(self.run(calls))

    def prefetch(  # noqa: B027  (deliberately empty, not abstract)
        self,
        upcoming: Sequence[tuple[str, int]],
        stop: threading.Event,
        deadline: float | None = None,
    ) -> None:
        pass  # a remote worker answers one call at a time: nothing can run ahead

    def env(self, slot: int) -> Any:
        return RemoteEnv(self, slot)


def _load_sources(payload: bytes) -> dict[str, EnvLike]:
    import cloudpickle

    sources: dict[str, EnvLike] = cloudpickle.loads(payload)
    return sources


def _worker_main(conn: Any, env_kwargs: Mapping[str, Any], payload: bytes) -> None:
    worker = EnvWorker(env_kwargs, sources=_load_sources(payload))
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                break
            conn.send(_answer(worker, *msg))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        worker.close()


class _ProcessGroup(_RemoteGroup):
    def __init__(
        self, env_kwargs: Mapping[str, Any], workers: int, context: str | None, payload: bytes
    ) -> None:
        super().__init__(workers)
        ctx: Any = mp.get_context(context)
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main, args=(child, dict(env_kwargs), payload), daemon=True
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _exchange(self, routed: Sequence[_Routed]) -> list[tuple[str, Any]]:
        # Send everything first so workers run concurrently, then collect in call order.
        for worker, call, _ in routed:
            self._conns[worker].send(call)
        return [self._conns[worker].recv() for worker, _, _ in routed]

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


class _RayGroup(_RemoteGroup):
    """Env workers as Ray actors, on whatever cluster this process is connected to.

    An already initialised Ray (``ray.init(address=…)``) is used as it is; otherwise
    ``ray.init()`` connects to the cluster ``RAY_ADDRESS`` names, or else starts Ray on this
    machine. So the same ``rollout(..., executor="ray")`` runs on one machine or many.
    """

    _who = "Ray env worker"

    def __init__(self, env_kwargs: Mapping[str, Any], workers: int, payload: bytes) -> None:
        try:
            import ray
        except ImportError as e:
            raise Error('backend "ray" needs Ray: pip install "mtenvs[ray]".') from e
        if not ray.is_initialized():
            # No address: Ray reads RAY_ADDRESS itself (a cluster), else starts locally.
            ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        super().__init__(workers)
        self._ray = ray
        actor: Any = ray.remote(_RayWorker)
        self._actors: list[Any] = [
            actor.options(scheduling_strategy=strategy).remote(dict(env_kwargs), payload)
            for strategy in _placements(ray, workers)
        ]

    def node_ids(self) -> list[str]:
        """The Ray node id of each env worker, in worker order."""
        return list(self._ray.get([actor.node_id.remote() for actor in self._actors]))

    def _exchange(self, routed: Sequence[_Routed]) -> list[tuple[str, Any]]:
        # One actor call per worker and batch, its calls in order: a Ray call costs about a
        # millisecond, more than a cheap env's step (Sokoban: ~0.1 ms).
        batches: dict[int, list[Call]] = {}
        for worker, call, _ in routed:
            batches.setdefault(worker, []).append(call)
        futures = [self._actors[worker].run.remote(calls) for worker, calls in batches.items()]
        replies = {
            worker: iter(answers)
            for worker, answers in zip(batches, self._ray.get(futures), strict=True)
        }
        return [next(replies[worker]) for worker, _, _ in routed]

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)


def _placements(ray: Any, workers: int) -> list[Any]:
    """A Ray scheduling strategy per env worker: the cluster's nodes that have CPUs in
    turn, this process's node first (soft: a node that cannot take one lets Ray choose).

    Ray's default fills one node until half its CPUs look claimed (4 workers all landed
    on the head of a 2 x 8-CPU cluster), and ``"SPREAD"`` is best effort (3 on one node
    and 1 on the other, or 2 and 0 just after the cluster started); taking the nodes in
    turn is even and deterministic. On one machine every worker goes to it, as before.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        here = ray.get_runtime_context().get_node_id()
        alive = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")]
    except Exception:  # a connection that cannot list nodes (Ray Client, say)
        alive = []
    nodes = sorted((n["NodeID"] for n in alive), key=lambda node_id: (node_id != here, node_id))
    if not nodes:
        return ["SPREAD"] * workers
    return [
        NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True) for i in range(workers)
    ]


class _RayWorker:
    """The Ray actor: an :class:`EnvWorker` behind one ``run`` method."""

    def __init__(self, env_kwargs: Mapping[str, Any], payload: bytes) -> None:
        self._worker = EnvWorker(env_kwargs, sources=_load_sources(payload))

    def run(self, calls: Sequence[Call]) -> list[tuple[str, Any]]:
        """Answer ``calls`` in order (see :func:`_answer`)."""
        return [_answer(self._worker, slot, method, args) for slot, method, args in calls]

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on (its envs, sandboxes, browsers too)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


def make_worker_group(
    executor: Executor,
    num_envs: int,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    mp_context: str | None = None,
    sources: Mapping[str, EnvLike] | None = None,
    spare: Mapping[str, Sequence[gym.Env[Any, Any]]] | None = None,
) -> WorkerGroup:
    """Build the worker group for ``executor`` (see the module doc).

    ``sources`` maps the env keys of the calls to what builds their envs (ids, specs,
    factories; a key not in it is an id); ``process`` and ``ray`` send them cloudpickled,
    and a factory that cannot be pickled raises :class:`~mtenvs.error.InvalidArgumentError`
    naming it and the executor. ``spare`` envs (already built, per key) join an in-process
    worker's idle envs; remote groups close them.
    """
    check_choice("executor", executor, EXECUTORS)
    kwargs = dict(env_kwargs or {})
    if executor in ("sync", "thread"):
        threads = None if executor == "sync" else workers or min(num_envs, 64)
        return _LocalGroup(kwargs, threads, sources, spare)
    payload = pickle_sources(sources or {}, executor)
    for envs in (spare or {}).values():
        for env in envs:
            env.close()
    n = max(1, min(num_envs, workers or os.cpu_count() or 1))
    if executor == "process":
        return _ProcessGroup(kwargs, n, mp_context, payload)
    return _RayGroup(kwargs, n, payload)
