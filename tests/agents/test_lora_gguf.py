"""A peft LoRA adapter played by llama.cpp: the converted file gives the same next-token
logits as transformers with the adapter merged (as close as the quantised base model is to
the dequantised one), the query/key row permutation matters, and the ``llm`` agent switches
adapters on llama.cpp and on transformers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mtenvs.agents import lora_gguf
from mtenvs.agents.llm import LLMAgent, model_file
from mtenvs.agents.lora_gguf import adapter_to_gguf, attention_heads
from mtenvs.core.agent import AgentInput
from tests.agents.test_llm_agent import needs_llama_cpp

pytestmark = [pytest.mark.xdist_group("llm"), pytest.mark.slow, needs_llama_cpp]

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPT = [{"role": "user", "content": "Write a haiku about the sea and the moon at night."}]


@pytest.fixture(scope="module")
def strong(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A random adapter that moves the logits a lot, and the transformers logits of a
    prompt with and without it."""
    import peft
    import torch

    torch.manual_seed(0)
    agent = LLMAgent(engine="transformers")
    config = peft.LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=TARGETS,
        layers_to_transform=list(range(15, 30)),
        init_lora_weights=False,  # random A and B: not a no-op
    )
    model = peft.get_peft_model(agent.model, config)
    out = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(str(out))
    text = agent.tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    ids = agent.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        tuned = model(torch.tensor([ids])).logits[0].float().numpy()
        with model.disable_adapter():
            base = model(torch.tensor([ids])).logits[0].float().numpy()
    heads = attention_heads(json.loads((agent.model_dir / "config.json").read_text()))
    assert heads == attention_heads(agent.model.config.to_dict())
    return {"dir": out, "ids": ids, "tuned": tuned, "base": base, **heads}


def _llama_logits(ids: list[int], lora: Path | None) -> np.ndarray:
    import llama_cpp

    kwargs: dict[str, Any] = {"logits_all": True, "verbose": False, "n_ctx": 512}
    if lora is not None:
        kwargs["lora_path"] = str(lora)
    llm = llama_cpp.Llama(model_path=str(model_file()), **kwargs)
    try:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])
    finally:
        llm.close()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_llama_cpp_lora_matches_transformers(strong, tmp_path: Path, monkeypatch) -> None:
    heads = {"n_head": strong["n_head"], "n_head_kv": strong["n_head_kv"]}
    good = adapter_to_gguf(strong["dir"], tmp_path / "lora.gguf", **heads)
    ours = _llama_logits(strong["ids"], good)
    base = _llama_logits(strong["ids"], None)
    # The adapter moves the logits far more than quantisation does.
    assert _corr(strong["tuned"], strong["base"]) < 0.99
    assert _corr(ours, strong["tuned"]) > 0.995
    assert _corr(ours, strong["tuned"]) > _corr(base, strong["tuned"]) + 0.01
    assert np.mean(ours.argmax(-1) == strong["tuned"].argmax(-1)) > 0.9
    # Without the rotary row permutation of q/k the adapter is played wrong.
    monkeypatch.setattr(lora_gguf, "_permute", lambda rows, n_head: rows)
    unpermuted = adapter_to_gguf(strong["dir"], tmp_path / "plain.gguf", **heads)
    assert _corr(_llama_logits(strong["ids"], unpermuted), strong["tuned"]) < _corr(
        ours, strong["tuned"]
    )


def test_agent_switches_adapters_on_both_engines(strong) -> None:
    batch = [AgentInput(messages=[{"role": "system", "content": "Be brief."}, *PROMPT], env=None)]
    for engine in ("llama_cpp", "transformers"):
        agent = LLMAgent(engine=engine, temperature=0.0, max_new_tokens=8, n_threads=1)
        plain = agent.act(batch)
        agent.set_adapter(strong["dir"])
        assert agent.adapter == strong["dir"]
        tuned = agent.act(batch)
        assert tuned != plain, engine
        agent.set_adapter(None)
        assert agent.adapter is None and agent.act(batch) == plain, engine
        agent.close()


def test_unknown_adapter_weight_names_it(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    (tmp_path / "adapter_config.json").write_text(json.dumps({"lora_alpha": 16}))
    save_file(
        {"base_model.model.lm_head.lora_A.weight": np.zeros((2, 4), np.float32)},
        str(tmp_path / "adapter_model.safetensors"),
    )
    with pytest.raises(ValueError, match="lm_head"):
        adapter_to_gguf(tmp_path, tmp_path / "x.gguf", n_head=9, n_head_kv=3)
