"""The evaluation runner takes any env: ids, specs, factories of wrapped envs, and wrappers
applied around every env."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.agents import AgentInput, OracleAgent, RandomAgent
from mtenvs.eval import evaluate
from mtenvs.wrappers import TryAgain, TurnLimit


class WrongAnswers:
    """A stand-in policy that always gives the same wrong final answer."""

    name = "wrong"

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        return ["<answer>-123456789</answer>" for _ in batch]


def test_factories_and_specs_are_evaluated_under_their_registered_name():
    run = evaluate(
        [lambda: TryAgain(gym.make("mtenvs/PythonMath-v0"), 2), gym.spec("mtenvs/Maze-v0")],
        [WrongAnswers()],
        2,
        eval_set=False,
    )
    assert run.config["envs"] == ["mtenvs/PythonMath-v0", "mtenvs/Maze-v0"]
    assert run.config["env_wrappers"]["mtenvs/PythonMath-v0"] == [
        'TryAgain(max_attempts=2, decay=0.5, feedback="Let\'s try again.")'
    ]
    math = [e for e in run.episodes if e.env_id == "mtenvs/PythonMath-v0"]
    assert len(math) == 2 and all(e.turns == 2 for e in math)  # one retry each


def test_wrappers_wrap_every_env_and_per_env_agents_still_choose():
    run = evaluate(
        ["mtenvs/Maze-v0", "mtenvs/Sokoban-v0"],
        [OracleAgent(), RandomAgent(seed=0)],
        2,
        wrappers=[(TurnLimit, {"max_turns": 3})],
        env_kwargs={"difficulty": "easy"},
    )
    assert run.config["env_wrappers"] == {
        "mtenvs/Maze-v0": ["TurnLimit(max_turns=3, remind=False)"],
        "mtenvs/Sokoban-v0": ["TurnLimit(max_turns=3, remind=False)"],
    }
    assert run.config["env_configs"]["mtenvs/Maze-v0"]["difficulty"] == "easy"
    assert len(run.episodes) == 8 and all(e.turns <= 3 for e in run.episodes)
    # The oracle plays through the wrapper (and is cut by it on longer tasks).
    assert {e.agent for e in run.episodes} == {"oracle", "random"}
