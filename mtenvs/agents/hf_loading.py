"""Loading what :class:`~mtenvs.agents.hf.HFAgent` runs: the backend, the device and dtype,
and a checkpoint's model, tokenizer, processor (for vision-language models) and chat
template.

torch and transformers are imported by :func:`import_backend`, called when an agent is
built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mtenvs.error import InvalidArgumentError, check_choice

if TYPE_CHECKING:
    import torch

__all__ = [
    "FALLBACK_CHAT_TEMPLATE",
    "FALLBACK_PARTS_TEMPLATE",
    "Checkpoint",
    "DTypeName",
    "import_backend",
    "load_checkpoint",
    "no_progress_bars",
    "resolve_device",
    "resolve_dtype",
]

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

#: :data:`FALLBACK_CHAT_TEMPLATE` for a processor without a chat template: content is a list
#: of parts there, and ``IMAGE_TOKEN`` is replaced by the processor's image token.
FALLBACK_PARTS_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}IMAGE_TOKEN{% elif part['type'] == 'text' %}"
    "{{ part['text'] }}{% endif %}{% endfor %}{{ '\\n' }}"  # not a bare newline: trim_blocks
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

DTypeName = Literal["auto", "float32", "float16", "bfloat16"]
_DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")


def import_backend() -> tuple[Any, Any]:
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


def dtype_kwarg(transformers: Any) -> str:
    # transformers renamed ``torch_dtype`` to ``dtype`` in 4.56 and dropped the old name in 5.
    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint."""

    model: Any
    tokenizer: Any
    #: The processor when the checkpoint has one that takes images, else ``None``.
    processor: Any | None
    #: The template to pass to ``apply_chat_template``; ``None``: the checkpoint's own.
    chat_template: str | None
    #: Whether ``chat_template`` is one of the fallbacks (the checkpoint has none).
    fallback_template: bool


def load_checkpoint(
    model_name_or_path: str | os.PathLike[str], *, dtype: torch.dtype, allow_download: bool
) -> Checkpoint:
    """Load a checkpoint's model, tokenizer and, when it has one that takes images, its
    processor: a vision-language model comes from ``AutoModelForImageTextToText``, any
    other from ``AutoModelForCausalLM``.

    Raises :class:`~mtenvs.error.InvalidArgumentError` naming the fix when a path is not a
    directory or the files do not load.
    """
    _, transformers = import_backend()
    source = os.fspath(model_name_or_path)
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
        with no_progress_bars(transformers):
            processor, tokenizer, processor_error = _load_processor(
                transformers, source, local_only
            )
            auto_model = (
                transformers.AutoModelForCausalLM
                if processor is None
                else transformers.AutoModelForImageTextToText
            )
            try:
                model = auto_model.from_pretrained(
                    source, local_files_only=local_only, **{dtype_kwarg(transformers): dtype}
                )
            except ValueError as e:
                if processor_error is None:
                    raise
                # Not a causal LM, and the processor that would make it a vision-language
                # model failed: that failure is the useful news.
                raise InvalidArgumentError(
                    f"{source!r} is not a causal language model ({e}), and its processor "
                    f"did not load: {processor_error}"
                ) from processor_error
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
    if processor is not None:
        template = _processor_template(processor, tokenizer, source)
        fallback = template is not None and template != getattr(tokenizer, "chat_template", None)
    else:
        fallback = not getattr(tokenizer, "chat_template", None)
        template = FALLBACK_CHAT_TEMPLATE if fallback else None
    return Checkpoint(
        model=model,
        tokenizer=tokenizer,
        processor=processor,
        chat_template=template,
        fallback_template=fallback,
    )


def _load_processor(
    transformers: Any, source: str, local_only: bool
) -> tuple[Any | None, Any, Exception | None]:
    """``(processor, tokenizer, error)``: the checkpoint's processor when it takes images
    (else ``None``), the tokenizer, and why ``AutoProcessor`` failed, if it did.

    ``AutoProcessor`` gives the tokenizer itself for a text-only checkpoint.
    """
    try:
        loaded = transformers.AutoProcessor.from_pretrained(source, local_files_only=local_only)
    except (ValueError, KeyError, TypeError, ImportError) as e:
        # A processor some text-only checkpoints cannot build; the tokenizer may still load.
        error: Exception | None = e
    else:
        if getattr(loaded, "image_processor", None) is not None and hasattr(loaded, "tokenizer"):
            return loaded, loaded.tokenizer, None
        if isinstance(loaded, transformers.PreTrainedTokenizerBase):
            return None, loaded, None
        error = None
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    return None, tokenizer, error


def _processor_template(processor: Any, tokenizer: Any, source: str) -> str | None:
    """The chat template to pass to the processor: ``None`` for its own; else the
    tokenizer's; else a fallback over content parts with the processor's image token."""
    if getattr(processor, "chat_template", None):
        return None
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.chat_template)
    image_token = getattr(processor, "image_token", None)
    if not image_token:
        raise InvalidArgumentError(
            f"The processor of {source!r} has no chat template and no image token; set "
            "processor.chat_template and save it again."
        )
    return FALLBACK_PARTS_TEMPLATE.replace("IMAGE_TOKEN", str(image_token))


@contextlib.contextmanager
def no_progress_bars(transformers: Any) -> Iterator[None]:
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
