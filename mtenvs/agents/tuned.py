"""The tuned LLM tiers, ``llm-sft`` and ``llm-rl``: SmolLM2-135M-Instruct (the ``llm``
agent's model) with a LoRA adapter trained for one env.

``python -m baselines.llm_train`` trains them (issue 20, item 3): ``llm-sft`` by supervised
fine-tuning on oracle trajectories of training tasks, ``llm-rl`` by the suite's multi-turn
RL (GRPO with turn-level credit), started from the ``llm-sft`` adapter, so RL's own effect is
``llm-rl`` against ``llm-sft``. Each adapter ships under
``mtenvs/assets/baselines/<env>/<tier>/`` (``maze-v0/llm-rl/`` for ``mtenvs/Maze-v0``):
``adapter_config.json`` and ``adapter_model.safetensors`` as ``peft`` writes them (float16)
and ``training.json`` with the run's settings, throughput and learning curve.

:class:`TunedLLMAgent` is a per-env agent: :meth:`~TunedLLMAgent.for_env` is an
:class:`~mtenvs.agents.llm.LLMAgent` playing with that env's adapter (on llama.cpp beside
the quantised weights on a CPU, merged into the weights on CUDA), sampling as the ``llm``
agent does, and ``None`` for envs without an adapter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtenvs.agents.per_env import PerEnvAgent
from mtenvs.agents.trained import WEIGHTS_DIR, weights_dir_name
from mtenvs.error import InvalidArgumentError, did_you_mean

__all__ = ["TUNED_TIERS", "TunedLLMAgent", "adapter_path", "keep_task_of", "tuned_envs"]

#: The tiers and what each adapter was trained with.
TUNED_TIERS: tuple[str, ...] = ("llm-sft", "llm-rl")


def _check_tier(tier: str) -> str:
    if tier not in TUNED_TIERS:
        raise InvalidArgumentError(
            f"Unknown tuned tier {tier!r}; choose one of {', '.join(map(repr, TUNED_TIERS))}."
            f"{did_you_mean(tier, TUNED_TIERS)}"
        )
    return tier


def adapter_path(env_id: str, tier: str, root: Path | None = None) -> Path | None:
    """The ``tier`` adapter directory of ``env_id``, or ``None`` if there is none."""
    path = (root or WEIGHTS_DIR) / weights_dir_name(env_id) / _check_tier(tier)
    return path if (path / "adapter_model.safetensors").is_file() else None


def keep_task_of(adapter: Path | str) -> bool:
    """Whether the adapter in ``adapter`` was trained on prompts shortened with the task
    kept (``LLMAgent(keep_task=...)``), as its ``training.json`` records; adapters from
    before that option (no record) were not."""
    meta = Path(adapter) / "training.json"
    return meta.is_file() and _keeps_task(json.loads(meta.read_text()))


def _keeps_task(meta: dict[str, Any]) -> bool:
    return bool(meta.get("config", {}).get("keep_task", False))


def tuned_envs(tier: str, root: Path | None = None) -> list[str]:
    """Env ids with a ``tier`` adapter."""
    base = root or WEIGHTS_DIR
    _check_tier(tier)
    if not base.is_dir():
        return []
    out = []
    for meta in sorted(base.glob(f"*/{tier}/training.json")):
        if (meta.parent / "adapter_model.safetensors").is_file():
            out.append(str(json.loads(meta.read_text())["env_id"]))
    return out


class TunedLLMAgent(PerEnvAgent):
    """The ``llm-sft`` or ``llm-rl`` agent (see the module doc).

    Args:
        tier: ``"llm-sft"`` or ``"llm-rl"``.
        root: Adapter root (default: the packaged ``mtenvs/assets/baselines``).
        seed: Sampling seed of each env's model.
        device: Torch device (``"auto"``: CUDA when present).
    """

    def __init__(
        self, tier: str, *, root: str | Path | None = None, seed: int = 0, device: str = "auto"
    ) -> None:
        self.name = _check_tier(tier)
        self.root = Path(root) if root is not None else WEIGHTS_DIR
        self.seed = seed
        self.device = device
        self._agents: dict[str, Any] = {}

    def covered_envs(self) -> list[str]:
        return tuned_envs(self.name, self.root)

    def why_not(self, env_id: str) -> str | None:
        return f"no {self.name} adapter for this env (trained envs: python -m baselines.llm_train)"

    def for_env(self, env_id: str) -> Any | None:
        """The :class:`~mtenvs.agents.llm.LLMAgent` with ``env_id``'s adapter; ``None``
        without one."""
        if env_id not in self._agents:
            path = adapter_path(env_id, self.name, self.root)
            if path is None:
                return None
            from mtenvs.agents.llm import LLMAgent

            meta = json.loads((path / "training.json").read_text())
            self._agents[env_id] = LLMAgent(
                device=self.device,
                seed=self.seed,
                adapter=path,
                max_new_tokens=int(meta.get("max_new_tokens", 64)),
                max_prompt_tokens=int(meta.get("max_prompt_tokens", 1024)),
                keep_task=_keeps_task(meta),  # training.json, read above
                name=self.name,
            )
        return self._agents[env_id]

    def close(self) -> None:
        """Forget the loaded models."""
        self._agents.clear()
