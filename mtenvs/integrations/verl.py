"""Train on mtenvs envs with verl's multi-turn agent loop.

verl (``volcengine/verl``) plays multi-turn rollouts in its agent loop (``tool_agent``):
after each assistant turn it asks an *interaction* for the user's next message, a turn
score and whether to stop; the user messages are masked out of the loss
(``response_mask`` 0). :class:`MtenvsInteraction` is such an interaction with one mtenvs env
per rollout (verl's ``request_id``): ``start_interaction`` resets the env to the row's task
seed, each ``generate_response`` steps it with the last assistant message and answers with
the env's next observation and step reward, and the episode's end (terminated or turn
budget used) ends the rollout. :func:`compute_score` turns the per-turn scores verl
collects (``extra_info["turn_scores"]``) into the episode return, and
:func:`make_verl_dataset` writes the parquet rows verl reads.

verl is never imported: the class implements the methods of
``verl.interactions.base.BaseInteraction`` (``start_interaction``, ``generate_response``,
``calculate_score``, ``finalize_interaction``, all ``async``) with the same signatures, and
verl loads it by its dotted name from the interaction config::

    interaction:
      - name: mtenvs
        class_name: mtenvs.integrations.verl.MtenvsInteraction
        config:
          env_id: mtenvs/Maze-v0
          env_kwargs: {max_turns: 16}

See docs/integrations.md for the trainer options.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from mtenvs.core.spaces import obs_text
from mtenvs.error import InvalidArgumentError, check_int_range

__all__ = ["MtenvsInteraction", "compute_score", "interaction_config", "make_verl_dataset"]


@dataclass
class _Episode:
    env: Any
    env_id: str
    seed: int | None
    observation: str
    system_prompt: str
    rewards: list[float] = field(default_factory=list)
    done: bool = False
    success: bool = False


def _last_assistant_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, list):  # typed content blocks
                return "".join(
                    str(part.get("text", "")) for part in content if isinstance(part, Mapping)
                )
            return "" if content is None else str(content)
    return ""


def _jsonable(value: Any) -> Any:
    from mtenvs.rollout.workers import jsonable

    return jsonable(value)


class MtenvsInteraction:
    """A verl interaction playing one mtenvs episode per rollout.

    Args:
        config: The ``config`` mapping of the interaction entry (verl passes it with
            ``name`` added). Keys: ``env_id`` (default env of rollouts whose
            ``interaction_kwargs`` name none), ``env_kwargs`` (constructor arguments of
            every env), ``name`` (the interaction's name, default ``"mtenvs"``).

    ``interaction_kwargs`` of a dataset row (passed to :meth:`start_interaction` and
    :meth:`generate_response`): ``name``, ``env_id`` and ``seed`` (the task), as written by
    :func:`make_verl_dataset`.

    Env resets and steps run in a worker thread (``asyncio.to_thread``), so envs that block
    on sandboxes or browsers do not stall verl's event loop.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.name: str = str(self.config.get("name", "mtenvs"))
        self.env_id: str | None = self.config.get("env_id")
        self.env_kwargs: dict[str, Any] = dict(self.config.get("env_kwargs") or {})
        self._episodes: dict[str, _Episode] = {}

    # ------------------------------------------------------------------ verl API

    async def start_interaction(self, instance_id: str | None = None, **kwargs: Any) -> str:
        """Make and reset the env of one rollout; returns its instance id.

        Keyword args: ``env_id`` and ``seed`` (the task; ``env_id`` defaults to the
        config's), other ``interaction_kwargs`` (such as ``name``) are ignored.
        """
        if instance_id is None:
            instance_id = str(uuid4())
        env_id = kwargs.get("env_id") or self.env_id
        if not env_id:
            raise InvalidArgumentError(
                "MtenvsInteraction needs an env id: set 'env_id' in the interaction config "
                "or in the row's interaction_kwargs."
            )
        seed = kwargs.get("seed")
        seed = None if seed is None else int(seed)
        if instance_id in self._episodes:
            await self.finalize_interaction(instance_id)
        self._episodes[instance_id] = await asyncio.to_thread(self._reset, str(env_id), seed)
        return instance_id

    async def generate_response(
        self, instance_id: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> tuple[bool, str, float, dict[str, Any]]:
        """Step the env with the last assistant message.

        Returns:
            ``(should_terminate_sequence, next_user_message, step_reward, metadata)``;
            metadata holds ``success``, ``turn``, ``reward_components``, ``parse_error``,
            ``terminated`` and ``truncated``.
        """
        episode = self._episode(instance_id)
        if episode.done:
            return True, "", 0.0, {"success": episode.success, "already_done": True}
        reply = _last_assistant_text(messages)
        obs, reward, terminated, truncated, info = await asyncio.to_thread(episode.env.step, reply)
        episode.observation = obs_text(obs)
        episode.rewards.append(float(reward))
        episode.done = bool(terminated or truncated)
        episode.success = bool(info.get("success", False))
        metadata = {
            "success": episode.success,
            "turn": info.get("turn", len(episode.rewards)),
            "reward_components": _jsonable(info.get("reward_components", {})),
            "parse_error": info.get("parse_error"),
            "terminated": bool(terminated),
            "truncated": bool(truncated),
        }
        return episode.done, episode.observation, float(reward), metadata

    async def calculate_score(self, instance_id: str, **kwargs: Any) -> float:
        """The episode return so far (the sum of the step rewards)."""
        return float(sum(self._episode(instance_id).rewards))

    async def finalize_interaction(self, instance_id: str, **kwargs: Any) -> None:
        """Close the rollout's env and forget it (a no-op for unknown ids)."""
        episode = self._episodes.pop(instance_id, None)
        if episode is not None:
            await asyncio.to_thread(episode.env.close)

    # ------------------------------------------------------------------ helpers

    def _reset(self, env_id: str, seed: int | None) -> _Episode:
        import gymnasium as gym

        import mtenvs  # noqa: F401  (registers the ids)

        env = gym.make(env_id, **self.env_kwargs)
        obs, info = env.reset(seed=seed)
        return _Episode(
            env=env,
            env_id=env_id,
            seed=seed,
            observation=obs_text(obs),
            system_prompt=str(info.get("system_prompt", "")),
        )

    def _episode(self, instance_id: str) -> _Episode:
        try:
            return self._episodes[instance_id]
        except KeyError:
            raise InvalidArgumentError(
                f"No mtenvs episode for instance {instance_id!r}; call start_interaction first."
            ) from None

    def first_messages(self, instance_id: str) -> list[dict[str, str]]:
        """The episode's opening messages (system prompt, first observation)."""
        episode = self._episode(instance_id)
        return [
            {"role": "system", "content": episode.system_prompt},
            {"role": "user", "content": episode.observation},
        ]

    def __len__(self) -> int:
        return len(self._episodes)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl ``custom_reward_function``: the episode return, i.e. the sum of the turn scores
    :class:`MtenvsInteraction` returned (verl passes them as ``extra_info["turn_scores"]``).

    Returns 0.0 when verl passed no turn scores (an episode that never stepped).
    """
    scores = (extra_info or {}).get("turn_scores")
    if scores is None:
        return 0.0
    return float(sum(float(s) for s in list(scores)))


def make_verl_dataset(
    env_id: str,
    n: int,
    seed: int = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    interaction_name: str = "mtenvs",
    agent_name: str = "tool_agent",
) -> Any:
    """Rows in verl's RL dataset format, one per task seed (write with ``.to_parquet``).

    Columns: ``data_source`` (the env id), ``prompt`` (system prompt and first
    observation), ``ability`` (``"mtenvs"``), ``reward_model`` (``{"style": "rule",
    "ground_truth": ""}``: the env is the judge), ``agent_name`` and ``extra_info`` with
    ``index`` and ``interaction_kwargs`` (``name``, ``env_id``, ``seed``).

    Args:
        env_id: A registered mtenvs id.
        n: Number of tasks.
        seed: Seed of the first task.
        env_kwargs: Constructor arguments; use the same ones in the interaction config.
        interaction_name: The ``name`` of the interaction entry in the config.
        agent_name: verl agent loop that plays the rows.
    """
    import gymnasium as gym

    import mtenvs  # noqa: F401  (registers the ids)

    check_int_range("n", n, 1)
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("make_verl_dataset needs 🤗 datasets: pip install datasets") from e
    env = gym.make(env_id, **dict(env_kwargs or {}))
    rows: list[dict[str, Any]] = []
    try:
        for index, task_seed in enumerate(range(seed, seed + n)):
            obs, info = env.reset(seed=task_seed)
            rows.append(
                {
                    "data_source": env_id,
                    "prompt": [
                        {"role": "system", "content": str(info.get("system_prompt", ""))},
                        {"role": "user", "content": obs_text(obs)},
                    ],
                    "ability": "mtenvs",
                    "reward_model": {"style": "rule", "ground_truth": ""},
                    "agent_name": agent_name,
                    "extra_info": {
                        "index": index,
                        "task_id": str(info.get("task_id", "")),
                        "interaction_kwargs": {
                            "name": interaction_name,
                            "env_id": env_id,
                            "seed": task_seed,
                        },
                    },
                }
            )
    finally:
        env.close()
    return datasets.Dataset.from_list(rows)


def interaction_config(
    env_id: str, *, env_kwargs: Mapping[str, Any] | None = None, name: str = "mtenvs"
) -> str:
    """The interaction config file verl reads (``multi_turn.interaction_config_path``),
    as YAML text (JSON is valid YAML)."""
    entry = {
        "name": name,
        "class_name": f"{MtenvsInteraction.__module__}.{MtenvsInteraction.__qualname__}",
        "config": {"env_id": env_id, "env_kwargs": dict(env_kwargs or {})},
    }
    return json.dumps({"interaction": [entry]}, indent=2) + "\n"
