"""``HFAgent``: batched generation with a local 🤗 transformers model.

A causal language model answers from the text of the conversation; a vision-language model
(a checkpoint saved with a processor that takes images) also sees the images of
observations with a picture. torch and transformers are imported when an ``HFAgent`` is
built, never by ``import mtenvs``.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mtenvs.agents.content import has_images, parts_message, text_message
from mtenvs.agents.hf_loading import (
    FALLBACK_CHAT_TEMPLATE,
    Checkpoint,
    DTypeName,
    import_backend,
    load_checkpoint,
    resolve_device,
    resolve_dtype,
)
from mtenvs.core.agent import AgentInput, Message, message_images, message_text
from mtenvs.error import InvalidArgumentError, check_int_range

if TYPE_CHECKING:
    import torch

__all__ = [
    "FALLBACK_CHAT_TEMPLATE",
    "FALLBACK_STOP",
    "HFAgent",
    "ImagesIgnoredWarning",
    "resolve_device",
    "resolve_dtype",
]

#: Default stop strings with :data:`FALLBACK_CHAT_TEMPLATE`: a base model otherwise goes on
#: to write the next user turn itself.
FALLBACK_STOP: tuple[str, ...] = ("<|user|>", "<|system|>")

_Prompt = TypeVar("_Prompt")


class ImagesIgnoredWarning(UserWarning):
    """A text-only model was given images: it answers from the text parts alone.

    Shown once per :class:`HFAgent`. Make it an error with
    ``warnings.simplefilter("error", ImagesIgnoredWarning)``.
    """


@dataclass
class _VisionPrompt:
    """A conversation rendered for a processor: the template's text and its images, in
    order; ``length`` counts the text's tokens before image tokens are expanded."""

    text: str
    images: list[Any]
    length: int


class HFAgent:
    """Answers a batch of conversations with one left-padded ``generate`` call.

    **Images.** A message's content is a string or, for an observation with an image, a
    list of Hugging Face content parts (``{"type": "image", "image": PIL.Image}``,
    ``{"type": "text", …}``; see :func:`mtenvs.core.agent.user_message`). When the
    checkpoint has a processor that takes images (``AutoProcessor`` gives one with an
    ``image_processor``: LLaVA, Qwen2-VL, Idefics3, …), the model is loaded with
    ``AutoModelForImageTextToText``, each conversation is rendered by the processor's chat
    template (string contents become one text part) and the batch's images go to the
    processor with the texts, so the vision tower sees them (``pixel_values`` reach
    ``generate``). Otherwise the model is a text-only ``AutoModelForCausalLM``: the text
    parts of each message are joined and its images are left out, with an
    :class:`ImagesIgnoredWarning` the first time (use a vision-language checkpoint, or an
    env's ``obs_mode="text"``). The attribute ``processor`` is the processor, or ``None``.

    Each conversation is rendered with the tokenizer's chat template
    (``add_generation_prompt=True``), or :data:`FALLBACK_CHAT_TEMPLATE` when the tokenizer
    has none. If a template rejects the ``system`` role, the system message is merged into
    the first user message. Prompts are left-padded so every reply starts right after its
    prompt: a prompt's greedy reply does not depend on what else is in the batch (up to
    floating-point round-off, which half-precision GPU kernels can show). With a processor,
    the processor tokenizes and pads (its tokenizer's ``padding_side`` is set to left).

    Each reply is cut at the first stop string (the stop string itself is dropped unless
    ``include_stop=True``) and decoded without special tokens. Generation also ends at the
    tokenizer's EOS token.

    Sampling is reproducible: with a ``seed``, the ``n``-th ``act`` call of two agents built
    alike draws the same samples, without touching torch's global random state. Without a
    seed, sampling uses torch's global generator.

    The loaded ``model`` and ``tokenizer`` are public attributes, so a trainer can update the
    weights in place between rollouts.

    Args:
        model_name_or_path: A directory written by ``save_pretrained`` (or a Hub id, with
            ``allow_download=True`` or a model already in the local Hub cache).
        device: ``"auto"`` (CUDA when present, else MPS, else CPU) or a torch device string.
        dtype: ``"auto"`` (bfloat16 on CUDA when supported, else float32), ``"float32"``,
            ``"float16"``, ``"bfloat16"`` or a ``torch.dtype``.
        max_new_tokens: Most tokens generated per reply.
        temperature: ``0.0`` is greedy decoding; above it, sampling at that temperature.
        top_p: Nucleus sampling mass (sampling only).
        top_k: Sample among the ``k`` most likely tokens (sampling only).
        stop: Stop strings. ``None``: none with the tokenizer's own chat template,
            :data:`FALLBACK_STOP` with the fallback template.
        include_stop: Keep the matched stop string at the end of the reply (useful with
            ``stop=("</action>",)``, whose closing tag the env needs).
        seed: Seed for sampling (see above).
        batch_size: Most conversations per ``generate`` call; larger batches are split into
            prompts of similar length. ``None``: the whole batch at once.
        max_prompt_tokens: Longer prompts are shortened from the left: whole early turns
            are dropped first (the system message and the last message are kept; with
            ``keep_task`` also the first user message), then the start of the last message;
            only if the system message alone does not fit is it cut too. With a processor
            only whole turns are dropped (image tokens cannot be cut), counting each
            image's expanded tokens. ``None``: prompts are never shortened.
        drop_turns: How many early turns (user and assistant message pairs) go at a time
            when a text prompt is too long. With ``1`` a long conversation loses one turn
            per call, so its prompt changes right after the system message every turn;
            with ``k`` the dropped part grows ``k`` turns at a time, counted from the
            conversation's start, so the kept prompt's beginning stays the same for about
            ``k`` turns and an engine that caches prompt prefixes (llama.cpp) reuses it.
        keep_task: When early turns are dropped, keep the first user message (an env's
            first observation states the task: the question, the level, the goal) and drop
            the turns after it, while the system message, the task and the last reply and
            observation fit; only then may the task go too. Off: the oldest turns go
            first, the task with them (how the adapters shipped before this option were
            trained; their ``training.json`` says which they need). Text prompts only.
        allow_download: Let transformers fetch files from the Hugging Face Hub. Off by
            default: only local files (and the local Hub cache) are read.
        name: Name recorded in trajectories (default ``hf:<last path component>``).
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        device: str = "auto",
        dtype: DTypeName | torch.dtype = "auto",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: Sequence[str] | None = None,
        include_stop: bool = False,
        seed: int | None = None,
        batch_size: int | None = None,
        max_prompt_tokens: int | None = None,
        drop_turns: int = 1,
        keep_task: bool = True,
        allow_download: bool = False,
        name: str | None = None,
    ) -> None:
        torch, _ = import_backend()
        check_int_range("max_new_tokens", max_new_tokens, 1)
        if batch_size is not None:
            check_int_range("batch_size", batch_size, 1)
        if max_prompt_tokens is not None:
            check_int_range("max_prompt_tokens", max_prompt_tokens, 1)
        if top_k is not None:
            check_int_range("top_k", top_k, 1)
        if not temperature >= 0.0:
            raise InvalidArgumentError(f"temperature must be >= 0, got {temperature!r}.")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {top_p!r}.")
        if isinstance(stop, str):
            raise InvalidArgumentError(
                f"stop must be a sequence of strings, got the string {stop!r}; "
                f"write stop=({stop!r},)."
            )
        if stop is not None and not all(isinstance(s, str) and s for s in stop):
            raise InvalidArgumentError(f"stop strings must be non-empty strings, got {stop!r}.")

        self._torch = torch
        self.device = resolve_device(device, torch)
        self.dtype = resolve_dtype(dtype, self.device, torch)
        source = os.fspath(model_name_or_path)
        self.name = name if name is not None else f"hf:{Path(source).name or source}"
        checkpoint = self._load_checkpoint(source, allow_download=allow_download)
        tokenizer, processor = checkpoint.tokenizer, checkpoint.processor
        self.tokenizer = tokenizer
        self.processor = processor
        # ``None`` when a subclass generates with another engine (see _load_checkpoint).
        self.model: Any = (
            None if checkpoint.model is None else checkpoint.model.to(self.device).eval()
        )
        self._chat_template = checkpoint.chat_template
        if stop is None:
            stop = FALLBACK_STOP if checkpoint.fallback_template else ()
        self.stop: tuple[str, ...] = tuple(stop)
        self.include_stop = include_stop
        # Base models often lack a pad token; EOS is the usual stand-in and is masked anyway.
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.eos_token_id
        if pad_id is None:
            raise InvalidArgumentError(
                f"The tokenizer of {source!r} has neither a pad nor an EOS token; set "
                "tokenizer.pad_token and save it again."
            )
        self._pad_id = int(pad_id)
        if processor is not None:
            # The processor pads the batch itself.
            tokenizer.padding_side = "left"
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
        self._warned_images = False
        self._warned_shortened = False
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.top_p = top_p
        self.top_k = top_k
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens
        self.drop_turns = check_int_range("drop_turns", drop_turns, 1)
        self.keep_task = bool(keep_task)
        self.seed = seed
        self._seed_stream = torch.Generator().manual_seed(seed) if seed is not None else None

    def _load_checkpoint(self, source: str, *, allow_download: bool) -> Checkpoint:
        """The model, tokenizer and processor to use. A subclass that generates with
        another engine returns ``model=None`` and overrides ``_generate``."""
        return load_checkpoint(source, dtype=self.dtype, allow_download=allow_download)

    # ------------------------------------------------------------------ prompts

    def _text_only(self, messages: Sequence[Message]) -> list[Message]:
        """String contents for a text-only model: the text parts joined, images dropped
        (with a warning the first time)."""
        if not self._warned_images and any(has_images(m) for m in messages):
            self._warned_images = True
            warnings.warn(
                f"{self.name} is a text-only model (its checkpoint has no processor that "
                "takes images): the images in its conversations are left out and it "
                "answers from their text alone. Use a vision-language checkpoint saved "
                "with its processor, or the env's obs_mode='text'. (Shown once per agent.)",
                ImagesIgnoredWarning,
                stacklevel=4,
            )
        return [text_message(m) for m in messages]

    def _render(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of ``messages`` under the chat template, generation prompt included."""
        text = self._render_text(list(messages))
        # The template already writes BOS and other special tokens where the model expects
        # them; letting the tokenizer add its own would double them.
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def _render_text(self, messages: list[Message]) -> str:
        from jinja2.exceptions import TemplateError

        try:
            return self._apply_template(messages)
        except TemplateError:
            # Some templates (Gemma's, for one) raise on a system message: fold it into the
            # first user turn, as their authors recommend.
            if len(messages) < 2 or messages[0].get("role") != "system":
                raise
            system, first, *rest = messages
            return self._apply_template([_merge_system(system, first), *rest])

    def _apply_template(self, messages: list[Message]) -> str:
        # A processor's template iterates over content parts and places image tokens.
        renderer = self.tokenizer if self.processor is None else self.processor
        text = renderer.apply_chat_template(
            messages,
            chat_template=self._chat_template,
            tokenize=False,
            add_generation_prompt=True,
        )
        return str(text)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The prompt token ids for one conversation, shortened to ``max_prompt_tokens``
        (with a processor: as the processor gives them, each image's tokens expanded)."""
        if self.processor is not None:
            return self._vision_ids(self._vision_prompt(messages))
        messages = self._text_only(messages)
        ids = self._render(messages)
        limit = self.max_prompt_tokens
        if limit is None or len(ids) <= limit:
            return ids
        if not self._warned_shortened:
            # Once per agent: a long episode shortens every prompt from some turn on.
            self._warned_shortened = True
            warnings.warn(
                f"{self.name}: a prompt of {len(ids)} tokens was shortened to "
                f"max_prompt_tokens={limit} (early turns dropped; said once per agent).",
                stacklevel=3,
            )
        has_system = bool(messages) and messages[0].get("role") == "system"
        head = list(messages[:1]) if has_system else []
        rest = list(messages[len(head) :])
        if self.keep_task and len(rest) > 2 and rest[0].get("role") == "user":
            # First the turns between the task and the last reply and observation.
            for tail in self._drop_oldest(rest[1:], keep=2):
                ids = self._render(head + rest[:1] + tail)
                if len(ids) <= limit:
                    return ids
        for kept in self._drop_oldest(rest, keep=1):
            ids = self._render(head + kept)
            if len(ids) <= limit:
                return ids
        if rest and isinstance(rest[-1].get("content"), str):
            shortened = self._shorten_last(head, rest[-1], limit)
            if shortened is not None:
                return shortened
        # Even the system message does not fit: keep the most recent tokens.
        return ids[-limit:]

    def _drop_oldest(self, messages: list[Message], keep: int) -> Iterator[list[Message]]:
        """``messages`` with ever more of its oldest turns dropped, down to ``keep`` messages.

        Turns go two messages at a time so the user/assistant alternation that strict
        templates check is preserved, ``drop_turns`` turns at once while more than that many
        are left; the last message always stays.
        """
        chunk = 2 * self.drop_turns
        while len(messages) > keep:
            left = len(messages)
            step = chunk if left - chunk >= keep else 2 if left - 2 >= keep else left - keep
            messages = messages[step:]
            yield messages

    def _shorten_last(self, head: list[Message], last: Message, limit: int) -> list[int] | None:
        """Keep the tail of the last message's text so that the prompt fits ``limit``."""
        overhead = len(self._render([*head, {**last, "content": ""}]))
        content_ids = self.tokenizer(last["content"], add_special_tokens=False)["input_ids"]
        budget = limit - overhead
        # Decoding then re-encoding a cut can merge tokens differently; a few tries absorb it.
        for _ in range(4):
            if budget <= 0:
                return None
            tail = self.tokenizer.decode(content_ids[-budget:])
            ids = self._render([*head, {**last, "content": tail}])
            if len(ids) <= limit:
                return ids
            budget -= len(ids) - limit
        return None

    def _vision_prompt(self, messages: Sequence[Message]) -> _VisionPrompt:
        """The processor's prompt for one conversation, shortened to ``max_prompt_tokens``
        by dropping whole early turns."""
        conversation = [parts_message(m) for m in messages]
        prompt = self._vision_render(conversation)
        limit = self.max_prompt_tokens
        if limit is None:
            return prompt
        n = len(self._vision_ids(prompt))
        if n <= limit:
            return prompt
        has_system = bool(conversation) and conversation[0].get("role") == "system"
        head = conversation[:1] if has_system else []
        rest = conversation[len(head) :]
        while len(rest) > 1:
            rest = rest[2:] if len(rest) > 2 else rest[1:]
            prompt = self._vision_render(head + rest)
            if len(self._vision_ids(prompt)) <= limit:
                break
        if not self._warned_shortened:
            self._warned_shortened = True
            warnings.warn(
                f"{self.name}: a prompt of {n} tokens was shortened to "
                f"max_prompt_tokens={limit} by dropping early turns (the last turn is kept "
                "whole: image tokens cannot be cut; said once per agent).",
                stacklevel=3,
            )
        return prompt

    def _vision_render(self, conversation: list[Message]) -> _VisionPrompt:
        text = self._render_text(conversation)
        images = [image for m in conversation for image in message_images(m)]
        length = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return _VisionPrompt(text=text, images=images, length=length)

    def _processor_inputs(self, prompts: Sequence[_VisionPrompt]) -> Any:
        """The processor's model inputs for a batch: left-padded ids, each image's tokens
        expanded, ``pixel_values`` (and whatever else the model takes) for every image."""
        images = [image for p in prompts for image in p.images]
        processor: Any = self.processor
        return processor(
            text=[p.text for p in prompts],
            images=images or None,
            padding=True,
            return_tensors="pt",
            # The template already wrote BOS and the other special tokens.
            add_special_tokens=False,
        )

    def _vision_ids(self, prompt: _VisionPrompt) -> list[int]:
        return [int(i) for i in self._processor_inputs([prompt])["input_ids"][0]]

    # ------------------------------------------------------------------ generation

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Return one reply per conversation, in order (see the class doc)."""
        if not batch:
            return []
        if self.processor is not None:
            vision = [self._vision_prompt(item.messages) for item in batch]
            return self._in_batches(vision, [p.length for p in vision], self._generate_vision)
        prompts = [self.prompt_ids(item.messages) for item in batch]
        return self._in_batches(prompts, [len(p) for p in prompts], self._generate)

    def _in_batches(
        self,
        prompts: list[_Prompt],
        lengths: list[int],
        generate: Callable[[list[_Prompt]], list[str]],
    ) -> list[str]:
        """``generate`` over sub-batches of at most ``batch_size``; replies in input order."""
        if self.batch_size is None or len(prompts) <= self.batch_size:
            return generate(prompts)
        # Similar lengths in one sub-batch waste less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        replies: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, reply in zip(chunk, generate([prompts[i] for i in chunk])):
                replies[i] = reply
        return replies

    def _generate(self, prompts: list[list[int]]) -> list[str]:
        torch = self._torch
        width = max(len(p) for p in prompts)
        # Left padding: every prompt ends at the same column, so new tokens line up.
        input_ids = torch.full((len(prompts), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention_mask[row, width - len(ids) :] = 1
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self._run_generate({k: v.to(self.device) for k, v in inputs.items()})

    def _generate_vision(self, prompts: list[_VisionPrompt]) -> list[str]:
        inputs = {k: self._to_device(v) for k, v in self._processor_inputs(prompts).items()}
        return self._run_generate(inputs)

    def _to_device(self, value: Any) -> Any:
        """A tensor on the model's device: pixel values in its dtype, ids and masks integers
        still; anything else (some processors add lists) as it is."""
        torch = self._torch
        if not isinstance(value, torch.Tensor):
            return value
        if value.is_floating_point():
            return value.to(self.device, dtype=self.dtype)
        return value.to(self.device)

    def _run_generate(self, inputs: dict[str, Any]) -> list[str]:
        """``generate`` on left-padded model inputs; the decoded replies, cut at stops."""
        torch = self._torch
        width = inputs["input_ids"].shape[1]
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": self.max_new_tokens,
            "pad_token_id": self._pad_id,
            "do_sample": self.temperature > 0.0,
        }
        if self.temperature > 0.0:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        else:
            # Unset the sampling knobs a model's generation_config may carry, so greedy
            # decoding does not warn about them.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if self.stop:
            # Ends sequences early in generate; the text is still cut below, since a stop
            # string can end mid-token and finished rows keep their last tokens.
            kwargs.update(stop_strings=list(self.stop), tokenizer=self.tokenizer)
        with torch.inference_mode(), self._rng_scope():
            output = self.model.generate(**kwargs)
        # A generation_config with return_dict_in_generate gives an output object.
        sequences = getattr(output, "sequences", output)
        texts = self.tokenizer.batch_decode(sequences[:, width:], skip_special_tokens=True)
        return [self._cut(text) for text in texts]

    @contextlib.contextmanager
    def _rng_scope(self) -> Iterator[None]:
        """Seed torch for one ``generate`` call and restore the caller's random state after."""
        if self._seed_stream is None:
            yield
            return
        torch = self._torch
        call_seed = int(torch.randint(0, 2**62, (1,), generator=self._seed_stream))
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(call_seed)
            yield

    def _cut(self, text: str) -> str:
        """Cut ``text`` at the earliest stop string."""
        best: tuple[int, str] | None = None
        for s in self.stop:
            at = text.find(s)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, s)
        if best is None:
            return text
        at, s = best
        return text[: at + len(s)] if self.include_stop else text[:at]

    def __repr__(self) -> str:
        return (
            f"HFAgent(name={self.name!r}, device={str(self.device)!r}, "
            f"dtype={str(self.dtype).removeprefix('torch.')!r}, "
            f"temperature={self.temperature}, max_new_tokens={self.max_new_tokens})"
        )


def _merge_system(system: Message, first: Message) -> Message:
    """``first`` with the system message's text in front (for templates without a system
    role); a list of parts stays a list."""
    head = f"{message_text(system)}\n\n"
    content = first.get("content")
    if isinstance(content, list):
        return {**first, "content": [{"type": "text", "text": head}, *content]}
    return {**first, "content": f"{head}{'' if content is None else content}"}
