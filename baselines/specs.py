"""What each trained reference agent is trained on, and at which scale."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mtenvs.agents.trained import weights_dir_name

__all__ = ["SCALES", "SPECS", "BaselineSpec", "Scale", "slug"]

#: Seeds at or above this are training tasks for envs whose eval episodes use seeds
#: ``0 … N-1`` (the games: they have no separate eval split).
TRAIN_SEED_BASE = 1_000_000


@dataclass(frozen=True)
class Scale:
    """How much data and compute one training run uses."""

    name: str
    #: Oracle episodes collected for behaviour cloning.
    bc_episodes: int
    bc_steps: int
    batch_size: int
    #: RL iterations, tasks per iteration and rollouts per task (the GRPO group size).
    rl_iterations: int
    rl_tasks: int
    rl_group: int
    #: Episodes per agent in the final evaluation and in each learning-curve point.
    eval_episodes: int
    curve_episodes: int
    curve_every: int
    #: Multiplier of the spec's model width (the GPU scale trains a wider model).
    width: float


SCALES: dict[str, Scale] = {
    # CI: proves the pipeline end to end in seconds; the weights mean nothing.
    "smoke": Scale("smoke", 8, 6, 8, 1, 2, 2, 4, 4, 3, 1 / 3),
    # What the published weights were trained with on a 2-core CPU (no GPU was lent).
    "cpu": Scale("cpu", 600, 300, 32, 4, 8, 4, 200, 20, 100, 1.0),
    # The scale meant for a GPU: a 4x wider model, more data, steps and RL iterations.
    "gpu": Scale("gpu", 4000, 4000, 128, 60, 32, 8, 200, 100, 500, 3.0),
}


@dataclass(frozen=True)
class BaselineSpec:
    """One trained reference agent."""

    env_id: str
    #: Constructor arguments for training and evaluation (the env card's reference config).
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: Whether the env has a held-out eval set (``eval_set=True``); else eval seeds are 0…N-1
    #: and training seeds start at ``TRAIN_SEED_BASE``.
    has_eval_set: bool = True
    #: Model size.
    hidden_size: int = 96
    num_layers: int = 3
    num_heads: int = 4
    #: Reply tokens generated at most per turn.
    max_new_tokens: int = 16
    #: Evaluation episodes multiplier (high-variance games need more).
    eval_multiplier: int = 1
    #: Multipliers of the scale's BC steps and BC episodes (envs that need longer training).
    bc_multiplier: int = 1
    #: Size of the fixed eval set (every task played once); ``None``: seeds 0…N-1.
    eval_set_size: int | None = None

    def eval_episodes(self, scale: Scale) -> int:
        """Episodes per agent in the final evaluation."""
        if self.eval_set_size is not None:
            return self.eval_set_size
        return scale.eval_episodes * self.eval_multiplier

    @property
    def name(self) -> str:
        return slug(self.env_id)

    def with_kwargs(self, **kwargs: Any) -> BaselineSpec:
        return replace(self, env_kwargs={**self.env_kwargs, **kwargs})

    def scaled(self, scale: Scale) -> Scale:
        """``scale`` with this env's BC multiplier applied."""
        k = self.bc_multiplier
        return replace(
            scale,
            bc_steps=scale.bc_steps * k,
            bc_episodes=scale.bc_episodes * k,
            curve_every=scale.curve_every * k,
        )


def slug(env_id: str) -> str:
    """``mtenvs/Sokoban-v0`` → ``sokoban-v0``: the weights' directory name, as
    :class:`mtenvs.agents.TrainedAgent` looks it up."""
    return weights_dir_name(env_id)


SPECS: dict[str, BaselineSpec] = {
    s.env_id: s
    for s in (
        BaselineSpec("mtenvs/Sokoban-v0", {"difficulty": "easy"}, eval_set_size=50),
        BaselineSpec("mtenvs/Maze-v0", {"difficulty": "easy"}, eval_set_size=50, bc_multiplier=4),
        BaselineSpec(
            "mtenvs/TicTacToe-v0", {"opponent": "random"}, has_eval_set=False, bc_multiplier=4
        ),
        BaselineSpec("mtenvs/ConnectFour-v0", {"opponent": "heuristic"}, has_eval_set=False),
        BaselineSpec(
            "mtenvs/KuhnPoker-v0", {"opponent": "heuristic"}, has_eval_set=False, eval_multiplier=5
        ),
        BaselineSpec("mtenvs/RuleInduction-v0", {}, max_new_tokens=48, eval_set_size=40),
    )
}
