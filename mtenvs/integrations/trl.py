"""Train on mtenvs envs with TRL's ``GRPOTrainer``.

TRL's ``GRPOTrainer`` takes a ``rollout_func(prompts, trainer) -> dict`` that replaces its
single-turn generation (TRL ≥ 1.10; the API is marked experimental by TRL). This module
provides one that plays whole multi-turn episodes:

* :func:`make_prompt_dataset` builds the training set: one row per task seed, whose
  ``prompt`` is the episode's start (system prompt and first observation) tagged with the
  env id and seed.
* :func:`make_rollout_func` returns the ``rollout_func``. For each prompt it plays that
  task through :func:`mtenvs.rollout.rollout` (one call for the whole batch, with
  ``tasks=``: one generate call per round, see :func:`play_task_groups`) with
  a :class:`TokenAgent` that generates with the trainer's current model (TRL's own
  generation path: transformers, or vLLM when the trainer uses it). The completion is the
  episode after the prompt, as one token sequence: every assistant reply exactly as
  generated, and between replies the env's observation in chat-template form.
  ``env_mask`` (which TRL multiplies into the loss mask) is 1 on the model's tokens and 0
  on the observation tokens, so the env's text is context, never a training target.
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
from dataclasses import dataclass, field
from typing import Any

from mtenvs.agents.base import Agent, AgentInput, Message
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory

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

#: ``generate(prompt_ids) -> (completion_ids, logprobs or None)``, one completion per prompt.
GenerateFn = Callable[[list[list[int]]], tuple[list[list[int]], list[list[float]] | None]]


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


def make_prompt_dataset(
    env_id: str,
    n: int,
    seed: int = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """A 🤗 ``datasets.Dataset`` with one row per task: seeds ``seed, seed + 1, …, seed + n - 1``.

    Columns: ``prompt`` (conversational: the system prompt and the first observation, the
    first message tagged with :data:`TASK_KEY`), ``env_id``, ``seed`` and ``task_id``. TRL
    repeats each row ``num_generations`` times, which makes the GRPO group: several episodes
    of the same task.

    Args:
        env_id: A registered mtenvs id, e.g. ``"mtenvs/Maze-v0"``.
        n: Number of tasks (rows).
        seed: Seed of the first task.
        env_kwargs: Constructor arguments; pass the same ones to :func:`make_rollout_func`
            so that episodes start from the prompts shown here.
    """
    import gymnasium as gym

    import mtenvs  # noqa: F401  (registers the ids)

    check_int_range("n", n, 1)
    datasets = _require("datasets")
    env = gym.make(env_id, **dict(env_kwargs or {}))
    rows: dict[str, list[Any]] = {"prompt": [], "env_id": [], "seed": [], "task_id": []}
    try:
        for task_seed in range(seed, seed + n):
            obs, info = env.reset(seed=task_seed)
            text = obs if isinstance(obs, str) else str(obs.get("text", ""))
            tag = json.dumps({"env_id": env_id, "seed": task_seed})
            rows["prompt"].append(
                [
                    {
                        "role": "system",
                        "content": str(info.get("system_prompt", "")),
                        TASK_KEY: tag,
                    },
                    {"role": "user", "content": text, TASK_KEY: None},
                ]
            )
            rows["env_id"].append(env_id)
            rows["seed"].append(task_seed)
            rows["task_id"].append(str(info.get("task_id", "")))
    finally:
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


# ---------------------------------------------------------------------------- agent


@dataclass
class EpisodeTokens:
    """The token sequence of one episode so far."""

    #: The rendered start of the episode, generation prompt included.
    prompt_ids: list[int]
    #: Everything after the prompt: replies and, between them, observation turns.
    completion_ids: list[int] = field(default_factory=list)
    #: 1 on tokens the model generated, 0 on tokens the env's text became.
    env_mask: list[int] = field(default_factory=list)
    #: Sampling log-probabilities (0.0 on env tokens); ``None`` if the backend gives none.
    logprobs: list[float] | None = field(default_factory=list)
    #: The token budget ran out: later turns add no tokens.
    exhausted: bool = False

    def extend(
        self, ids: Sequence[int], *, generated: bool, logprobs: Sequence[float] | None = None
    ) -> EpisodeTokens:
        """A copy with ``ids`` appended (episodes branch, so states are never mutated)."""
        if self.logprobs is None or (generated and logprobs is None):
            new_logprobs: list[float] | None = None
        else:
            new_logprobs = self.logprobs + (
                list(logprobs) if generated and logprobs is not None else [0.0] * len(ids)
            )
        return EpisodeTokens(
            prompt_ids=self.prompt_ids,
            completion_ids=self.completion_ids + list(ids),
            env_mask=self.env_mask + [int(generated)] * len(ids),
            logprobs=new_logprobs,
            exhausted=self.exhausted,
        )


def _key(messages: Sequence[Message]) -> tuple[tuple[str, str], ...]:
    return tuple((str(m.get("role", "")), str(m.get("content", ""))) for m in messages)


class TokenAgent:
    """An :class:`~mtenvs.agents.Agent` that keeps every episode as exact token ids.

    The first turn of an episode renders the conversation with the chat template
    (generation prompt included). Each later turn is the previous context, the reply's
    tokens as generated, and then the new observation's tokens: the difference between the
    template rendering of ``[user, assistant "", user obs]`` and of ``[user]`` with a
    generation prompt, i.e. the assistant turn's closing tokens, the user turn and the next
    generation prompt. If the reply already ends with the same closing token (an instruct
    model's end-of-turn EOS), it is not repeated. Nothing is decoded and re-encoded, so the
    tokens trained on are exactly those sampled (no retokenization drift).

    Args:
        tokenizer: A 🤗 tokenizer.
        generate: ``generate(prompt_ids) -> (completion_ids, logprobs or None)``.
        eos_token_ids: Token ids that end a reply (they are kept in the token record and
            dropped from the decoded text).
        max_completion_tokens: Token budget of an episode after its prompt. Once spent, the
            agent replies ``""`` without generating until the env ends the episode (cap it
            with the env's ``max_turns``); the token record is cut to the budget.
        chat_template: A template overriding the tokenizer's. ``None``: the tokenizer's, or
            :data:`mtenvs.agents.hf.FALLBACK_CHAT_TEMPLATE` when it has none.
        template_kwargs: Extra ``apply_chat_template`` arguments (e.g. ``enable_thinking``).
        name: Name recorded in trajectories.
    """

    def __init__(
        self,
        tokenizer: Any,
        generate: GenerateFn,
        *,
        eos_token_ids: Sequence[int] = (),
        max_completion_tokens: int | None = None,
        chat_template: str | None = None,
        template_kwargs: Mapping[str, Any] | None = None,
        name: str = "trl",
    ) -> None:
        if max_completion_tokens is not None:
            check_int_range("max_completion_tokens", max_completion_tokens, 1)
        self.name = name
        self.tokenizer = tokenizer
        self._generate = generate
        self.eos_token_ids = frozenset(int(t) for t in eos_token_ids)
        if not self.eos_token_ids and getattr(tokenizer, "eos_token_id", None) is not None:
            self.eos_token_ids = frozenset({int(tokenizer.eos_token_id)})
        self.max_completion_tokens = max_completion_tokens
        if chat_template is None and not getattr(tokenizer, "chat_template", None):
            from mtenvs.agents.hf import FALLBACK_CHAT_TEMPLATE

            chat_template = FALLBACK_CHAT_TEMPLATE
        self.chat_template = chat_template
        self.template_kwargs = dict(template_kwargs or {})
        self._states: dict[tuple[tuple[str, str], ...], EpisodeTokens] = {}
        self._suffix_cache: dict[str, list[int]] = {}
        #: Number of ``generate`` calls made (one per :meth:`act` with work to do).
        self.generate_calls = 0

    # ------------------------------------------------------------------ rendering

    def _render_text(self, messages: list[Message], *, generation_prompt: bool) -> str:
        text = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=generation_prompt,
            **self.template_kwargs,
        )
        return str(text)

    def _encode(self, text: str) -> list[int]:
        # The template writes BOS and other special tokens itself.
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the episode's start, generation prompt included."""
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        return self._encode(self._render_text(plain, generation_prompt=True))

    def observation_ids(self, message: Message) -> list[int]:
        """Tokens between a reply and the next one: closing, the user turn, generation prompt."""
        content = str(message.get("content", ""))
        cached = self._suffix_cache.get(content)
        if cached is not None:
            return cached
        probe: Message = {"role": "user", "content": "."}
        base = self._render_text([probe], generation_prompt=True)
        full = self._render_text(
            [probe, {"role": "assistant", "content": ""}, {"role": "user", "content": content}],
            generation_prompt=True,
        )
        if not full.startswith(base):
            raise ValueError(
                "The chat template is not prefix-preserving (rendering a longer conversation "
                "changes the start), so episode tokens cannot be built by concatenation; use a "
                "template that is, e.g. trl.chat_template_utils.get_training_chat_template."
            )
        ids = self._encode(full[len(base) :])
        if len(self._suffix_cache) < 4096:
            self._suffix_cache[content] = ids
        return ids

    # ------------------------------------------------------------------ acting

    def _state_for(self, messages: Sequence[Message]) -> EpisodeTokens:
        """The token state in which ``messages`` (ending on a user turn) awaits a reply."""
        if not any(m.get("role") == "assistant" for m in messages):
            return EpisodeTokens(prompt_ids=self.prompt_ids(messages))
        previous = self._states.get(_key(messages[:-1]))
        if previous is None:
            raise InvalidArgumentError(
                "TokenAgent got a conversation whose earlier replies it did not write; one "
                "TokenAgent must play every turn of its episodes."
            )
        if previous.exhausted:
            return previous
        suffix = self.observation_ids(messages[-1])
        last = previous.completion_ids[-1] if previous.completion_ids else None
        if suffix and last is not None and last in self.eos_token_ids and suffix[0] == last:
            suffix = suffix[1:]
        return previous.extend(suffix, generated=False)

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Reply to every conversation with one batched ``generate`` call."""
        states = [self._state_for(item.messages) for item in batch]
        budget = self.max_completion_tokens
        todo: list[int] = []
        for i, state in enumerate(states):
            if budget is not None and len(state.completion_ids) >= budget:
                state.exhausted = True
            if not state.exhausted:
                todo.append(i)
        replies = [""] * len(batch)
        if todo:
            self.generate_calls += 1
            contexts = [states[i].prompt_ids + states[i].completion_ids for i in todo]
            completions, logprobs = self._generate(contexts)
            if len(completions) != len(todo):
                raise RuntimeError(
                    f"generate returned {len(completions)} completions for {len(todo)} prompts."
                )
            for k, i in enumerate(todo):
                ids = [int(t) for t in completions[k]]
                lps = None if logprobs is None else logprobs[k]
                states[i] = states[i].extend(ids, generated=True, logprobs=lps)
                replies[i] = self.tokenizer.decode(
                    [t for t in ids if t not in self.eos_token_ids], skip_special_tokens=True
                )
        for item, state, reply in zip(batch, states, replies):
            messages = [*item.messages, {"role": "assistant", "content": reply}]
            self._states[_key(messages)] = state
        return replies

    def episode_tokens(self, trajectory: Trajectory) -> EpisodeTokens:
        """The token record of a finished episode this agent played, cut to the budget."""
        state = self._states.get(_key(trajectory.messages()))
        if state is None:
            raise InvalidArgumentError(
                f"No token record for the {trajectory.env_id} episode with seed "
                f"{trajectory.seed}; was it played by this TokenAgent?"
            )
        budget = self.max_completion_tokens
        if budget is None or len(state.completion_ids) <= budget:
            return state
        return EpisodeTokens(
            prompt_ids=state.prompt_ids,
            completion_ids=state.completion_ids[:budget],
            env_mask=state.env_mask[:budget],
            logprobs=None if state.logprobs is None else state.logprobs[:budget],
            exhausted=True,
        )

    def reset(self) -> None:
        """Forget every episode (call between batches to free memory)."""
        self._states.clear()


# ---------------------------------------------------------------------------- task groups


def play_task_groups(
    agent: Agent,
    tasks: Sequence[tuple[str, int, int]],
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    num_envs: int | None = None,
    executor: str = "thread",
    workers: int | None = None,
) -> list[list[Trajectory]]:
    """Play ``count`` episodes of each ``(env_id, seed, count)`` task, all groups at once.

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
    env_id: str | None = None,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    max_turns: int | None = None,
    num_envs: int | None = None,
    executor: str = "thread",
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
        env_id: Env of prompts without an ``env_id`` in their tag (normally unused).
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
        tasks = [task_of(p, env_id) for p in prompts]
        groups: dict[tuple[str, int], list[int]] = {}
        for i, task in enumerate(tasks):
            groups.setdefault(task, []).append(i)
        played = play_task_groups(
            agent,
            [(env, seed, len(indices)) for (env, seed), indices in groups.items()],
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
