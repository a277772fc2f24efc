"""The trained reference agents: small transformers shipped in ``mtenvs/assets/baselines/``.

``baselines/`` (``make baselines``) trains one model per covered env and saves it to
``mtenvs/assets/baselines/<env>/`` (``sokoban-v0`` for ``mtenvs/Sokoban-v0``) with
``training.json`` recording its training config. :class:`TrainedAgent` is a *per-env* agent:
the evaluation runner asks it :meth:`~TrainedAgent.for_env` for each env and skips the envs
that have no trained weights. ``make baselines`` retires an agent that does not beat
``random`` beyond the 95 % intervals: its weights go and ``training.json`` keeps the reason
(:meth:`~TrainedAgent.why_not`). The model is an :class:`~mtenvs.agents.hf.HFAgent` (greedy);
its tokenizer's chat template renders only the last observation, as in training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtenvs.agents.per_env import PerEnvAgent

__all__ = ["WEIGHTS_DIR", "TrainedAgent", "trained_envs", "weights_dir_name", "weights_path"]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "assets" / "baselines"


def weights_dir_name(env_id: str) -> str:
    """``mtenvs/Sokoban-v0`` → ``sokoban-v0``: the folder of its weights under the root."""
    return env_id.split("/")[-1].lower()


def weights_path(env_id: str, root: Path | None = None) -> Path | None:
    """The weights directory of ``env_id``'s trained agent, or ``None`` if there is none."""
    path = (root or WEIGHTS_DIR) / weights_dir_name(env_id)
    return path if (path / "model.safetensors").is_file() else None


def trained_envs(root: Path | None = None) -> list[str]:
    """Env ids that have trained weights."""
    base = root or WEIGHTS_DIR
    if not base.is_dir():
        return []
    out = []
    for meta in sorted(base.glob("*/training.json")):
        if (meta.parent / "model.safetensors").is_file():
            out.append(str(json.loads(meta.read_text())["env_id"]))
    return out


class TrainedAgent(PerEnvAgent):
    """Dispatches to the trained model of each env (see the module doc).

    Args:
        root: Weights directory (default: the packaged ``mtenvs/assets/baselines``).
        device: Torch device for the models (``"auto"``: CUDA when present).
    """

    def __init__(self, root: str | Path | None = None, *, device: str = "auto") -> None:
        self.name = "trained"
        self.root = Path(root) if root is not None else WEIGHTS_DIR
        self.device = device
        self._agents: dict[str, Any] = {}

    def covered_envs(self) -> list[str]:
        return trained_envs(self.root)

    def why_not(self, env_id: str) -> str | None:
        """Why :meth:`for_env` has no policy for ``env_id``: ``"retired: at random level
        (baselines/RESULTS.md)"`` for an agent that ``make baselines`` retired (its
        ``training.json`` keeps the scores that retired it), ``None`` otherwise."""
        meta = self.root / weights_dir_name(env_id) / "training.json"
        if not meta.is_file():
            return None
        retired = json.loads(meta.read_text()).get("retired")
        if not retired:
            return None
        # The verdict without its numbers (they are in baselines/RESULTS.md and the card),
        # so the envs retired for one reason share one line of a report.
        return f"retired: {str(retired).split(':')[0]} (baselines/RESULTS.md)"

    def for_env(self, env_id: str) -> Any | None:
        """The :class:`~mtenvs.agents.hf.HFAgent` playing ``env_id``; ``None`` without weights."""
        if env_id not in self._agents:
            path = weights_path(env_id, self.root)
            if path is None:
                return None
            from mtenvs.agents.hf import HFAgent

            meta = json.loads((path / "training.json").read_text())
            self._agents[env_id] = HFAgent(
                path,
                device=self.device,
                dtype="float32",
                max_new_tokens=int(meta.get("max_new_tokens", 48)),
                name=self.name,
            )
        return self._agents[env_id]
