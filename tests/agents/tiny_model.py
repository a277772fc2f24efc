"""Tiny randomly initialised models built locally (no hub access): a causal LM with its
tokenizer, and a LLaVA vision-language model with its processor."""

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


#: :data:`CHAT_TEMPLATE` over content parts, as vision-language processors ship theirs: an
#: image part becomes the ``<image>`` token (the processor expands it), a string content
#: is written as it is.
VLM_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>"
    "{% elif p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Image side of the tiny VLM: 28x28 pixels in 14x14 patches, 4 image tokens per image.
VLM_IMAGE_SIZE = 28
VLM_PATCH_SIZE = 14
VLM_IMAGE_TOKENS = (VLM_IMAGE_SIZE // VLM_PATCH_SIZE) ** 2


def _tokenizer(extra_specials: tuple[str, ...] = ()):  # -> PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", *extra_specials]
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
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def _text_config(tokenizer):  # -> LlamaConfig
    from transformers import LlamaConfig

    return LlamaConfig(
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


def build_tiny_model(path: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide Llama and a byte-level BPE tokenizer under ``path``."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = _tokenizer()
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = _text_config(tokenizer)
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


def build_tiny_vlm(path: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """Save a tiny LLaVA (a 1-layer CLIP vision tower, the Llama above) and its processor
    (the PIL image processor: no torchvision needed) under ``path``."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tokenizer = _tokenizer(("<image>",))
    template = VLM_CHAT_TEMPLATE if chat_template else None
    processor = LlavaProcessor(
        image_processor=LlavaImageProcessorPil(
            size={"shortest_edge": VLM_IMAGE_SIZE},
            crop_size={"height": VLM_IMAGE_SIZE, "width": VLM_IMAGE_SIZE},
        ),
        tokenizer=tokenizer,
        patch_size=VLM_PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, which "default" drops
        chat_template=template,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=VLM_IMAGE_SIZE,
            patch_size=VLM_PATCH_SIZE,
            projection_dim=16,
        ),
        text_config=_text_config(tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
        with torch.no_grad():  # decisive greedy choices, as in build_tiny_model
            model.lm_head.weight.mul_(20.0)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
