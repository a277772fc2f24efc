"""Branch rollouts: from chosen turns of an episode, play ``n`` more continuations.

``rollout(..., branch=Branching(turns=[2, 5], n=4))`` plays every episode as usual and, when
one reaches turn 2 (two replies made, the agent about to answer the third observation),
snapshots its env and queues 4 branches that continue from that state; the same at turn 5.
The parent goes on too, so a branch point has ``n + 1`` continuations: TRACE / ARPO-style
partial rollouts from chosen steps, or tree-search credit (the value of a state is the mean
return of its continuations). ``turns`` may also be a rule
``(trajectory, turn, info) -> bool``, asked at each turn with the trajectory so far (its
first ``turn`` turns) and the info of the state reached (e.g. branch where the state has
not been seen, or at high-entropy tool calls).

Records: every trajectory has a stable ``Trajectory.id`` (``"7"``: the 8th episode
started; ``"7/2.1"``: its branch 1 from turn 2; ``"7/2.1/5.0"``: a branch of that branch),
a branch has ``parent`` (the id it branched from) and ``branch_turn``. A branch's ``turns``
start with the parent's first ``branch_turn`` :class:`~mtenvs.rollout.records.Turn` s (the
same objects, shared, not copied; JSONL writes them in full on each line), then its own
(``Trajectory.own_turns``); so ``returns()`` and ``episode_return`` are the branch's
whole-episode values and ``returns()[branch_turn]`` is its return from the branch point.
:func:`branch_groups` gathers the ``n + 1`` continuations of each branch point.

State: the worker that owns the parent's env takes the snapshot and keeps it (it never
travels, so snapshots of sandboxes and browsers need not pickle); a branch is played by
that worker (process and Ray executors move the branch's slot there). A snapshot is the
unwrapped env's :meth:`~mtenvs.core.env.MultiTurnEnv.snapshot` (the env's RNG included, so
the env behaves alike in every branch; only the agent's replies differ) plus each
wrapper's episode state: its underscore attributes (``TryAgain``'s attempt,
``ChatHistory``'s transcript, ``TurnLimit``'s count), deep-copied. A branch restores into
another env instance of the same source.

Agent randomness: the agent is not reseeded; a branch is its own row of every batch, so a
sampling agent (``RandomAgent``, a model with ``temperature > 0``) draws afresh for each
branch, and a greedy one makes ``n`` identical continuations. The schedule (branch jobs go
to the front of the queue, in order) is the engine's, so the same seeds, agent replies and
branch points give the same trajectories on every executor.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker

from mtenvs.core.env import StepInfo
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory

__all__ = [
    "BranchRule",
    "Branching",
    "BranchingError",
    "EnvState",
    "branch_groups",
    "check_branchable",
    "restore_env",
    "snapshot_env",
]

#: A branch rule: ``rule(trajectory, turn, info)`` is asked at each turn an episode
#: reaches, with the trajectory so far (``turn`` turns) and the info of the state reached.
BranchRule = Callable[[Trajectory, int, StepInfo], bool]


class BranchingError(InvalidArgumentError):
    """An env that cannot branch was asked to (it has no ``snapshot`` / ``restore``)."""


@dataclass(frozen=True)
class Branching:
    """Where and how much ``rollout`` branches (see the module doc).

    Args:
        turns: The turns to branch at (``0``: from the first observation), or a
            :data:`BranchRule` asked at every turn.
        n: Branches per branch point (the parent continues too: ``n + 1`` continuations).
        depth: How deep branches branch again: ``1`` branches the episodes only; ``2``
            lets their branches branch at later turns too (a tree), and so on.
    """

    turns: Sequence[int] | BranchRule
    n: int = 4
    depth: int = 1

    def __post_init__(self) -> None:
        check_int_range("Branching.n", self.n, 1)
        check_int_range("Branching.depth", self.depth, 1)
        if callable(self.turns):
            return
        turns = self.turns
        if isinstance(turns, (str, bytes)) or not isinstance(turns, Iterable):
            raise InvalidArgumentError(
                f"Branching.turns is {turns!r}; give a list of turn numbers (e.g. [2, 5]) "
                "or a rule (trajectory, turn, info) -> bool."
            )
        turns = tuple(turns)
        for t in turns:
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                raise InvalidArgumentError(
                    f"Branching.turns holds {t!r}; turns are ints >= 0 (0: branch from the "
                    "first observation), e.g. turns=[2, 5]."
                )
        object.__setattr__(self, "turns", tuple(sorted(set(turns))))

    def wants(self, traj: Trajectory, turn: int, info: StepInfo, depth: int) -> bool:
        """Whether an episode at ``turn`` (branched ``depth`` times so far) branches."""
        if depth >= self.depth:
            return False
        if callable(self.turns):
            return bool(self.turns(traj, turn, info))
        return turn in self.turns


def branch_groups(trajectories: Iterable[Trajectory]) -> dict[tuple[str, int], list[Trajectory]]:
    """The continuations of each branch point: ``(parent id, branch turn)`` -> the parent
    then its branches from that turn (in id order). Their returns from the branch turn,
    ``t.returns()[turn]``, are ``n + 1`` samples of the value of that state."""
    by_id: dict[str, Trajectory] = {}
    branches: dict[tuple[str, int], list[Trajectory]] = {}
    for traj in trajectories:
        by_id[traj.id] = traj
        if traj.parent is not None and traj.branch_turn is not None:
            branches.setdefault((traj.parent, traj.branch_turn), []).append(traj)
    groups = {}
    for key, members in branches.items():
        parent = by_id.get(key[0])
        members.sort(key=lambda t: t.id)
        groups[key] = members if parent is None else [parent, *members]
    return groups


# --------------------------------------------------------------------- env state (workers)

#: Attributes every Gymnasium wrapper has that describe it, not the episode.
_WRAPPER_FIXED = frozenset(
    {
        "_action_space",
        "_observation_space",
        "_metadata",
        "_cached_spec",
        "_saved_kwargs",
        "_reward_range",
    }
)


@dataclass(frozen=True)
class EnvState:
    """A snapshot of a (wrapped) env: each wrapper's episode state, outermost first, and
    the unwrapped env's snapshot. Kept in the worker that took it."""

    wrappers: tuple[tuple[str, dict[str, Any]], ...]
    env: Any


#: Wrappers ``gym.make`` adds: they check the env, their state is not the episode's (a
#: restored env was reset, so they are in step with it).
_CHECKERS: tuple[type, ...] = (OrderEnforcing, PassiveEnvChecker)


def _wrapper_state(wrapper: gym.Wrapper[Any, Any, Any, Any]) -> dict[str, Any]:
    if isinstance(wrapper, _CHECKERS):
        return {}
    return {
        name: value
        for name, value in vars(wrapper).items()
        if name.startswith("_") and not name.startswith("__") and name not in _WRAPPER_FIXED
    }


def check_branchable(env: gym.Env[Any, Any], name: str) -> None:
    """Raise :class:`BranchingError` unless ``env``'s unwrapped env can snapshot and
    restore itself."""
    inner = env.unwrapped
    if not (
        callable(getattr(inner, "snapshot", None)) and callable(getattr(inner, "restore", None))
    ):
        raise BranchingError(
            f"{name} cannot branch: its env {type(inner).__name__} has no snapshot() / "
            "restore(). Branching needs an env that can copy its episode state (every "
            "mtenvs env, a MultiTurnEnv, can); roll it out without branch=, or give the "
            "env snapshot() and restore(snapshot) methods."
        )


def snapshot_env(env: gym.Env[Any, Any]) -> EnvState:
    """The state of ``env`` and its wrappers (see the module doc)."""
    layers = []
    layer: gym.Env[Any, Any] = env
    while isinstance(layer, gym.Wrapper):
        layers.append((type(layer).__qualname__, copy.deepcopy(_wrapper_state(layer))))
        layer = layer.env
    return EnvState(tuple(layers), layer.snapshot())  # type: ignore[attr-defined]


def restore_env(env: gym.Env[Any, Any], state: EnvState) -> None:
    """Put ``env`` (of the same source as the snapshot's) in ``state``."""
    layer: gym.Env[Any, Any] = env
    for name, values in state.wrappers:
        if not isinstance(layer, gym.Wrapper) or type(layer).__qualname__ != name:
            raise BranchingError(
                f"cannot restore a snapshot taken under wrapper {name} into "
                f"{type(layer).__qualname__}: branches must come from the same env source."
            )
        for key, value in copy.deepcopy(values).items():
            setattr(layer, key, value)
        layer = layer.env
    layer.restore(state.env)  # type: ignore[attr-defined]
