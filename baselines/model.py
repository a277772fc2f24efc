"""Tokenizer trained on env text and a small Llama-style decoder.

Tokenizer: BPE (🤗 ``tokenizers``) whose pre-tokenizer keeps letter runs as words and makes
every other character its own piece, so grid cells, digits and spaces are one token each
(a board keeps its geometry) while English words compress. ``<action>`` / ``</action>`` /
``<answer>`` / ``</answer>`` are single tokens. Decoding concatenates pieces (lossless).

Chat template: the **last** message only, then ``<|act|>``; the reply ends with ``</s>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["ACT", "CHAT_TEMPLATE", "build_model", "train_tokenizer"]

ACT = "<|act|>"
BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
#: Reply tags every covered env uses, kept whole.
TAGS = ("<action>", "</action>", "<answer>", "</answer>")
CHAT_TEMPLATE = "{{ bos_token }}{% if messages %}{{ messages[-1]['content'] }}{% endif %}" + ACT
_PIECES = r"[A-Za-z]+|[^A-Za-z]"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> Any:
    """A ``PreTrainedTokenizerFast`` trained on ``texts`` (see the module doc)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(_PIECES), behavior="isolated")
    tok.decoder = decoders.Fuse()
    alphabet = [chr(c) for c in range(32, 127)] + ["\n", "\t"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK, ACT],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens(list(TAGS))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[ACT],
        clean_up_tokenization_spaces=False,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(
    tokenizer: Any,
    *,
    hidden_size: int = 160,
    num_layers: int = 4,
    num_heads: int = 4,
    max_positions: int = 1024,
    seed: int = 0,
) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` sized for ``tokenizer`` (tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 8 // 3 // 16 * 16,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def render_prompt(tokenizer: Any, observation: str) -> list[int]:
    """Prompt ids exactly as :class:`mtenvs.agents.HFAgent` renders them."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": observation}], tokenize=False, add_generation_prompt=True
    )
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def reply_ids(tokenizer: Any, reply: str) -> list[int]:
    """Target ids of a reply: its tokens, then EOS."""
    ids: list[int] = tokenizer(reply, add_special_tokens=False)["input_ids"]
    return [*ids, tokenizer.eos_token_id]
