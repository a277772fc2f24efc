"""Conversation wrappers: observations as chat messages, with optional summarised history.

* :class:`ChatHistory` turns each observation into the whole conversation so far — a list of
  OpenAI-style messages, system prompt first — so an agent that only sees the current
  observation still has the full context.
* :class:`ContextSummary` keeps the last ``keep_last`` turns verbatim and replaces older ones
  with a summary, made by a given agent or by truncation (the SUPO / MEM1 setting of
  bounded-context multi-turn agents).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces

from mtenvs.core.agent import AgentInput
from mtenvs.core.spaces import obs_text, text_space
from mtenvs.error import InvalidArgumentError, check_int_range

__all__ = ["ChatHistory", "ContextSummary", "message_space"]

Message = dict[str, str]


def message_space() -> spaces.Sequence:
    """``Sequence(Dict(role, content))``: a chat transcript."""
    return spaces.Sequence(
        spaces.Dict({"role": text_space(16), "content": text_space()}), stack=False
    )


def _reply_text(action: Any) -> str:
    if isinstance(action, str):
        return action
    if isinstance(action, dict) and isinstance(action.get("content"), str):
        return action["content"]
    return repr(action)


class ChatHistory(
    gym.ObservationWrapper[tuple[Message, ...], Any, Any], gym.utils.RecordConstructorArgs
):
    """Observations become the chat transcript so far: a tuple of messages.

    ``(system, user, assistant, user, …)``: the system prompt from the reset info, then
    each observation's text as a ``user`` message and each reply as an ``assistant`` one.
    Image parts of ``text+image`` observations are dropped (the text is kept).

    :func:`mtenvs.rollout.rollout` sends this transcript to the agent as the conversation
    (instead of building its own), so what the wrapper keeps is what the agent sees.
    """

    def __init__(self, env: gym.Env[Any, Any], *, include_system: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, include_system=include_system)
        gym.ObservationWrapper.__init__(self, env)
        self.include_system = include_system
        self.observation_space = message_space()
        self._messages: list[Message] = []
        self._pending_reply: str | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[tuple[Message, ...], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._messages = []
        if self.include_system:
            self._messages.append({"role": "system", "content": str(info.get("system_prompt", ""))})
        self._pending_reply = None
        return self.observation(obs), info

    def step(
        self, action: Any
    ) -> tuple[tuple[Message, ...], SupportsFloat, bool, bool, dict[str, Any]]:
        self._pending_reply = _reply_text(action)
        return super().step(action)

    def observation(self, observation: Any) -> tuple[Message, ...]:
        if self._pending_reply is not None:
            self._messages.append({"role": "assistant", "content": self._pending_reply})
            self._pending_reply = None
        self._messages.append({"role": "user", "content": obs_text(observation)})
        return tuple(dict(m) for m in self._messages)


SUMMARY_PROMPT = (
    "Summarise the earlier part of this episode for your future self: the facts learned, "
    "actions tried and their results. Be brief."
)


class ContextSummary(ChatHistory):
    """Like :class:`ChatHistory`, but only the last ``keep_last`` turns stay verbatim.

    A turn is a reply and the observation after it; the first observation and older turns
    are summarised. ``keep_last >= 1``, so the current observation is always verbatim.

    Older turns are folded into one ``user`` message starting with ``"Summary of earlier
    turns:"``, placed after the system prompt. With ``summarizer`` (any
    :class:`mtenvs.agents.Agent`) the summary is that agent's reply to ``SUMMARY_PROMPT``
    plus the previous summary and the dropped turns; without one it is the dropped turns
    truncated to ``max_chars_per_turn`` each, the whole capped at ``max_summary_chars``
    (oldest text dropped first).

    Info key added: ``summarised_turns`` (how many turns the summary covers).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        keep_last: int = 4,
        *,
        summarizer: Any = None,
        max_chars_per_turn: int = 200,
        max_summary_chars: int = 2000,
    ) -> None:
        # Recorded before ChatHistory records its own (the first record wins); not
        # deep-copied: the summarizer may hold a model.
        gym.utils.RecordConstructorArgs.__init__(
            self,
            keep_last=keep_last,
            summarizer=summarizer,
            max_chars_per_turn=max_chars_per_turn,
            max_summary_chars=max_summary_chars,
            _disable_deepcopy=True,
        )
        super().__init__(env)
        self.keep_last = check_int_range("keep_last", keep_last, 1)
        if summarizer is not None and not callable(getattr(summarizer, "act", None)):
            raise InvalidArgumentError(
                f"summarizer must be an mtenvs Agent (with act()), got {type(summarizer).__name__}."
            )
        self.summarizer = summarizer
        self.max_chars_per_turn = check_int_range("max_chars_per_turn", max_chars_per_turn, 1)
        self.max_summary_chars = check_int_range("max_summary_chars", max_summary_chars, 1)
        self._summary = ""
        self._summarised = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[tuple[Message, ...], dict[str, Any]]:
        self._summary, self._summarised = "", 0
        obs, info = super().reset(seed=seed, options=options)
        return obs, {**info, "summarised_turns": 0}

    def step(
        self, action: Any
    ) -> tuple[tuple[Message, ...], SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "summarised_turns": self._summarised}

    def observation(self, observation: Any) -> tuple[Message, ...]:
        full = list(super().observation(observation))
        n_system = 1 if full and full[0]["role"] == "system" else 0
        system, first, rest = full[:n_system], full[n_system], full[n_system + 1 :]
        # After the first user message the dialogue is (assistant, user) pairs: one turn each.
        turns = [rest[i : i + 2] for i in range(0, len(rest), 2)]
        if len(turns) <= self.keep_last:
            return tuple(full)
        dropped = turns[: len(turns) - self.keep_last]
        folded = [] if self._summary else [first]
        folded += [m for pair in dropped for m in pair]
        self._summary = self._summarise(self._summary, folded)
        self._summarised += len(dropped)
        kept = [m for pair in turns[len(turns) - self.keep_last :] for m in pair]
        self._messages = [*system, {"role": "user", "content": self._summary_message()}, *kept]
        return tuple(dict(m) for m in self._messages)

    def _summary_message(self) -> str:
        return f"Summary of earlier turns:\n{self._summary}"

    def _summarise(self, previous: str, messages: list[Message]) -> str:
        if self.summarizer is None:
            parts = [previous] if previous else []
            for m in messages:
                text = m["content"][: self.max_chars_per_turn]
                parts.append(f"[{m['role']}] {text}")
            return "\n".join(parts)[-self.max_summary_chars :]
        transcript = "\n".join(f"[{m['role']}] {m['content']}" for m in messages)
        request = [
            {"role": "system", "content": SUMMARY_PROMPT},
            {
                "role": "user",
                "content": f"Previous summary:\n{previous}\n\nNew turns:\n{transcript}",
            },
        ]
        (reply,) = self.summarizer.act([AgentInput(messages=request, env=self.env.unwrapped)])
        return str(reply)[: self.max_summary_chars]
