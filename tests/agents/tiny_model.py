"""A tiny randomly initialised causal LM and tokenizer, built locally (no hub access)."""

from __future__ import annotations

from pathlib import Path

#: A ChatML-like template: what real instruct tokenizers ship.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "You are in a maze. Reply with <action>up</action>, down, left or right.",
    "The wall is to the north; the goal is two steps east and one step south.",
    "Invalid reply: the expected format is <action>DIRECTION</action>.",
    "Push every box onto a target. The player is @ and boxes are $.",
    "select name from users where id = 3; the answer is 42.",
]


def build_tiny_model(path: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide Llama and a byte-level BPE tokenizer under ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        _CORPUS * 4,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        # Random init gives near-uniform logits; larger weights make greedy choices decisive,
        # so left-padding checks are not at the mercy of float round-off between near-ties.
        with torch.no_grad():
            model.lm_head.weight.mul_(20.0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
