"""``HFAgent``: batched generation with a local 🤗 transformers causal language model.

torch and transformers are imported when an ``HFAgent`` is built, never by ``import mtenvs``.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mtenvs.core.agent import AgentInput, Message
from mtenvs.error import InvalidArgumentError, check_choice, check_int_range

if TYPE_CHECKING:
    import torch

__all__ = ["FALLBACK_CHAT_TEMPLATE", "FALLBACK_STOP", "HFAgent"]

#: Template used when the tokenizer has none (base models): one ``<|role|>`` header line per
#: message, then ``<|assistant|>`` and a newline as the generation prompt, e.g.
#: ``<|system|>\nRules…\n<|user|>\nYou are at…\n<|assistant|>\n``. The tokenizer's BOS token,
#: if it has one, comes first.
FALLBACK_CHAT_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

#: Default stop strings with :data:`FALLBACK_CHAT_TEMPLATE`: a base model otherwise goes on
#: to write the next user turn itself.
FALLBACK_STOP: tuple[str, ...] = ("<|user|>", "<|system|>")

DTypeName = Literal["auto", "float32", "float16", "bfloat16"]
_DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")


def _import_backend() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ImportError(
            f"HFAgent needs torch and transformers ({e.name} is missing): "
            'pip install "mtenvs[baselines]"'
        ) from e
    return torch, transformers


def resolve_device(device: str, torch: Any) -> torch.device:
    """``"auto"`` → ``cuda`` when available, else ``mps`` when available, else ``cpu``."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InvalidArgumentError(
            f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(
            f"device={device!r} but torch sees no CUDA device; use device='auto' or 'cpu'."
        )
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device, torch: Any) -> torch.dtype:
    """``"auto"`` → ``bfloat16`` on a CUDA device that supports it, else ``float32``."""
    if isinstance(dtype, torch.dtype):
        return dtype
    check_choice("dtype", dtype, _DTYPES)
    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, str(dtype))  # type: ignore[no-any-return]


def _dtype_kwarg(transformers: Any) -> str:
    # transformers renamed ``torch_dtype`` to ``dtype`` in 4.56 and dropped the old name in 5.
    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


class HFAgent:
    """Answers a batch of conversations with one left-padded ``generate`` call.

    Each conversation is rendered with the tokenizer's chat template
    (``add_generation_prompt=True``), or :data:`FALLBACK_CHAT_TEMPLATE` when the tokenizer
    has none. If a template rejects the ``system`` role, the system message is merged into
    the first user message. Prompts are left-padded so every reply starts right after its
    prompt: a prompt's greedy reply does not depend on what else is in the batch (up to
    floating-point round-off, which half-precision GPU kernels can show).

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
            are dropped first (the system message and the last message are kept), then the
            start of the last message; only if the system message alone does not fit is it
            cut too. ``None``: prompts are never shortened.
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
        allow_download: bool = False,
        name: str | None = None,
    ) -> None:
        torch, transformers = _import_backend()
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
        if source.startswith(("/", ".", "~")):
            # Clearly a path, not a Hub id: say so plainly rather than through the Hub
            # client's complaint about repo id syntax.
            source = os.path.expanduser(source)
            if not Path(source).is_dir():
                raise InvalidArgumentError(
                    f"No model directory at {source!r}; pass a directory written by "
                    "save_pretrained (config.json, weights and tokenizer files)."
                )
        local_only = not allow_download
        try:
            with _no_progress_bars(transformers):
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    source, local_files_only=local_only
                )
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    source,
                    local_files_only=local_only,
                    **{_dtype_kwarg(transformers): self.dtype},
                )
        except OSError as e:
            hint = (
                ""
                if allow_download
                else " Pass a directory written by save_pretrained, or allow_download=True "
                "to fetch it from the Hugging Face Hub."
            )
            reason = str(e).rstrip(".")
            raise InvalidArgumentError(
                f"Could not load a model and tokenizer from {source!r}: {reason}.{hint}"
            ) from e
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()

        self._chat_template: str | None = (
            None if getattr(tokenizer, "chat_template", None) else FALLBACK_CHAT_TEMPLATE
        )
        if stop is None:
            stop = FALLBACK_STOP if self._chat_template is not None else ()
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
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.top_p = top_p
        self.top_k = top_k
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens
        self.seed = seed
        self._seed_stream = torch.Generator().manual_seed(seed) if seed is not None else None

    # ------------------------------------------------------------------ prompts

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
            merged = {
                "role": first["role"],
                "content": f"{system['content']}\n\n{first['content']}",
            }
            return self._apply_template([merged, *rest])

    def _apply_template(self, messages: list[Message]) -> str:
        text = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self._chat_template,
            tokenize=False,
            add_generation_prompt=True,
        )
        return str(text)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The prompt token ids for one conversation, shortened to ``max_prompt_tokens``."""
        ids = self._render(messages)
        limit = self.max_prompt_tokens
        if limit is None or len(ids) <= limit:
            return ids
        warnings.warn(
            f"{self.name}: a prompt of {len(ids)} tokens was shortened to "
            f"max_prompt_tokens={limit}.",
            stacklevel=3,
        )
        has_system = bool(messages) and messages[0].get("role") == "system"
        head = list(messages[:1]) if has_system else []
        rest = list(messages[len(head) :])
        # Drop the oldest turns two messages at a time so the user/assistant alternation
        # that strict templates check is preserved; the last message always stays.
        while len(rest) > 1:
            rest = rest[2:] if len(rest) > 2 else rest[1:]
            ids = self._render(head + rest)
            if len(ids) <= limit:
                return ids
        if rest and isinstance(rest[-1].get("content"), str):
            shortened = self._shorten_last(head, rest[-1], limit)
            if shortened is not None:
                return shortened
        # Even the system message does not fit: keep the most recent tokens.
        return ids[-limit:]

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

    # ------------------------------------------------------------------ generation

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Return one reply per conversation, in order (see the class doc)."""
        if not batch:
            return []
        prompts = [self.prompt_ids(item.messages) for item in batch]
        if self.batch_size is None or len(prompts) <= self.batch_size:
            return self._generate(prompts)
        # Similar lengths in one sub-batch waste less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        replies: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, reply in zip(chunk, self._generate([prompts[i] for i in chunk])):
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
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention_mask.to(self.device),
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


@contextlib.contextmanager
def _no_progress_bars(transformers: Any) -> Iterator[None]:
    """transformers' own "Loading weights" bars off while an agent loads (they would print
    between the rollout's live display lines); the caller's setting is restored after."""
    hf_logging = transformers.utils.logging
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
