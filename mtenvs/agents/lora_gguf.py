"""A ``peft`` LoRA adapter of a Llama model as a llama.cpp LoRA file (GGUF).

llama.cpp plays a LoRA adapter next to the quantised model without merging it (its own
``convert_lora_to_gguf.py`` is not in any wheel, so this is the part of it a Llama adapter
needs): each adapted weight ``blk.<i>.<name>.weight`` gets ``….lora_a`` (rank × in) and
``….lora_b`` (out × rank), and the file says ``general.type = adapter``,
``adapter.type = lora`` and ``adapter.lora.alpha`` (llama.cpp scales by alpha / rank, as
peft does). The query and key projections of a Llama GGUF file are stored with their rows
permuted for llama.cpp's rotary embedding (``convert_hf_to_gguf``'s ``permute``), so the
``lora_b`` of ``q_proj`` and ``k_proj`` get the same row permutation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GGUF_NAMES", "adapter_to_gguf", "attention_heads"]

#: peft module name → the tensor name in a Llama GGUF file.
GGUF_NAMES: dict[str, str] = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}

_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


def _permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """``convert_hf_to_gguf``'s Llama ``permute`` of a weight's rows (output features)."""
    return (
        rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
        .swapaxes(1, 2)
        .reshape(rows.shape)
    )


def attention_heads(config: Mapping[str, Any]) -> dict[str, int]:
    """``adapter_to_gguf``'s head counts from a Llama ``config.json`` (or a transformers
    config's ``to_dict()``): ``{"n_head": …, "n_head_kv": …}``."""
    n_head = int(config["num_attention_heads"])
    return {"n_head": n_head, "n_head_kv": int(config.get("num_key_value_heads") or n_head)}


def adapter_to_gguf(adapter: Path, out: Path, *, n_head: int, n_head_kv: int) -> Path:
    """Write the peft LoRA adapter directory ``adapter`` as a llama.cpp LoRA file ``out``
    for a Llama model with ``n_head`` query and ``n_head_kv`` key/value heads."""
    import gguf
    from safetensors.numpy import load_file

    config: dict[str, Any] = json.loads((adapter / "adapter_config.json").read_text())
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(weights):
        match = _KEY.search(key)
        if match is None or match.group(2) not in GGUF_NAMES:
            raise ValueError(f"{adapter}: no llama.cpp tensor for the adapter weight {key!r}.")
        layer, module, which = match.groups()
        value = weights[key].astype(np.float32)
        if which == "B" and module in ("q_proj", "k_proj"):
            value = _permute(value, n_head if module == "q_proj" else n_head_kv)
        name = f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{which.lower()}"
        writer.add_tensor(name, np.ascontiguousarray(value))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
