"""Any env through the rollout engine: ids, specs and factories of wrapped envs."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import gymnasium as gym
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import AgentInput, OracleAgent, RandomAgent
from mtenvs.error import InvalidArgumentError, UnknownEnvError
from mtenvs.rollout import Trajectory, WrappedEnv, env_source, rollout
from mtenvs.rollout.sources import resolve_wrapper, wrapper_names
from mtenvs.wrappers import TryAgain, TurnLimit


class WrongAnswers:
    """A stand-in policy that always gives the same wrong final answer."""

    name = "wrong"

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return ["<answer>-123456789</answer>" for _ in batch]


def try_again_math() -> gym.Env:
    """A module-level factory: pickled by reference."""
    return TryAgain(gym.make("mtenvs/PythonMath-v0"), max_attempts=3)


def _key(traj: Trajectory):
    return (
        traj.env_id,
        traj.seed,
        traj.task_id,
        traj.wrappers,
        [(t.observation, t.reply, t.reward, t.info) for t in traj.turns],
        traj.final_info,
    )


@pytest.mark.parametrize("executor", ["sync", "thread", "process"])
def test_a_try_again_factory_plays_with_every_executor(executor):
    factory = lambda: TryAgain(gym.make("mtenvs/PythonMath-v0"), max_attempts=3)  # noqa: E731
    trajs = list(rollout(factory, WrongAnswers(), 2, num_envs=2, executor=executor, workers=2))
    assert len(trajs) == 2
    for traj in trajs:
        assert traj.env_id == "mtenvs/PythonMath-v0"
        assert traj.wrappers == [
            'TryAgain(max_attempts=3, decay=0.5, feedback="Let\'s try again.")'
        ]
        # Three wrong answers: two retries, then the episode ends; the wrapper's info
        # keys are kept per turn and in final_info.
        assert [t.info["attempt"] for t in traj.turns] == [1, 2, 3]
        assert [t.info["retried"] for t in traj.turns] == [True, True, False]
        assert traj.turns[1].observation == "Let's try again."
        assert traj.final_info["attempt"] == 3 and not traj.success
    if executor != "sync":
        reference = list(rollout(factory, WrongAnswers(), 2, num_envs=2, executor="sync"))
        assert sorted(map(_key, trajs)) == sorted(map(_key, reference))


def test_ids_specs_and_factories_of_one_env_play_the_same_episodes():
    kwargs = {"max_turns": 4}
    by_id = list(rollout("mtenvs/Maze-v0", RandomAgent(seed=3), 4, env_kwargs=kwargs, seed=5))
    by_spec = list(
        rollout(gym.spec("mtenvs/Maze-v0"), RandomAgent(seed=3), 4, env_kwargs=kwargs, seed=5)
    )
    factory = lambda: gym.make("mtenvs/Maze-v0", **kwargs)  # noqa: E731
    by_factory = list(rollout(factory, RandomAgent(seed=3), 4, seed=5))
    assert [_key(t) for t in by_spec] == [_key(t) for t in by_id]
    assert [_key(t) for t in by_factory] == [_key(t) for t in by_id]
    # The spec of a wrapped env carries its wrappers: gym.make(spec) applies them again.
    wrapped = TurnLimit(gym.make("mtenvs/Maze-v0"), 2)
    (traj,) = rollout(wrapped.spec, RandomAgent(seed=1), 1)
    assert traj.wrappers == ["TurnLimit(max_turns=2, remind=False)"] and len(traj.turns) == 2
    assert traj.turns[-1].info["turn_limit_reached"] and traj.final_info["turn_limit_reached"]


def test_a_mix_of_sources_and_tasks_with_factories():
    limited = WrappedEnv("mtenvs/Maze-v0", (("TurnLimit", {"max_turns": 2}),))
    trajs = list(
        rollout(
            None,
            RandomAgent(seed=2),
            tasks=[(limited, 7), ("mtenvs/Maze-v0", 7, 1), (try_again_math, 0, 1)],
            env_kwargs=None,
            num_envs=4,
        )
    )
    by_group = {t.group: t for t in trajs}
    assert by_group[0].env_id == by_group[1].env_id == "mtenvs/Maze-v0"
    assert by_group[0].task_id == by_group[1].task_id
    assert by_group[0].wrappers == ["TurnLimit(max_turns=2, remind=False)"]
    assert by_group[1].wrappers == [] and len(by_group[0].turns) <= 2
    assert by_group[2].env_id == "mtenvs/PythonMath-v0"


def test_env_facts_are_read_through_the_wrapper_stack():
    # A factory under the mtenvs namespace used to fail with AttributeError: io_bound.
    math = env_source(lambda: TurnLimit(TryAgain(gym.make("mtenvs/PythonMath-v0")), 5))
    assert math.io_bound and math.has_oracle and math.registered
    assert math.name == "mtenvs/PythonMath-v0"
    assert [w.split("(")[0] for w in math.wrappers] == ["TryAgain", "TurnLimit"]
    maze = env_source("mtenvs/Maze-v0")
    assert not maze.io_bound and maze.wrappers == () and not maze.is_factory

    class Remote(gym.Wrapper):
        io_bound = True  # a wrapper that moves the env elsewhere: its steps wait on I/O

    assert env_source(lambda: Remote(gym.make("mtenvs/Maze-v0"))).io_bound
    assert wrapper_names(Remote(gym.make("mtenvs/Maze-v0"))) == ("Remote()",)
    # An oracle agent plays through the wrappers (it reaches the unwrapped env).
    (traj,) = rollout(lambda: TurnLimit(gym.make("mtenvs/Maze-v0"), 60), OracleAgent(), 1)
    assert traj.success


@pytest.mark.parametrize(
    "executor", ["process", pytest.param("ray", marks=pytest.mark.xdist_group("ray"))]
)
def test_a_factory_that_cannot_be_sent_names_the_executor(executor):
    lock = threading.Lock()

    def holds_a_lock() -> gym.Env:
        with lock:
            return gym.make("mtenvs/Maze-v0")

    with pytest.raises(InvalidArgumentError, match=f"executor='{executor}'.*cannot pickle"):
        list(rollout(holds_a_lock, RandomAgent(), 1, executor=executor))


@pytest.mark.parametrize(
    ("env", "kwargs", "error", "message"),
    [
        (42, {}, InvalidArgumentError, "Not an env: 42"),
        ("mtenvs/Maze-v9", {}, UnknownEnvError, "Did you mean"),
        (lambda: "maze", {}, InvalidArgumentError, "not a gymnasium.Env"),
        (
            lambda: gym.make("mtenvs/Maze-v0"),
            {"env_kwargs": {"max_turns": 3}},
            InvalidArgumentError,
            "is a factory",
        ),
    ],
)
def test_bad_envs_name_the_problem(env, kwargs, error, message):
    with pytest.raises(error, match=message):
        list(rollout(env, RandomAgent(), 1, **kwargs))


def test_wrapped_env_resolves_public_wrapper_names():
    assert resolve_wrapper("TryAgain") is TryAgain
    with pytest.raises(InvalidArgumentError, match=r"choose one of ChatHistory.*TryAgain"):
        resolve_wrapper("TryAgian")
    with pytest.raises(InvalidArgumentError, match="Did you mean 'TryAgain'"):
        WrappedEnv("mtenvs/Maze-v0", (("TryAgian", {}),))
    with pytest.raises(InvalidArgumentError, match="Did you mean 'max_turns'"):
        WrappedEnv("mtenvs/Maze-v0", (("TurnLimit", {"max_turn": 2}),))
    env = WrappedEnv("mtenvs/Maze-v0", (("TurnLimit", {"max_turns": 2}),), {"max_turns": 9})()
    assert isinstance(env, TurnLimit) and env.unwrapped.max_turns == 9
