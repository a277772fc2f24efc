"""Evaluation runner: play episodes of envs with an agent and collect results.

Episodes run through the rollout engine (``mtenvs.rollout``), ``num_envs`` at a time.
An env is an id, a Gymnasium ``EnvSpec`` or a factory of a wrapped env (what ``rollout``
takes); ``wrappers`` wraps every env the same way (``mtenvs eval --wrapper``).
Seeds are ``seed, seed + 1, …``; envs with a fixed evaluation set (``eval_set=True``) map
seed ``i`` to the ``i``-th task of that set, which is how the reference scores in the docs
are computed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from mtenvs.agents.base import Agent
from mtenvs.core.args import constructor_arguments
from mtenvs.core.registry import env_class
from mtenvs.error import UnavailableError
from mtenvs.eval.journal import Journal
from mtenvs.rollout.engine import rollout
from mtenvs.rollout.records import Trajectory
from mtenvs.rollout.sources import EnvLike, WrappedEnv, env_source
from mtenvs.rollout.workers import Executor

#: A wrapper to apply around every evaluated env: a public name of :mod:`mtenvs.wrappers`
#: (or a wrapper class) and its constructor arguments.
WrapperArg = tuple[str | type[gym.Wrapper[Any, Any, Any, Any]], Mapping[str, Any]]

__all__ = ["EnvSummary", "EpisodeResult", "EvalRun", "agent_for", "episode_result", "evaluate"]


@dataclass(frozen=True)
class EpisodeResult:
    """The outcome of one episode."""

    env_id: str
    agent: str
    seed: int
    task_id: str
    success: bool
    episode_return: float
    turns: int
    truncated: bool
    format_errors: int
    components: dict[str, float]
    duration_s: float


@dataclass(frozen=True)
class EnvSummary:
    """Aggregate of the episodes of one (env, agent) pair."""

    env_id: str
    agent: str
    episodes: int
    success_rate: float
    success_stderr: float
    mean_return: float
    return_stderr: float
    mean_turns: float
    format_error_rate: float
    steps_per_s: float


@dataclass
class EvalRun:
    """All episodes of one evaluation, plus its configuration."""

    name: str
    config: dict[str, Any]
    episodes: list[EpisodeResult] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def summaries(self) -> list[EnvSummary]:
        """One :class:`EnvSummary` per (env, agent), in first-seen order."""
        groups: dict[tuple[str, str], list[EpisodeResult]] = {}
        for ep in self.episodes:
            groups.setdefault((ep.env_id, ep.agent), []).append(ep)
        out = []
        for (env_id, agent), eps in groups.items():
            succ = np.array([e.success for e in eps], dtype=float)
            rets = np.array([e.episode_return for e in eps], dtype=float)
            turns = sum(e.turns for e in eps)
            secs = sum(e.duration_s for e in eps)
            n = len(eps)
            out.append(
                EnvSummary(
                    env_id=env_id,
                    agent=agent,
                    episodes=n,
                    success_rate=float(succ.mean()),
                    success_stderr=float(succ.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
                    mean_return=float(rets.mean()),
                    return_stderr=float(rets.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
                    mean_turns=turns / n,
                    format_error_rate=sum(e.format_errors for e in eps) / max(turns, 1),
                    steps_per_s=turns / secs if secs > 0 else 0.0,
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created": self.created,
            "config": self.config,
            "summaries": [asdict(s) for s in self.summaries()],
            "episodes": [asdict(e) for e in self.episodes],
        }


def episode_result(traj: Trajectory) -> EpisodeResult:
    """Summarise a rollout :class:`Trajectory` as an :class:`EpisodeResult`."""
    components: dict[str, float] = {}
    for turn in traj.turns:
        for key, value in turn.reward_components.items():
            components[key] = components.get(key, 0.0) + value
    last = traj.turns[-1] if traj.turns else None
    return EpisodeResult(
        env_id=traj.env_id,
        agent=traj.agent,
        seed=traj.seed,
        task_id=traj.task_id,
        success=traj.success,
        episode_return=traj.episode_return,
        turns=len(traj.turns),
        truncated=bool(last and last.truncated and not last.terminated),
        format_errors=sum(t.parse_error is not None for t in traj.turns),
        components=components,
        duration_s=sum(t.agent_s + t.env_s for t in traj.turns),
    )


def accepts_argument(env_id: str, name: str) -> bool:
    """Whether the env class registered as ``env_id`` takes constructor argument ``name``."""
    return name in constructor_arguments(env_class(env_id))


#: The ``reason`` of a skipped env/agent pair whose agent has no policy for the env.
NO_POLICY = "no policy for this env"


def agent_for(agent: Agent, env_id: str) -> Agent | None:
    """The agent that plays ``env_id`` for ``agent``: per-env agents (scripted, trained)
    have ``for_env(env_id)``, which is ``None`` where they have no policy (and may say why
    with ``why_not(env_id)``, e.g. a retired trained agent)."""
    for_env = getattr(agent, "for_env", None)
    if for_env is None:
        return agent
    chosen: Agent | None = for_env(env_id)
    return chosen


def evaluate(
    env_ids: Sequence[EnvLike],
    agents: Sequence[Agent],
    episodes: int,
    *,
    seed: int = 0,
    eval_set: bool = True,
    env_kwargs: dict[str, Any] | None = None,
    name: str = "eval",
    on_episode: Callable[[EpisodeResult], None] | None = None,
    num_envs: int = 1,
    executor: Executor = "sync",
    reference_config: bool = False,
    wrappers: Sequence[WrapperArg] = (),
    journal: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> EvalRun:
    """Play ``episodes`` episodes of every env with every agent; see the module doc.

    Episodes run through :func:`mtenvs.rollout.rollout` with ``num_envs`` in flight. With
    ``reference_config`` each env plays its headline configuration (the first of its
    ``reference_configs``, which its trained reference agent was trained on) under
    ``env_kwargs``; ``run.config["env_configs"]`` records what each env was built with.
    Envs given by id or spec get these constructor arguments (and ``eval_set``); a factory
    builds its env itself. ``wrappers`` (``[("TryAgain", {"max_attempts": 3})]``, the first
    innermost) wrap every env; ``run.config["env_wrappers"]`` records each env's wrappers.
    ``journal`` (a path) records every finished episode as it finishes; with ``resume`` the
    episodes already in it are kept and only the missing seeds are played
    (:mod:`mtenvs.eval.journal`).
    """
    names = [env if isinstance(env, str) else env_source(env).name for env in env_ids]
    run = EvalRun(
        name=name,
        config={
            "envs": names,
            "agents": [a.name for a in agents],
            "episodes": episodes,
            "seed": seed,
            "eval_set": eval_set,
            "env_kwargs": env_kwargs or {},
            "num_envs": num_envs,
            "executor": executor,
            "reference_config": reference_config,
            "env_configs": {},
            "env_wrappers": {},
        },
    )
    log = None
    if journal is not None:
        settings = {
            "eval_set": eval_set,
            "env_kwargs": env_kwargs or {},
            "reference_config": reference_config,
            "wrappers": [(getattr(w, "__name__", w), dict(a)) for w, a in wrappers],
        }
        log = Journal(journal, settings)
        if resume:
            log.load()
        log.start(resume=resume)
    try:
        _play(
            run,
            env_ids,
            names,
            agents,
            episodes,
            seed,
            eval_set,
            env_kwargs,
            on_episode,
            num_envs,
            executor,
            reference_config,
            wrappers,
            log,
        )
    finally:
        if log is not None:
            log.close()
    return run


def _play(
    run: EvalRun,
    env_ids: Sequence[EnvLike],
    names: Sequence[str],
    agents: Sequence[Agent],
    episodes: int,
    seed: int,
    eval_set: bool,
    env_kwargs: dict[str, Any] | None,
    on_episode: Callable[[EpisodeResult], None] | None,
    num_envs: int,
    executor: Executor,
    reference_config: bool,
    wrappers: Sequence[WrapperArg],
    log: Journal | None,
) -> None:
    for env, env_id in zip(env_ids, names):
        by_id = isinstance(env, (str, EnvSpec)) and env_id in gym.registry
        kwargs: dict[str, Any] = {}
        if by_id and reference_config:
            kwargs.update(env_class(env_id).reference_configs[0])
        kwargs.update(env_kwargs or {})
        if by_id and eval_set and accepts_argument(env_id, "eval_set"):
            kwargs.setdefault("eval_set", True)
        run.config["env_configs"][env_id] = dict(kwargs)
        source: EnvLike = env
        rollout_kwargs: dict[str, Any] | None = kwargs
        registered, applied = by_id, []
        if wrappers or not isinstance(env, str):
            if wrappers:
                source, rollout_kwargs = WrappedEnv(env, tuple(wrappers), kwargs), None
            described = env_source(source, rollout_kwargs)
            registered, applied = described.registered, list(described.wrappers)
        run.config["env_wrappers"][env_id] = applied
        for agent in agents:
            playing = agent_for(agent, env_id) if registered else agent
            if playing is None:
                why_not = getattr(agent, "why_not", None)
                reason = (why_not(env_id) if why_not is not None else None) or NO_POLICY
                run.config.setdefault("skipped", []).append(
                    {"env_id": env_id, "agent": agent.name, "reason": reason}
                )
                continue
            played = log.played(env_id, agent.name) if log is not None else {}
            seeds = range(seed, seed + episodes)
            results = [EpisodeResult(**played[s]) for s in seeds if s in played]
            if on_episode is not None:
                for result in results:
                    on_episode(result)
            record = log.recorder(env_id) if log is not None else None
            todo = [s for s in seeds if s not in played]
            common: dict[str, Any] = {
                "num_envs": num_envs,
                "env_kwargs": rollout_kwargs,
                "executor": executor,
            }
            plays: Iterable[Trajectory] = ()
            if len(todo) == episodes:
                plays = rollout(source, playing, episodes, seed=seed, **common)
            elif todo:  # resumed: only the seeds the journal does not have
                plays = rollout(None, playing, tasks=[(source, s) for s in todo], **common)
            try:
                for traj in plays:
                    results.append(episode_result(traj))
                    if record is not None:
                        record(results[-1])
                    if on_episode is not None:
                        on_episode(results[-1])
            except UnavailableError as e:  # a missing browser, engine, server: play the rest
                run.config.setdefault("skipped", []).append(
                    {"env_id": env_id, "agent": agent.name, "reason": str(e)}
                )
                continue
            run.episodes.extend(sorted(results, key=lambda r: r.seed))
