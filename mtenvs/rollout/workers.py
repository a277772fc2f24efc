"""Env workers: who owns the env instances and runs their resets and steps.

:class:`EnvWorker` owns the envs of some rollout slots. The engine talks to workers through
a :class:`WorkerGroup`, which runs a batch of calls concurrently:

* ``sync``: one worker in this thread, calls one after another (debugging, tiny envs);
* ``thread``: one worker in this process, calls on a thread pool (I/O-bound envs: sandboxes,
  browsers, databases — the GIL is released while they wait);
* ``process``: workers in subprocesses, slots spread over them (CPU-bound envs);
* ``ray``: workers as Ray actors, on one machine or a cluster.

Every call returns plain picklable data, so all four give identical results.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np

from mtenvs.error import Error, check_choice

__all__ = ["EXECUTORS", "EnvWorker", "Executor", "StepOut", "WorkerGroup", "make_worker_group"]

Executor = Literal["auto", "sync", "thread", "process", "ray"]
EXECUTORS: tuple[str, ...] = ("auto", "sync", "thread", "process", "ray")


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


def obs_text(obs: object) -> str:
    """The text part of an observation (``str`` or ``{"text": …, "image": …}``)."""
    if isinstance(obs, dict):
        return str(obs.get("text", ""))
    return str(obs)


@dataclass(frozen=True)
class StepOut:
    """A reset or step result in plain data."""

    observation: str
    info: dict[str, Any]
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    env_s: float = 0.0


class EnvWorker:
    """Owns one env per (slot, env id); created lazily, reused across episodes.

    ``plain=True`` (workers in other processes or Ray actors) turns infos into JSON types
    before they travel; in-process workers skip that (it cost ~11 µs a step).
    """

    def __init__(self, env_kwargs: Mapping[str, Any] | None = None, *, plain: bool = True) -> None:
        self._env_kwargs = dict(env_kwargs or {})
        self._info = jsonable if plain else dict
        self._envs: dict[tuple[int, str], gym.Env[Any, Any]] = {}
        self._current: dict[int, gym.Env[Any, Any]] = {}

    def reset(self, slot: int, env_id: str, seed: int) -> StepOut:
        key = (slot, env_id)
        if key not in self._envs:
            import mtenvs  # noqa: F401  (registers ids in a fresh worker process)

            self._envs[key] = gym.make(env_id, **self._env_kwargs)
        env = self._envs[key]
        self._current[slot] = env
        start = time.perf_counter()
        obs, info = env.reset(seed=seed)
        return StepOut(obs_text(obs), self._info(info), env_s=time.perf_counter() - start)

    def step(self, slot: int, reply: Any) -> StepOut:
        env = self._current[slot]
        start = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(reply)
        elapsed = time.perf_counter() - start
        return StepOut(
            obs_text(obs),
            self._info(info),
            float(reward),
            bool(terminated),
            bool(truncated),
            elapsed,
        )

    def call(self, slot: int, method: str, *args: Any) -> Any:
        """Call a method of the slot's unwrapped env (``oracle_action``, ``random_action``…)."""
        return getattr(self._current[slot].unwrapped, method)(*args)

    def random_action_with_state(self, slot: int, rng: np.random.Generator) -> tuple[str, Any]:
        """``random_action(rng)`` plus the generator's new state (for remote callers, whose
        generator is a copy that must be advanced to match)."""
        reply = self.call(slot, "random_action", rng)
        return reply, rng.bit_generator.state

    def unwrapped(self, slot: int) -> Any:
        return self._current[slot].unwrapped

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()
        self._current.clear()


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

    def env(self, slot: int) -> Any:
        """The slot's unwrapped env (local groups) or a proxy forwarding calls to it."""
        ...

    def close(self) -> None: ...


class _LocalGroup:
    local = True

    def __init__(self, env_kwargs: Mapping[str, Any], threads: int | None) -> None:
        self._worker = EnvWorker(env_kwargs, plain=False)
        self._threads = threads or 1
        self._pool = ThreadPoolExecutor(threads) if threads else None
        self._background = ThreadPoolExecutor(1, thread_name_prefix="mtenvs-reset")

    def _one(self, call: Call) -> Any:
        slot, method, args = call
        return getattr(self._worker, method)(slot, *args)

    def _chunk(self, calls: Sequence[Call]) -> list[Any]:
        return [self._one(c) for c in calls]

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

    def env(self, slot: int) -> Any:
        return self._worker.unwrapped(slot)

    def close(self) -> None:
        self._background.shutdown(wait=True)
        self._worker.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class RemoteEnv:
    """Forwards the privileged-agent methods to the slot's env in a remote worker."""

    def __init__(self, group: WorkerGroup, slot: int) -> None:
        self._group, self._slot = group, slot

    def oracle_action(self) -> str:
        return self._group.run([(self._slot, "call", ("oracle_action",))])[0]

    def random_action(self, rng: np.random.Generator) -> str:
        # The generator travels to the worker and back so its state advances here too.
        reply, state = self._group.run([(self._slot, "random_action_with_state", (rng,))])[0]
        rng.bit_generator.state = state
        return reply

    def privileged(self) -> dict[str, Any]:
        return self._group.run([(self._slot, "call", ("privileged",))])[0]


def _worker_main(conn: Any, env_kwargs: Mapping[str, Any]) -> None:
    worker = EnvWorker(env_kwargs)
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                break
            slot, method, args = msg
            try:
                conn.send(("ok", getattr(worker, method)(slot, *args)))
            except Exception:
                conn.send(("err", traceback.format_exc()))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        worker.close()


class _ProcessGroup:
    local = False

    def __init__(self, env_kwargs: Mapping[str, Any], workers: int, context: str | None) -> None:
        ctx: Any = mp.get_context(context)
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, dict(env_kwargs)), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def run(self, calls: Sequence[Call]) -> list[Any]:
        # Send everything first so workers run concurrently, then collect in call order.
        for slot, method, args in calls:
            self._conns[slot % len(self._conns)].send((slot, method, args))
        out = []
        for slot, _, _ in calls:
            status, result = self._conns[slot % len(self._conns)].recv()
            if status == "err":
                raise WorkerError(f"env worker for slot {slot} failed:\n{result}")
            out.append(result)
        return out

    def start(self, calls: Sequence[Call]) -> Pending:
        return _Done(self.run(calls))

    def env(self, slot: int) -> Any:
        return RemoteEnv(self, slot)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


class _RayGroup:
    local = False

    def __init__(self, env_kwargs: Mapping[str, Any], workers: int) -> None:
        try:
            import ray
        except ImportError as e:
            raise Error('backend "ray" needs Ray: pip install "mtenvs[ray]".') from e
        if not ray.is_initialized():
            ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        self._ray = ray
        actor: Any = ray.remote(_RayWorker)
        self._actors: list[Any] = [actor.remote(dict(env_kwargs)) for _ in range(workers)]

    def run(self, calls: Sequence[Call]) -> list[Any]:
        futures = [
            self._actors[slot % len(self._actors)].run.remote(slot, method, args)
            for slot, method, args in calls
        ]
        out = []
        for slot, (status, result) in zip((c[0] for c in calls), self._ray.get(futures)):
            if status == "err":
                raise WorkerError(f"Ray env worker for slot {slot} failed:\n{result}")
            out.append(result)
        return out

    def start(self, calls: Sequence[Call]) -> Pending:
        return _Done(self.run(calls))

    def env(self, slot: int) -> Any:
        return RemoteEnv(self, slot)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)


class _RayWorker:
    """The Ray actor: an :class:`EnvWorker` behind one ``run`` method."""

    def __init__(self, env_kwargs: Mapping[str, Any]) -> None:
        self._worker = EnvWorker(env_kwargs)

    def run(self, slot: int, method: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        try:
            return "ok", getattr(self._worker, method)(slot, *args)
        except Exception:
            return "err", traceback.format_exc()


def make_worker_group(
    executor: str,
    num_envs: int,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    mp_context: str | None = None,
) -> WorkerGroup:
    """Build the worker group for ``executor`` (see the module doc)."""
    check_choice("executor", executor, EXECUTORS)
    kwargs = dict(env_kwargs or {})
    if executor == "sync":
        return _LocalGroup(kwargs, threads=None)
    if executor == "thread":
        return _LocalGroup(kwargs, threads=workers or min(num_envs, 64))
    n = max(1, min(num_envs, workers or os.cpu_count() or 1))
    if executor == "process":
        return _ProcessGroup(kwargs, n, mp_context)
    return _RayGroup(kwargs, n)
