"""Trajectory records: what the rollout engine yields and trainers consume.

A :class:`Trajectory` is one episode: the system prompt, the first observation and one
:class:`Turn` per agent reply. It converts to chat ``messages`` (SFT, multi-turn RL), gives
per-turn rewards and returns, and round-trips through JSONL. :func:`to_hf_dataset` builds a
🤗 ``datasets.Dataset`` with those columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Trajectory", "Turn", "read_jsonl", "to_hf_dataset", "write_jsonl"]


@dataclass
class Turn:
    """One agent reply and what the env made of it."""

    #: The text observation the agent replied to.
    observation: str
    #: The agent's reply.
    reply: str
    #: The step's reward and its components (``reward == sum(reward_components.values())``).
    reward: float
    reward_components: dict[str, float]
    #: ``state_key`` of the state the agent acted in (for GiGPO-style grouping).
    state_key: str
    parse_error: str | None = None
    terminated: bool = False
    truncated: bool = False
    #: Seconds of the batched agent call, divided by the batch size.
    agent_s: float = 0.0
    #: Seconds the env step took.
    env_s: float = 0.0


@dataclass
class Trajectory:
    """One episode of one env id from one seed."""

    env_id: str
    seed: int
    task_id: str
    agent: str
    system_prompt: str
    turns: list[Turn] = field(default_factory=list)
    #: The observation after the last turn.
    final_observation: str = ""
    success: bool = False
    #: Index of the task group (GRPO/GiGPO): trajectories from the same task share it.
    group: int = 0
    #: Env-specific info of the last step (JSON-serialisable values only).
    final_info: dict[str, Any] = field(default_factory=dict)

    @property
    def episode_return(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def rewards(self) -> list[float]:
        return [t.reward for t in self.turns]

    def returns(self, gamma: float = 1.0) -> list[float]:
        """Discounted return from each turn to the end of the episode."""
        out = [0.0] * len(self.turns)
        running = 0.0
        for i in range(len(self.turns) - 1, -1, -1):
            running = self.turns[i].reward + gamma * running
            out[i] = running
        return out

    def messages(self, *, include_final: bool = False) -> list[dict[str, str]]:
        """The episode as OpenAI-style chat messages (system, user, assistant, …)."""
        msgs = [{"role": "system", "content": self.system_prompt}]
        for turn in self.turns:
            msgs.append({"role": "user", "content": turn.observation})
            msgs.append({"role": "assistant", "content": turn.reply})
        if include_final:
            msgs.append({"role": "user", "content": self.final_observation})
        return msgs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        data = dict(data)
        data["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(**data)


def write_jsonl(trajectories: Iterable[Trajectory], path: str | Path) -> int:
    """Write one JSON object per line; returns how many were written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for traj in trajectories:
            f.write(json.dumps(traj.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    """Read trajectories written by :func:`write_jsonl`."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Trajectory.from_dict(json.loads(line))


def to_hf_dataset(trajectories: Iterable[Trajectory], *, gamma: float = 1.0) -> Any:
    """A 🤗 ``datasets.Dataset``: one row per trajectory with chat ``messages``, per-turn
    ``rewards`` and ``returns``, ``success``, ``episode_return`` and identifiers."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError(
            'to_hf_dataset needs 🤗 datasets: pip install "mtenvs[baselines]" (or datasets).'
        ) from e
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "env_id",
            "seed",
            "task_id",
            "group",
            "agent",
            "messages",
            "rewards",
            "returns",
            "state_keys",
            "success",
            "episode_return",
            "num_turns",
        )
    }
    for t in trajectories:
        rows["env_id"].append(t.env_id)
        rows["seed"].append(t.seed)
        rows["task_id"].append(t.task_id)
        rows["group"].append(t.group)
        rows["agent"].append(t.agent)
        rows["messages"].append(t.messages())
        rows["rewards"].append(t.rewards)
        rows["returns"].append(t.returns(gamma))
        rows["state_keys"].append([turn.state_key for turn in t.turns])
        rows["success"].append(t.success)
        rows["episode_return"].append(t.episode_return)
        rows["num_turns"].append(len(t.turns))
    return datasets.Dataset.from_dict(rows)
