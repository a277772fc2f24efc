"""Self-play: one policy plays every seat of a text game; per-agent trajectories and
turn-level, per-role advantages (as MARS, "Reinforcing multi-agent reasoning of LLMs
through self-play in strategic games").

::

    from mtenvs.agents import RandomAgent
    from mtenvs.rollout import collect_selfplay, compute_advantages

    episodes = collect_selfplay("tictactoe", RandomAgent(), episodes=64, seed=0)
    advantages = compute_advantages(episodes)      # advantages[i]["player_0"][t]

Every seat is one conversation: a role-conditioned system prompt (the game's rules and
which player it is), then for each of its turns the observation (user) and the reply
(assistant). All games of a batch advance together and the policy is called once per
round with one :class:`~mtenvs.agents.AgentInput` per game waiting for a move (one GPU batch
for a model). ``AgentInput.env`` is the AEC game itself, whose ``random_action`` and
``oracle_action`` answer for the player to act, so ``RandomAgent``/``OracleAgent`` work.

Self-play is a driver above the envs (like :func:`~mtenvs.rollout.rollout`): it takes a
game by name or any factory returning an unwrapped :class:`TextGameEnv`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mtenvs.core.agent import AgentInput
from mtenvs.core.spaces import obs_text
from mtenvs.envs.games.aec import AGENTS, TextGameEnv
from mtenvs.envs.games.table import GAMES as GAME_TABLE
from mtenvs.error import InvalidArgumentError, check_choice, check_int_range

__all__ = [
    "GAMES",
    "AgentTrajectory",
    "SelfPlayEpisode",
    "collect_selfplay",
    "compute_advantages",
]

#: Game names accepted by :func:`collect_selfplay`, and their modules: the names of
#: :data:`mtenvs.envs.games.table.GAMES`.
GAMES: dict[str, str] = {name: game.module for name, game in GAME_TABLE.items()}
Normalize = Literal["role", "global", "none"]


@dataclass
class AgentTrajectory:
    """One seat's side of one game. Lists are indexed by the seat's turns (one reply
    each, rejected replies included)."""

    agent: str
    #: The seat's system prompt, then user observation / assistant reply pairs.
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    #: Reward credited to each turn: everything the seat received from that reply up to its
    #: next one (so the final payoff lands on its last turn).
    rewards: list[float] = field(default_factory=list)
    #: Discounted reward-to-go ``G_t = sum_k gamma^(k-t) r_k`` of each turn.
    returns: list[float] = field(default_factory=list)
    #: Whether each reply was rejected (unparseable or illegal).
    invalid: list[bool] = field(default_factory=list)

    @property
    def total_reward(self) -> float:
        return float(sum(self.rewards))


@dataclass
class SelfPlayEpisode:
    """One finished game: each seat's trajectory and final payoff."""

    game: str
    seed: int
    trajectories: dict[str, AgentTrajectory]
    #: Each seat's total reward (the game payoff, minus any illegal-move penalties).
    payoffs: dict[str, float]


def _factory(game: str | Callable[[], TextGameEnv[Any]]) -> tuple[str, Callable[[], Any]]:
    if callable(game):
        return getattr(game, "__name__", "game"), game
    check_choice("game", game, GAMES)
    return game, importlib.import_module(GAMES[game]).raw_env


def collect_selfplay(
    game: str | Callable[[], TextGameEnv[Any]],
    agent: Any,
    *,
    episodes: int = 1,
    seed: int = 0,
    gamma: float = 1.0,
) -> list[SelfPlayEpisode]:
    """Play ``episodes`` games of ``game`` (a name in :data:`GAMES` or a factory returning
    an unwrapped :class:`TextGameEnv`, e.g. ``lambda: tictactoe.raw_env(max_illegal=0)``)
    with ``agent`` (an :class:`mtenvs.agents.Agent`) in every seat; game ``i`` is reset
    with ``seed + i``."""
    check_int_range("episodes", episodes, 1)
    if not callable(getattr(agent, "act", None)):
        raise InvalidArgumentError(
            f"agent must have an act(batch) method (mtenvs.agents.Agent), got {agent!r:.80}."
        )
    if not 0.0 <= gamma <= 1.0:
        raise InvalidArgumentError(f"gamma must be in [0, 1], got {gamma!r}.")
    name, make = _factory(game)
    games: list[TextGameEnv[Any]] = []
    trajectories: list[dict[str, AgentTrajectory]] = []
    totals: list[dict[str, float]] = []
    for i in range(episodes):
        env = make()
        env.reset(seed=seed + i)
        games.append(env)
        totals.append(dict.fromkeys(AGENTS, 0.0))
        trajectories.append(
            {
                a: AgentTrajectory(a, [{"role": "system", "content": env.system_prompt(a)}])
                for a in AGENTS
            }
        )
    while True:
        waiting = [i for i, env in enumerate(games) if not env.is_over()]
        if not waiting:
            break
        batch = []
        for i in waiting:
            env = games[i]
            agent_name = env.agent_selection
            traj = trajectories[i][agent_name]
            obs = env.observe(agent_name)
            traj.messages.append({"role": "user", "content": obs_text(obs)})
            info = {"agent": agent_name, "action_mask": obs["action_mask"], "game": name}
            batch.append(AgentInput(list(traj.messages), env, info))  # type: ignore[arg-type]
        replies = agent.act(batch)
        if len(replies) != len(batch):
            raise InvalidArgumentError(
                f"{type(agent).__name__}.act returned {len(replies)} replies for "
                f"{len(batch)} inputs; it must return exactly one per input."
            )
        for i, reply in zip(waiting, replies):
            env = games[i]
            agent_name = env.agent_selection
            traj = trajectories[i][agent_name]
            text = reply if isinstance(reply, str) else str(reply)
            traj.messages.append({"role": "assistant", "content": text})
            traj.replies.append(text)
            traj.rewards.append(0.0)
            illegal_before = int(env.infos[agent_name]["illegal_moves"])
            env.step(reply)
            traj.invalid.append(int(env.infos[agent_name]["illegal_moves"]) > illegal_before)
            for other, reward in env.rewards.items():
                totals[i][other] += float(reward)
                other_traj = trajectories[i][other]
                if other_traj.rewards:
                    other_traj.rewards[-1] += float(reward)
    out = []
    for i in range(episodes):
        for traj in trajectories[i].values():
            traj.returns = _reward_to_go(traj.rewards, gamma)
        out.append(
            SelfPlayEpisode(
                game=name,
                seed=seed + i,
                trajectories=trajectories[i],
                payoffs=totals[i],
            )
        )
    return out


def _reward_to_go(rewards: Sequence[float], gamma: float) -> list[float]:
    out = [0.0] * len(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def compute_advantages(
    episodes: Sequence[SelfPlayEpisode], *, normalize: Normalize = "role", eps: float = 1e-6
) -> list[dict[str, list[float]]]:
    """Turn-level advantages for every seat's turns: ``advantages[i][agent][t]``.

    Monte Carlo, no critic and no GAE: with ``G`` the turn's reward-to-go
    (:attr:`AgentTrajectory.returns`),

    * ``normalize="role"`` (MARS's per-agent normalisation): ``A = (G - mean_r) / (std_r +
      eps)``, where ``mean_r``/``std_r`` are over every turn of role ``r`` = (game, seat) in
      the batch. Each role gets its own baseline, so a seat that wins more often (the first
      player in Tic-Tac-Toe) does not push every one of its moves up;
    * ``"global"``: one mean and std over every turn of the batch;
    * ``"none"``: ``A = G``.
    """
    check_choice("normalize", normalize, ["role", "global", "none"])
    groups: dict[tuple[str, str], list[float]] = {}
    for ep in episodes:
        for agent, traj in ep.trajectories.items():
            key = (ep.game, agent) if normalize == "role" else ("", "")
            groups.setdefault(key, []).extend(traj.returns)
    stats = {
        key: (float(np.mean(v)), float(np.std(v))) if v else (0.0, 0.0) for key, v in groups.items()
    }
    out = []
    for ep in episodes:
        per_agent = {}
        for agent, traj in ep.trajectories.items():
            if normalize == "none":
                per_agent[agent] = list(traj.returns)
                continue
            mean, std = stats[(ep.game, agent) if normalize == "role" else ("", "")]
            per_agent[agent] = [(g - mean) / (std + eps) for g in traj.returns]
        out.append(per_agent)
    return out
