"""Train on mtenvs envs with TRL's ``GRPOTrainer``.

TRL's ``GRPOTrainer`` takes a ``rollout_func(prompts, trainer) -> dict`` that replaces its
single-turn generation (TRL ≥ 1.10; the API is marked experimental by TRL). This module
provides one that plays whole multi-turn episodes:

* :func:`make_prompt_dataset` builds the training set: one row per task seed, whose
  ``prompt`` is the episode's start (system prompt and first observation) tagged with the
  env id and seed.

Envs are what :func:`mtenvs.rollout.rollout` takes: an id, a list, a Gymnasium ``EnvSpec``
or a factory returning an env wrapped as you like (``lambda: TryAgain(gym.make(id))``);
give :func:`make_prompt_dataset` and :func:`make_rollout_func` the same one. Prompts are
tagged with the env's registered id, and the rollout function plays that id's source.
* :func:`make_rollout_func` returns the ``rollout_func``. For each prompt it plays that
  task through :func:`mtenvs.rollout.rollout` (one call for the whole batch, with
  ``tasks=``: one generate call per round, see :func:`play_task_groups`) with a
  :class:`TokenAgent` (from :mod:`mtenvs.integrations.token_agent`, re-exported here) that
  generates with the trainer's current model (TRL's own generation path: transformers, or
  vLLM when the trainer uses it). The completion is the episode after the prompt, as one
  token sequence: every assistant reply exactly as generated, and between replies the env's
  observation in chat-template form. ``env_mask`` (which TRL multiplies into the loss mask)
  is 1 on the model's tokens and 0 on the observation tokens, so the env's text is context,
  never a training target.
* :func:`reward_from_env` is the reward function: the episode return the env gave
  (``env_reward``, forwarded by TRL from the rollout's extra fields).

Everything from TRL, torch and transformers is imported lazily; ``pip install "mtenvs[trl]"``
installs them.

Example::

    from trl import GRPOConfig, GRPOTrainer
    from mtenvs.integrations.trl import make_prompt_dataset, make_rollout_func, reward_from_env

    kwargs = {"max_turns": 8}
    trainer = GRPOTrainer(
        model="path/to/model",
        reward_funcs=reward_from_env,
        train_dataset=make_prompt_dataset("mtenvs/Maze-v0", 256, env_kwargs=kwargs),
        rollout_func=make_rollout_func("mtenvs/Maze-v0", env_kwargs=kwargs),
        args=GRPOConfig(output_dir="runs/grpo", num_generations=8, max_completion_length=1024),
    )
    trainer.train()
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mtenvs.agents.base import Agent
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.integrations.token_agent import EpisodeTokens, GenerateFn, TokenAgent
from mtenvs.rollout.records import Trajectory
from mtenvs.rollout.sources import EnvLike, EnvSource, env_sources
from mtenvs.rollout.workers import Executor, observation_parts

__all__ = [
    "TASK_KEY",
    "EpisodeTokens",
    "TokenAgent",
    "import_trl",
    "make_prompt_dataset",
    "make_rollout_func",
    "play_task_groups",
    "reward_from_env",
    "task_of",
]

#: Key of the first prompt message that carries the task as JSON (``{"env_id", "seed"}``).
#: Chat templates ignore unknown message keys, so the tag never reaches the model.
TASK_KEY = "mtenvs_task"

_INSTALL_HINT = 'pip install "mtenvs[trl]"'


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"mtenvs.integrations.trl needs {module.split('.')[0]} ({e.name} is missing): "
            f"{_INSTALL_HINT}"
        ) from e


def import_trl() -> Any:
    """The ``trl`` module, or an ImportError that says how to install it."""
    return _require("trl")


# ---------------------------------------------------------------------------- dataset


def _sources_by_name(
    env: EnvLike | Sequence[EnvLike], env_kwargs: Mapping[str, Any] | None
) -> dict[str, EnvSource]:
    """The env sources of ``env`` by registered name (the name tags the prompts)."""
    by_name: dict[str, EnvSource] = {}
    for source in env_sources(env, env_kwargs):
        if source.name in by_name:
            raise InvalidArgumentError(
                f"Two of the envs are {source.name!r}: prompts are tagged with the env's "
                "registered id, so each may appear once (train the variants in separate runs)."
            )
        by_name[source.name] = source
    return by_name


def make_prompt_dataset(
    env_id: EnvLike | Sequence[EnvLike],
    n: int,
    seed: int = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """A 🤗 ``datasets.Dataset`` with one row per task: seeds ``seed, seed + 1, …, seed + n - 1``
    (with several envs, row ``k`` is env ``k % m`` with seed ``seed + k // m``, as in
    :func:`mtenvs.rollout.rollout`).

    Columns: ``prompt`` (conversational: the system prompt and the first observation, the
    first message tagged with :data:`TASK_KEY`), ``env_id`` (the registered id), ``seed``
    and ``task_id``. TRL repeats each row ``num_generations`` times, which makes the GRPO
    group: several episodes of the same task.

    Args:
        env_id: The env: a registered mtenvs id (``"mtenvs/Maze-v0"``), an ``EnvSpec``, a
            factory returning a wrapped env, or a list of them.
        n: Number of tasks (rows).
        seed: Seed of the first task.
        env_kwargs: Constructor arguments (ids and specs); pass the same ones to
            :func:`make_rollout_func` so that episodes start from the prompts shown here.
    """
    check_int_range("n", n, 1)
    datasets = _require("datasets")
    sources = list(_sources_by_name(env_id, env_kwargs).values())
    envs = [s.make() for s in sources]
    rows: dict[str, list[Any]] = {"prompt": [], "env_id": [], "seed": [], "task_id": []}
    try:
        for k in range(n):
            source, env = sources[k % len(envs)], envs[k % len(envs)]
            task_seed = seed + k // len(envs)
            obs, info = env.reset(seed=task_seed)
            text, _, chat = observation_parts(obs)
            tag = json.dumps({"env_id": source.name, "seed": task_seed})
            if chat is not None:  # the env's observation is the conversation (ChatHistory)
                prompt = [{**m, TASK_KEY: tag if i == 0 else None} for i, m in enumerate(chat)]
            else:
                system = str(info.get("system_prompt", ""))
                prompt = [
                    {"role": "system", "content": system, TASK_KEY: tag},
                    {"role": "user", "content": text, TASK_KEY: None},
                ]
            rows["prompt"].append(prompt)
            rows["env_id"].append(source.name)
            rows["seed"].append(task_seed)
            rows["task_id"].append(str(info.get("task_id", "")))
    finally:
        for env in envs:
            env.close()
    return datasets.Dataset.from_dict(rows)


def task_of(prompt: Any, default_env_id: str | None = None) -> tuple[str, int]:
    """The ``(env_id, seed)`` a prompt from :func:`make_prompt_dataset` stands for.

    Raises:
        InvalidArgumentError: The prompt carries no task tag.
    """
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], Mapping):
        tag = prompt[0].get(TASK_KEY)
        if tag:
            data = json.loads(tag) if isinstance(tag, str) else dict(tag)
            return str(data.get("env_id") or default_env_id), int(data["seed"])
    raise InvalidArgumentError(
        "This prompt carries no mtenvs task tag; build the train dataset with "
        "mtenvs.integrations.trl.make_prompt_dataset (conversational prompts whose first "
        f"message has a {TASK_KEY!r} key)."
    )


# ---------------------------------------------------------------------------- task groups


def play_task_groups(
    agent: Agent,
    tasks: Sequence[tuple[EnvLike, int, int]],
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    num_envs: int | None = None,
    executor: Executor = "thread",
    workers: int | None = None,
) -> list[list[Trajectory]]:
    """Play ``count`` episodes of each ``(env, seed, count)`` task, all groups at once
    (``env``: an id, an ``EnvSpec`` or a factory).

    One :func:`mtenvs.rollout.rollout` call with ``tasks=``: every round makes **one**
    ``agent.act`` call for every episode waiting in any group. ``num_envs`` episodes are in
    flight at once (default: all of them). Returns the trajectories of each task, in order.
    """
    from mtenvs.rollout import rollout

    if not tasks:
        return []
    played: list[list[Trajectory]] = [[] for _ in tasks]
    total = sum(count for _, _, count in tasks)
    for traj in rollout(
        None,
        agent,
        tasks=list(tasks),
        num_envs=num_envs or max(total, 1),
        env_kwargs=env_kwargs,
        executor=executor,
        workers=workers,
    ):
        played[traj.group].append(traj)
    return played


# ---------------------------------------------------------------------------- rollout_func


def trainer_generate(trainer: Any) -> GenerateFn:
    """Generation through the trainer's own path (transformers ``generate``, paged
    transformers or vLLM, with the trainer's sampling settings), one completion per prompt.

    This calls ``GRPOTrainer._generate_single_turn``, which TRL's own multi-turn tool loop
    uses; it is private in TRL, so a TRL upgrade may need a change here.
    """

    def generate(prompts: list[list[int]]) -> tuple[list[list[int]], list[list[float]] | None]:
        completion_ids, logprobs = trainer._generate_single_turn(prompts, None, {}, 1)
        ids = [list(map(int, c)) for c in completion_ids]
        return ids, (None if logprobs is None else [list(map(float, lp)) for lp in logprobs])

    return generate


def make_rollout_func(
    env_id: EnvLike | Sequence[EnvLike] | None = None,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    max_turns: int | None = None,
    num_envs: int | None = None,
    executor: Executor = "thread",
    workers: int | None = None,
    generate: Callable[[Any], GenerateFn] = trainer_generate,
) -> Callable[[list[Any], Any], dict[str, Any]]:
    """A ``rollout_func`` for ``trl.GRPOTrainer`` that plays mtenvs episodes.

    For each prompt (tagged by :func:`make_prompt_dataset`; TRL passes each task
    ``num_generations`` times) it plays one episode of that task with the trainer's current
    model and returns, per episode:

    * ``prompt_ids``: the rendered system prompt and first observation;
    * ``completion_ids``: every later token of the episode (replies and observations);
    * ``env_mask``: 1 on reply tokens, 0 on observation tokens (TRL multiplies it into the
      loss mask, so observations are never trained on, and counts only mask-1 tokens as
      completion length);
    * ``logprobs``: sampling log-probs (vLLM) or ``None`` (transformers generation);
    * extra fields TRL forwards to reward functions: ``env_reward`` (episode return),
      ``env_success``, ``env_turns``, ``env_task_id``.

    The episode's token budget is the trainer's ``max_completion_length``: once spent, no
    more tokens are generated, the record is cut there and TRL sees a truncated completion
    (``mask_truncated_completions=True`` drops it from the loss). The env reward still
    covers the whole episode.

    Args:
        env_id: The env(s) the prompts were made from (as given to
            :func:`make_prompt_dataset`): a prompt tagged with a registered id plays the
            env (id, spec or factory of a wrapped env) of that name, or the id itself when
            none is given here; an untagged env_id plays the only env given.
        env_kwargs: Constructor arguments of every env (as given to
            :func:`make_prompt_dataset`).
        max_turns: Shorthand for ``env_kwargs["max_turns"]``: the turn limit per episode.
        num_envs: Episodes in flight at once (default: every episode of the batch).
        executor: :func:`mtenvs.rollout.rollout` executor for env steps.
        workers: Env threads / processes / actors (``rollout``'s ``workers``).
        generate: ``generate(trainer) -> GenerateFn``; the default is
            :func:`trainer_generate`.
    """
    kwargs = dict(env_kwargs or {})
    if max_turns is not None:
        kwargs["max_turns"] = check_int_range("max_turns", max_turns, 1)
    if num_envs is not None:
        check_int_range("num_envs", num_envs, 1)
    by_name = {} if env_id is None else _sources_by_name(env_id, kwargs)
    default = next(iter(by_name)) if len(by_name) == 1 else None

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        tokenizer = getattr(trainer, "processing_class", None)
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
        agent = TokenAgent(
            tokenizer,
            generate(trainer),
            eos_token_ids=list(getattr(trainer, "eos_token_ids", None) or []),
            max_completion_tokens=getattr(trainer, "max_completion_length", None),
            chat_template=getattr(trainer, "chat_template", None),
            template_kwargs=getattr(trainer, "chat_template_kwargs", None),
        )
        tasks = [task_of(p, default) for p in prompts]
        groups: dict[tuple[str, int], list[int]] = {}
        for i, task in enumerate(tasks):
            groups.setdefault(task, []).append(i)
        played = play_task_groups(
            agent,
            [
                (by_name[name].target if name in by_name else name, seed, len(indices))
                for (name, seed), indices in groups.items()
            ],
            env_kwargs=kwargs,
            num_envs=num_envs,
            executor=executor,
            workers=workers,
        )
        trajectories: list[Trajectory | None] = [None] * len(prompts)
        for indices, group_trajs in zip(groups.values(), played):
            for i, played_traj in zip(indices, group_trajs):
                trajectories[i] = played_traj
        out: dict[str, list[Any]] = {
            "prompt_ids": [],
            "completion_ids": [],
            "env_mask": [],
            "logprobs": [],
            "env_reward": [],
            "env_success": [],
            "env_turns": [],
            "env_task_id": [],
        }
        all_logprobs = True
        for prompt, traj in zip(prompts, trajectories):
            assert traj is not None
            _check_prompt(prompt, traj)
            tokens = agent.episode_tokens(traj)
            out["prompt_ids"].append(tokens.prompt_ids)
            out["completion_ids"].append(tokens.completion_ids)
            out["env_mask"].append(tokens.env_mask)
            out["logprobs"].append(tokens.logprobs)
            all_logprobs = all_logprobs and tokens.logprobs is not None
            out["env_reward"].append(traj.episode_return)
            out["env_success"].append(traj.success)
            out["env_turns"].append(len(traj.turns))
            out["env_task_id"].append(traj.task_id)
        agent.reset()
        result: dict[str, Any] = dict(out)
        if not all_logprobs:
            result["logprobs"] = None
        return result

    return rollout_func


def _check_prompt(prompt: Any, traj: Trajectory) -> None:
    """Warn when the dataset prompt is not the episode's start (different env kwargs)."""
    if not (isinstance(prompt, list) and len(prompt) >= 2 and traj.turns):
        return
    if (
        prompt[0].get("content") != traj.system_prompt
        or prompt[1].get("content") != traj.turns[0].observation
    ):
        warnings.warn(
            f"The prompt of {traj.env_id} seed {traj.seed} differs from the episode's start; "
            "pass the same env_kwargs to make_prompt_dataset and make_rollout_func.",
            stacklevel=3,
        )


def reward_from_env(
    completions: list[Any], env_reward: list[float] | None = None, **kwargs: Any
) -> list[float]:
    """GRPO reward function: the env's episode return, as computed by the rollout.

    TRL passes the ``env_reward`` field returned by :func:`make_rollout_func`'s rollout.
    """
    if env_reward is None:
        raise InvalidArgumentError(
            "reward_from_env needs the 'env_reward' field: pass "
            "rollout_func=make_rollout_func(...) to GRPOTrainer."
        )
    if len(env_reward) != len(completions):
        raise InvalidArgumentError(
            f"{len(env_reward)} env rewards for {len(completions)} completions."
        )
    return [float(r) for r in env_reward]
