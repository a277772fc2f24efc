"""Trajectory records: what the rollout engine yields and trainers consume.

A :class:`Trajectory` is one episode: the system prompt, the first observation and one
:class:`Turn` per agent reply. It converts to chat ``messages`` (SFT, multi-turn RL), gives
per-turn rewards and returns, and round-trips through JSONL. :func:`to_hf_dataset` builds a
🤗 ``datasets.Dataset`` with those columns.

Observation images (``obs_mode="image"`` / ``"text+image"``) are kept as RGB ``uint8``
arrays (``Turn.image``, ``Trajectory.final_image``); JSONL stores them as base64 PNG, which
reads back to the same pixels, and :func:`to_hf_dataset` puts them in an ``images`` column
of ``datasets.Image`` features.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from mtenvs.core.agent import Message, user_message

__all__ = [
    "Trajectory",
    "Turn",
    "decode_png",
    "encode_png",
    "read_jsonl",
    "to_hf_dataset",
    "write_jsonl",
]


def encode_png(image: np.ndarray) -> bytes:
    """An RGB ``uint8`` array as PNG bytes (lossless)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes as an RGB ``uint8`` array."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _image_to_json(image: np.ndarray | None) -> str | None:
    return None if image is None else base64.b64encode(encode_png(image)).decode("ascii")


def _image_from_json(data: Any) -> np.ndarray | None:
    if data is None or isinstance(data, np.ndarray):
        return data
    return decode_png(base64.b64decode(data))


def _same_fields(a: object, b: object) -> bool:
    """Dataclass equality that compares image arrays by their pixels."""
    for f in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (
                isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and np.array_equal(x, y)
            ):
                return False
        elif x != y:
            return False
    return True


def _message_to_json(message: Message) -> dict[str, Any]:
    """A message with its image parts (PIL images) as base64 PNG."""
    content = message.get("content")
    if not isinstance(content, list):
        return dict(message)
    parts = [
        {"type": "image", "png": _image_to_json(np.asarray(p["image"]))}
        if isinstance(p, dict) and p.get("type") == "image"
        else dict(p)
        for p in content
    ]
    return {**message, "content": parts}


def _message_from_json(message: dict[str, Any]) -> Message:
    content = message.get("content")
    if not isinstance(content, list):
        return message
    from PIL import Image

    parts = [
        {"type": "image", "image": Image.fromarray(decode_png(base64.b64decode(p["png"])))}
        if isinstance(p, dict) and "png" in p
        else p
        for p in content
    ]
    return {**message, "content": parts}


@dataclass(eq=False)
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
    #: The image of the observation the agent replied to (RGB ``uint8``, H x W x 3), if any.
    image: np.ndarray | None = None
    #: The step's scalar env-specific info: what wrappers add (``attempt``, ``retried``,
    #: ``turn_limit_reached``, ``turns_left``, ``summarised_turns``) and the env's flags.
    info: dict[str, Any] = field(default_factory=dict)
    #: The conversation the agent was sent, when it cannot be rebuilt from the records:
    #: the env supplied it and a summary replaced older turns (ContextSummary).
    context: list[Message] | None = None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _same_fields(self, other)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The turn in JSON types (the image as base64 PNG); ``timings=False`` leaves out
        ``agent_s`` and ``env_s``, which differ from run to run (to compare two runs)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if not timings:
            del out["agent_s"], out["env_s"]
        out["reward_components"] = dict(self.reward_components)
        out["info"] = dict(self.info)
        out["image"] = _image_to_json(self.image)
        if self.context is not None:
            out["context"] = [_message_to_json(m) for m in self.context]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        data = dict(data)
        data["image"] = _image_from_json(data.get("image"))
        if data.get("context") is not None:
            data["context"] = [_message_from_json(m) for m in data["context"]]
        return cls(**data)


@dataclass(eq=False)
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
    #: The image of the observation after the last turn, if any.
    final_image: np.ndarray | None = None
    #: The wrappers around the registered env, innermost first, with their arguments
    #: (``["TryAgain(max_attempts=3, ...)"]``; empty for a plain id).
    wrappers: list[str] = field(default_factory=list)
    #: A stable id, the same on every executor: ``"7"`` for the 8th episode a rollout
    #: started, ``"7/2.1"`` for its branch 1 from turn 2 (:mod:`mtenvs.rollout.branching`).
    id: str = ""
    #: The id of the trajectory this one branched from (``None`` unless a branch).
    parent: str | None = None
    #: The turn it branched at: its first ``branch_turn`` turns are the parent's.
    branch_turn: int | None = None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _same_fields(self, other)

    __hash__ = None  # type: ignore[assignment]

    @property
    def episode_return(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def own_turns(self) -> list[Turn]:
        """The turns this trajectory played itself (a branch's after its branch turn)."""
        return self.turns[self.branch_turn or 0 :]

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

    def messages(self, *, include_final: bool = False, images: bool = False) -> list[Message]:
        """The episode as OpenAI-style chat messages (system, user, assistant, …).

        With ``images``, a user message whose observation had an image carries it as a
        content part (:func:`mtenvs.core.agent.user_message`: Hugging Face multimodal
        format, a ``PIL.Image``), as the agent was sent it; else every content is text.
        """

        def user(text: str, image: np.ndarray | None) -> Message:
            if images and image is not None:
                return user_message({"text": text, "image": image})
            return {"role": "user", "content": text}

        msgs: list[Message] = [{"role": "system", "content": self.system_prompt}]
        for turn in self.turns:
            msgs.append(user(turn.observation, turn.image))
            msgs.append({"role": "assistant", "content": turn.reply})
        if include_final:
            msgs.append(user(self.final_observation, self.final_image))
        return msgs

    @property
    def images(self) -> list[np.ndarray]:
        """The observation images the agent was shown, in order (one per turn that had
        one; the final observation's is ``final_image``)."""
        return [t.image for t in self.turns if t.image is not None]

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The trajectory in JSON types (images as base64 PNG); ``timings=False`` leaves
        out the turns' timings, so two runs of the same replies give equal dicts."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["turns"] = [t.to_dict(timings=timings) for t in self.turns]
        out["final_info"] = dict(self.final_info)
        out["final_image"] = _image_to_json(self.final_image)
        out["wrappers"] = list(self.wrappers)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        data = dict(data)
        data["turns"] = [Turn.from_dict(t) for t in data.get("turns", [])]
        data["final_image"] = _image_from_json(data.get("final_image"))
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
    ``rewards`` and ``returns``, ``success``, ``episode_return``, identifiers, the
    ``wrappers``, ``images`` (the observation images the agent was shown, in order: a
    sequence of ``datasets.Image``; empty for text-only envs) and the branch records
    ``id``, ``parent`` and ``branch_turn`` (``None`` unless a branch)."""
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
            "wrappers",
            "images",
            "id",
            "parent",
            "branch_turn",
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
        rows["wrappers"].append(list(t.wrappers))
        rows["images"].append([{"bytes": encode_png(im), "path": None} for im in t.images])
        rows["id"].append(t.id)
        rows["parent"].append(t.parent)
        rows["branch_turn"].append(t.branch_turn)
    return datasets.Dataset.from_dict(rows, features=_features(datasets))


def _features(datasets: Any) -> Any:
    """The columns' types, declared (lists that may all be empty infer no type). A list
    feature is written ``[feature]``, which every datasets version (2.20 on) reads."""
    string, floats = datasets.Value("string"), [datasets.Value("float64")]
    return datasets.Features(
        {
            "env_id": string,
            "seed": datasets.Value("int64"),
            "task_id": string,
            "group": datasets.Value("int64"),
            "agent": string,
            "messages": [{"role": string, "content": string}],
            "rewards": floats,
            "returns": floats,
            "state_keys": [string],
            "success": datasets.Value("bool"),
            "episode_return": datasets.Value("float64"),
            "num_turns": datasets.Value("int64"),
            "wrappers": [string],
            "images": [datasets.Image()],
            "id": string,
            "parent": string,
            "branch_turn": datasets.Value("int64"),
        }
    )
