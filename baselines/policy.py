"""The policy being trained, as an ``Agent`` for the rollout engine, and the shared batching.

:class:`PolicyAgent` generates with the in-memory model (greedy for evaluation, sampled for
RL) and remembers the token ids of what it sampled, so the RL update scores exactly those
tokens. Prompts are rendered as :class:`mtenvs.agents.HFAgent` renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baselines.model import render_prompt, reply_ids
from mtenvs.agents import AgentInput

__all__ = ["PolicyAgent", "pad_batch", "pick_device"]


def pick_device(device: str = "auto") -> Any:
    """``auto`` → CUDA when present, else CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pad_batch(
    sequences: Sequence[tuple[list[int], list[int]]], pad_id: int, device: Any
) -> tuple[Any, Any, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 on prompts/pads)
    for (prompt, completion) pairs."""
    import torch

    width = max(len(p) + len(c) for p, c in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), -100, dtype=torch.long)
    for row, (prompt, completion) in enumerate(sequences):
        seq = prompt + completion
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        labels[row, len(prompt) : len(seq)] = torch.tensor(completion)
    return ids.to(device), mask.to(device), labels.to(device)


class PolicyAgent:
    """Batched generation with ``model`` (see the module doc)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_new_tokens: int = 16,
        sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
        name: str = "trained",
    ) -> None:
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.sample = sample
        self.temperature = temperature
        self.name = name
        self._generator = torch.Generator(device="cpu").manual_seed(seed)
        #: (observation, reply) → (prompt ids, completion ids) of what was sampled.
        self.sampled: dict[tuple[str, str], tuple[list[int], list[int]]] = {}

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        if not batch:
            return []
        observations = [str(item.messages[-1]["content"]) for item in batch]
        prompts = [render_prompt(self.tokenizer, obs) for obs in observations]
        completions = self._generate(prompts)
        replies = []
        for obs, prompt, completion in zip(observations, prompts, completions):
            text = self.tokenizer.decode(completion, skip_special_tokens=True)
            replies.append(text)
            if self.sample:
                self.sampled[(obs, text)] = (prompt, completion)
        return replies

    def ids_for(self, observation: str, reply: str) -> tuple[list[int], list[int]]:
        """Token ids of a turn: the sampled ones when known, else a fresh tokenization."""
        known = self.sampled.get((observation, reply))
        if known is not None:
            return known
        return render_prompt(self.tokenizer, observation), reply_ids(self.tokenizer, reply)

    def _generate(self, prompts: list[list[int]]) -> list[list[int]]:
        """Left-padded incremental decoding with a KV cache; each row stops at EOS."""
        import torch

        model, tok = self.model, self.tokenizer
        device = next(model.parameters()).device
        width = max(map(len, prompts))
        ids = torch.full((len(prompts), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out: list[list[int]] = [[] for _ in prompts]
        done = torch.zeros(len(prompts), dtype=torch.bool)
        past = None
        step_ids, step_pos = ids, positions
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for _ in range(self.max_new_tokens):
                result = model(
                    input_ids=step_ids,
                    attention_mask=mask,
                    position_ids=step_pos,
                    past_key_values=past,
                    use_cache=True,
                )
                past = result.past_key_values
                logits = result.logits[:, -1, :].float().cpu()
                if self.sample:
                    probs = torch.softmax(logits / self.temperature, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=self._generator).squeeze(1)
                else:
                    nxt = logits.argmax(-1)
                for row in range(len(prompts)):
                    if not done[row]:
                        token = int(nxt[row])
                        out[row].append(token)
                        if token == tok.eos_token_id:
                            done[row] = True
                if bool(done.all()):
                    break
                step_ids = nxt.unsqueeze(1).to(device)
                step_pos = step_pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        model.train(was_training)
        return out
