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

With verl installed (``pip install "mtenvs[verl]"``), :class:`MtenvsInteraction` subclasses
``verl.interactions.base.BaseInteraction``; without it, a stand-in base with the same
constructor, so the module imports (and the class can be driven) without verl. verl 0.8
removed interactions (``verl.interactions`` and ``multi_turn.interaction_config_path``), so
this path needs verl <= 0.7 (tested with 0.7.1). verl loads the class by its dotted name
from the interaction config (:func:`interaction_config` writes it)::

    interaction:
      - name: mtenvs
        class_name: mtenvs.integrations.verl.MtenvsInteraction
        config:
          env_id: mtenvs/Maze-v0
          env_kwargs: {max_turns: 16}

The env is one of (exactly one key): ``env_id`` (a registered id), ``env_spec`` (a
Gymnasium ``EnvSpec`` as its JSON mapping: a wrapped env's ``env.spec`` carries its wrappers,
e.g. ``TryAgain``), ``env_factory`` (``"module:attr"``, a zero-argument function returning
the env, wrapped as you like) or, from Python, ``env`` (an id, an ``EnvSpec`` or a
zero-argument callable).

See docs/integrations.md for the trainer options.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import uuid4

from gymnasium.envs.registration import EnvSpec

from mtenvs.core.spaces import obs_text
from mtenvs.error import InvalidArgumentError, check_int_range

__all__ = [
    "VERL_BASE",
    "EnvSource",
    "MtenvsInteraction",
    "compute_score",
    "interaction_config",
    "make_verl_dataset",
]

#: What the adapter can play: a registered id, a Gymnasium ``EnvSpec`` (``env.spec`` of a
#: wrapped env carries its wrappers), or a zero-argument factory returning an env.
EnvSource: TypeAlias = str | EnvSpec | Callable[[], Any]

#: The config keys that name the env; exactly one may be given.
ENV_KEYS = ("env", "env_id", "env_spec", "env_factory")


class _StandInBaseInteraction:
    """``verl.interactions.base.BaseInteraction``'s constructor, for use without verl."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name: str = config.get("name", "interaction_agent")


if TYPE_CHECKING:
    _BaseInteraction = _StandInBaseInteraction
else:
    try:  # verl <= 0.7; verl 0.8 removed verl.interactions
        from verl.interactions.base import BaseInteraction as _BaseInteraction
    except ImportError:
        _BaseInteraction = _StandInBaseInteraction

#: Whether :class:`MtenvsInteraction` subclasses verl's own ``BaseInteraction`` (verl <= 0.7
#: installed) rather than the stand-in.
VERL_BASE: bool = _BaseInteraction is not _StandInBaseInteraction


class _Episode:
    """One rollout's env and what it returned so far. (Not a dataclass: verl may load this
    module from its file path, outside ``sys.modules``, where dataclasses cannot be built.)"""

    __slots__ = ("done", "env", "observation", "rewards", "seed", "success", "system_prompt")

    def __init__(self, env: Any, seed: int | None, observation: str, system_prompt: str) -> None:
        self.env = env
        self.seed = seed
        self.observation = observation
        self.system_prompt = system_prompt
        self.rewards: list[float] = []
        self.done = False
        self.success = False


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


# ---------------------------------------------------------------------- env sources


def resolve_factory(path: str) -> Callable[[], Any]:
    """The zero-argument env factory named by ``"module:attr"`` (``attr`` may be dotted)."""
    module_name, sep, attr = str(path).partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgumentError(
            f"env_factory {path!r} is not an import string; write 'module:attr', e.g. "
            "'my_project.envs:make_env' for a module-level function returning the env."
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise InvalidArgumentError(
            f"env_factory {path!r}: cannot import module {module_name!r} ({e})."
        ) from e
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise InvalidArgumentError(
                f"env_factory {path!r}: module {module_name!r} has no attribute {attr!r}."
            ) from e
    if not callable(obj):
        raise InvalidArgumentError(f"env_factory {path!r} is a {type(obj).__name__}, not callable.")
    return obj  # type: ignore[no-any-return]


def factory_path(factory: Callable[[], Any]) -> str:
    """``"module:attr"`` naming ``factory``, checked to import back to the same object."""
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise InvalidArgumentError(
            f"The env factory {factory!r} has no import name a YAML config can hold (a lambda, "
            "a local function or a __main__ function); define it at module level in an "
            "importable module and pass it (or env_factory='module:attr')."
        )
    path = f"{module}:{qualname}"
    try:
        same = resolve_factory(path) is factory
    except InvalidArgumentError:
        same = False
    if not same:
        raise InvalidArgumentError(f"The env factory {factory!r} does not import back as {path!r}.")
    return path


def _spec_from_config(value: Any) -> EnvSpec:
    if isinstance(value, EnvSpec):
        return value
    text = value if isinstance(value, str) else json.dumps(dict(value))
    try:
        return EnvSpec.from_json(text)
    except Exception as e:  # gymnasium raises ValueError/TypeError/KeyError alike
        raise InvalidArgumentError(
            f"env_spec is not a Gymnasium EnvSpec in JSON form ({e}); "
            "write json.loads(spec.to_json())."
        ) from e


def env_source_from_config(config: Mapping[str, Any]) -> EnvSource | None:
    """The env an interaction config names (``None`` when it names none)."""
    given = [key for key in ENV_KEYS if config.get(key) is not None]
    if len(given) > 1:
        raise InvalidArgumentError(
            f"The interaction config names its env twice ({', '.join(given)}); keep one of "
            f"{', '.join(ENV_KEYS)}."
        )
    if not given:
        return None
    key = given[0]
    value = config[key]
    if key == "env_id":
        return str(value)
    if key == "env_spec":
        return _spec_from_config(value)
    if key == "env_factory":
        return resolve_factory(str(value))
    if isinstance(value, (str, EnvSpec)) or callable(value):
        return value  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        f"env must be an id, an EnvSpec or a zero-argument factory, got {type(value).__name__}."
    )


def make_env(source: EnvSource, env_kwargs: Mapping[str, Any] | None = None) -> Any:
    """A fresh env from ``source``; ``env_kwargs`` go to ``gym.make`` (ids and specs only)."""
    import gymnasium as gym

    import mtenvs  # noqa: F401  (registers the ids)

    kwargs = dict(env_kwargs or {})
    if isinstance(source, (str, EnvSpec)):
        return gym.make(source, **kwargs)
    if callable(source):
        if kwargs:
            raise InvalidArgumentError(
                f"env_kwargs {sorted(kwargs)} cannot be passed to a zero-argument env factory; "
                "set them inside the factory."
            )
        return source()
    raise InvalidArgumentError(
        f"An env source must be an id, an EnvSpec or a zero-argument factory, got {source!r}."
    )


def _source_name(source: EnvSource, env: Any) -> str:
    if isinstance(source, str):
        return source
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    if isinstance(source, EnvSpec):
        return source.id
    return f"{getattr(source, '__module__', '?')}:{getattr(source, '__qualname__', source)!s}"


# ---------------------------------------------------------------------- the interaction


class MtenvsInteraction(_BaseInteraction):
    """A verl interaction playing one mtenvs episode per rollout.

    Args:
        config: The ``config`` mapping of the interaction entry (verl passes it with
            ``name`` added). Keys: the env (one of ``env_id``, ``env_spec``, ``env_factory``
            or ``env``: see the module docstring; the default of rollouts whose
            ``interaction_kwargs`` name no ``env_id``), ``env_kwargs`` (``gym.make``
            arguments for an id or a spec), ``name`` (default ``"mtenvs"``).

    ``interaction_kwargs`` of a dataset row (passed to :meth:`start_interaction` and
    :meth:`generate_response`): ``name``, ``seed`` (the task) and, for an id, ``env_id``, as
    written by :func:`make_verl_dataset`.

    Env resets and steps run in a worker thread (``asyncio.to_thread``), so envs that block
    on sandboxes or browsers do not stall verl's event loop.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        config.setdefault("name", "mtenvs")
        super().__init__(config)
        self.config: dict[str, Any] = config
        self.name = str(config["name"])
        self.env_source: EnvSource | None = env_source_from_config(config)
        self.env_kwargs: dict[str, Any] = dict(config.get("env_kwargs") or {})
        if self.env_kwargs and self.env_source is not None and not _takes_kwargs(self.env_source):
            raise InvalidArgumentError(
                "env_kwargs apply to env_id/env_spec; a zero-argument env_factory sets its own."
            )
        self._episodes: dict[str, _Episode] = {}
        # verl stops some rollouts before their episode ends (turn or token budget) and never
        # finalizes them; close their envs when verl drops the interaction.
        weakref.finalize(self, _close_all, self._episodes)

    # ------------------------------------------------------------------ verl API

    async def start_interaction(self, instance_id: str | None = None, **kwargs: Any) -> str:
        """Make and reset the env of one rollout; returns its instance id.

        Keyword args: ``env_id`` and ``seed`` (the task; ``env_id`` defaults to the
        config's env), other ``interaction_kwargs`` (such as ``name``) are ignored.
        """
        if instance_id is None:
            instance_id = str(uuid4())
        source: EnvSource | None = kwargs.get("env_id") or self.env_source
        if source is None:
            raise InvalidArgumentError(
                "MtenvsInteraction needs an env: set one of "
                f"{', '.join(ENV_KEYS)} in the interaction config, or 'env_id' in the row's "
                "interaction_kwargs."
            )
        seed = kwargs.get("seed")
        seed = None if seed is None else int(seed)
        if instance_id in self._episodes:
            await self.finalize_interaction(instance_id)
        self._episodes[instance_id] = await asyncio.to_thread(self._reset, source, seed)
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
        if episode.done:
            # verl's tool_agent loop (0.7) never calls finalize_interaction: release the env
            # (a sandbox, a browser) as soon as its episode is over.
            await asyncio.to_thread(_close, episode)
        return episode.done, episode.observation, float(reward), metadata

    async def calculate_score(self, instance_id: str, **kwargs: Any) -> float:  # type: ignore[override]
        """The episode return so far (the sum of the step rewards)."""
        return float(sum(self._episode(instance_id).rewards))

    async def finalize_interaction(self, instance_id: str, **kwargs: Any) -> None:  # type: ignore[override]
        """Close the rollout's env (if still open) and forget the rollout (a no-op for
        unknown ids)."""
        episode = self._episodes.pop(instance_id, None)
        if episode is not None:
            await asyncio.to_thread(_close, episode)

    # ------------------------------------------------------------------ helpers

    def _reset(self, source: EnvSource, seed: int | None) -> _Episode:
        env = make_env(source, self.env_kwargs if _takes_kwargs(source) else None)
        obs, info = env.reset(seed=seed)
        return _Episode(
            env=env,
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


def _close(episode: _Episode) -> None:
    env, episode.env = episode.env, None
    if env is not None:
        env.close()


def _close_all(episodes: dict[str, _Episode]) -> None:
    for episode in list(episodes.values()):
        _close(episode)


def _takes_kwargs(source: EnvSource) -> bool:
    return isinstance(source, (str, EnvSpec))


# ---------------------------------------------------------------------- reward, data, config


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl ``custom_reward_function``: the episode return, i.e. the sum of the turn scores
    :class:`MtenvsInteraction` returned (verl's reward loop passes the agent loop's
    ``turn_scores`` in ``extra_info``).

    Returns 0.0 when verl passed no turn scores (an episode that never stepped).
    """
    scores = (extra_info or {}).get("turn_scores")
    if scores is None:
        return 0.0
    return float(sum(float(s) for s in list(scores)))


def make_verl_dataset(
    env: EnvSource,
    n: int,
    seed: int = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    interaction_name: str = "mtenvs",
    agent_name: str = "tool_agent",
) -> Any:
    """Rows in verl's RL dataset format, one per task seed (write with ``.to_parquet``).

    Columns: ``data_source`` (the env id, or the factory's name when its env has no spec),
    ``prompt`` (system prompt and first observation), ``ability`` (``"mtenvs"``),
    ``reward_model`` (``{"style": "rule", "ground_truth": ""}``: the env is the judge),
    ``agent_name`` and ``extra_info`` with ``index``, ``task_id`` and ``interaction_kwargs``
    (``name``, ``seed`` and, when ``env`` is an id, ``env_id``; otherwise the interaction
    config names the env).

    Args:
        env: A registered id, an ``EnvSpec`` or a zero-argument env factory; the same env
            the interaction config names.
        n: Number of tasks.
        seed: Seed of the first task.
        env_kwargs: ``gym.make`` arguments (ids and specs); use the same ones in the
            interaction config.
        interaction_name: The ``name`` of the interaction entry in the config.
        agent_name: verl agent loop that plays the rows.
    """
    check_int_range("n", n, 1)
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError('make_verl_dataset needs 🤗 datasets: pip install "mtenvs[verl]"') from e
    instance = make_env(env, env_kwargs)
    data_source = _source_name(env, instance)
    rows: list[dict[str, Any]] = []
    try:
        for index, task_seed in enumerate(range(seed, seed + n)):
            obs, info = instance.reset(seed=task_seed)
            interaction_kwargs: dict[str, Any] = {"name": interaction_name, "seed": task_seed}
            if isinstance(env, str):
                interaction_kwargs["env_id"] = env
            rows.append(
                {
                    "data_source": data_source,
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
                        "interaction_kwargs": interaction_kwargs,
                    },
                }
            )
    finally:
        instance.close()
    return datasets.Dataset.from_list(rows)


def interaction_config(
    env: EnvSource, *, env_kwargs: Mapping[str, Any] | None = None, name: str = "mtenvs"
) -> str:
    """The interaction config file verl reads (``multi_turn.interaction_config_path``),
    as YAML text (JSON is valid YAML).

    ``env`` is written as ``env_id`` (an id), ``env_spec`` (an ``EnvSpec``, e.g. a wrapped
    env's ``env.spec``, with its wrappers) or ``env_factory`` (a module-level zero-argument
    function, as ``"module:attr"``; a lambda cannot be written).
    """
    entry_config: dict[str, Any]
    if isinstance(env, str):
        entry_config = {"env_id": env}
    elif isinstance(env, EnvSpec):
        try:
            entry_config = {"env_spec": json.loads(env.to_json())}
        except Exception as e:  # gymnasium refuses callable entry points and odd kwargs
            raise InvalidArgumentError(
                f"EnvSpec {env.id!r} cannot be written as JSON ({e}); register its entry point "
                "as a 'module:Class' string or pass a module-level env factory instead."
            ) from e
    elif callable(env):
        if env_kwargs:
            raise InvalidArgumentError(
                "env_kwargs apply to ids and specs; a zero-argument env factory sets its own."
            )
        entry_config = {"env_factory": factory_path(env)}
    else:
        raise InvalidArgumentError(
            f"env must be an id, an EnvSpec or a zero-argument factory, got {env!r}."
        )
    entry_config["env_kwargs"] = dict(env_kwargs or {})
    entry = {
        "name": name,
        "class_name": f"{MtenvsInteraction.__module__}.{MtenvsInteraction.__qualname__}",
        "config": entry_config,
    }
    return json.dumps({"interaction": [entry]}, indent=2) + "\n"
