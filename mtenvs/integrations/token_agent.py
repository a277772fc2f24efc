"""Token bookkeeping for training on whole episodes: an agent that keeps exact token ids.

* :class:`EpisodeTokens` is the token record of one episode: the rendered prompt, then
  every reply as generated and, between replies, the observation in chat-template form,
  with a mask that tells the model's tokens from the env's (and their log-probs).
* :class:`TokenAgent` is an :class:`~mtenvs.agents.Agent` that plays episodes through a
  token-level ``generate`` function and keeps each one as an :class:`EpisodeTokens`, so
  the tokens trained on are exactly those sampled.

Trainer glue that uses them lives in :mod:`mtenvs.integrations.trl`. Nothing here imports
a tokenizer or a trainer: the tokenizer is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtenvs.agents.base import AgentInput, Message
from mtenvs.error import InvalidArgumentError, check_int_range
from mtenvs.rollout.records import Trajectory

__all__ = ["EpisodeTokens", "GenerateFn", "TokenAgent"]

#: ``generate(prompt_ids) -> (completion_ids, logprobs or None)``, one completion per prompt.
GenerateFn = Callable[[list[list[int]]], tuple[list[list[int]], list[list[float]] | None]]


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
