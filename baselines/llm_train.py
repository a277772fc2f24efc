"""``python -m baselines.llm_train``: the ``llm-sft`` and ``llm-rl`` tiers (issue 20, item 3).

SmolLM2-135M-Instruct (the ``llm`` agent's model, transformers engine) gets LoRA adapters
(``peft``) trained for one env, in two phases that each write an adapter of their own:

- **SFT** (``--phase sft``, tier ``llm-sft``): cross-entropy on the reply tokens of oracle
  turns of training tasks (``scale.sft_episodes`` episodes, disjoint from the eval set and
  the validation tasks), each turn's prompt rendered exactly as the agent renders it at play
  time (system prompt, conversation so far, the same ``max_prompt_tokens`` shortening, the
  chat template), the reply followed by the end-of-turn token.
- **RL** (``--phase rl``, tier ``llm-rl``), started from the SFT adapter (``--init``): each
  iteration plays ``rl_tasks`` training tasks × ``rl_group`` rollouts with the policy
  itself (sampled at ``--temperature``, the env in ``reward_mode="process"``), then one
  policy-gradient step ``-A · log π(reply)`` with the advantages of
  :func:`baselines.train.advantages`: GRPO with turn-level credit from
  ``reward_components`` (``--mode grpo``) or GiGPO's ``state_key`` groups
  (``--mode gigpo``).

Every ``curve_every`` SFT steps (``rl_curve_every`` RL iterations) the policy plays
``curve_episodes`` validation tasks at the tier's own sampling settings (the learning curve;
RL also logs each iteration's own rollouts). A checkpoint (adapter, optimizer, step, curve,
counters) is written every ``save_every`` SFT steps (``rl_save_every`` RL iterations) and at
the end: a run stopped at any point continues with ``--resume`` and gives the same adapter
as an unstopped one on the same device (batches and rollout seeds depend only on the step).
The run writes ``<out>/adapter_config.json``, ``adapter_model.safetensors`` (float16) and
``training.json`` (settings, samples/s, reply tokens/s trained on and input tokens/s read,
wall time, curve); ``--ship`` copies them to ``mtenvs/assets/baselines/<env>/<tier>/``.

    .venv/bin/python -m baselines.llm_train --env mtenvs/Maze-v0 --phase sft --scale cpu
    .venv/bin/python -m baselines.llm_train --env mtenvs/Maze-v0 --phase rl --scale cpu \
        --init runs/llm-train/maze-v0/llm-sft

CUDA is used when present (bfloat16 autocast); else the CPU (float32).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer

from baselines.data import VALIDATION_OFFSET, collect, train_seed
from baselines.specs import SPECS, BaselineSpec, slug
from baselines.train import AdvantageMode, advantages
from mtenvs.agents.trained import WEIGHTS_DIR
from mtenvs.core.agent import Message
from mtenvs.rollout import Trajectory, rollout

__all__ = [
    "LLM_SCALES",
    "LLM_SPECS",
    "LLMScale",
    "LLMTrainConfig",
    "Packed",
    "Stopped",
    "TrainResult",
    "pack",
    "train",
    "turn_pairs",
]

Phase = Literal["sft", "rl"]
TIER_OF: dict[str, str] = {"sft": "llm-sft", "rl": "llm-rl"}
#: RL tasks come after the SFT tasks' seeds (as in baselines/train.py).
RL_SEED_OFFSET = 500_000


@dataclass(frozen=True)
class LLMScale:
    """How much data and compute one run uses."""

    name: str
    #: Oracle episodes of training tasks for SFT.
    sft_episodes: int
    sft_steps: int
    #: Packed sequences (an episode's turns each) per SFT step; per backward chunk in RL.
    batch_size: int
    rl_iterations: int
    rl_tasks: int
    rl_group: int
    #: Learning-curve points: every ``curve_every`` steps, ``curve_episodes`` validation tasks.
    curve_every: int
    curve_episodes: int
    #: Checkpoint every this many steps.
    save_every: int
    #: RL's learning-curve points: every this many iterations.
    rl_curve_every: int = 4
    #: RL checkpoints every this many iterations (an iteration is minutes of rollouts on a
    #: CPU, a checkpoint about a second).
    rl_save_every: int = 1


LLM_SCALES: dict[str, LLMScale] = {
    # CI: the pipeline end to end in a minute or two; the adapter means nothing.
    "smoke": LLMScale("smoke", 2, 1, 2, 1, 1, 2, 1, 1, 1),
    # A 2-core CPU: short prompts, LoRA, small groups (issue 20: training is the hard part).
    "cpu": LLMScale("cpu", 96, 120, 4, 12, 4, 4, 60, 16, 10),
    # A GPU.
    "gpu": LLMScale("gpu", 512, 600, 32, 100, 16, 8, 100, 64, 25),
}

#: The envs the tuned tiers are trained on, with their reference configs (each card's
#: headline config): the trained tier's specs, a tool-using env (Search) and a second poker
#: game whose short hands make RL cheap on a CPU (Leduc Hold'em against the random player).
LLM_SPECS: dict[str, BaselineSpec] = {
    **SPECS,
    "mtenvs/Search-v0": BaselineSpec("mtenvs/Search-v0", {}, eval_set_size=100),
    "mtenvs/LeducHoldem-v0": BaselineSpec(
        "mtenvs/LeducHoldem-v0", {"opponent": "random"}, has_eval_set=False
    ),
}


@dataclass
class LLMTrainConfig:
    """One run's settings (recorded in ``training.json``)."""

    env_id: str
    phase: Phase = "sft"
    scale: str = "cpu"
    #: LoRA rank and scale, and the modules it adapts (every linear layer).
    lora_r: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    #: Adapt only the top this many of the 30 decoder layers (``None``: all): the backward
    #: pass stops at the lowest adapted layer, so 10 layers make a CPU step 2.1x faster
    #: than 30 (measured: 12.6 vs 26.7 s for 4 packed Maze episodes); 1.6 M parameters.
    lora_layers: int | None = 10
    #: Peak learning rates (linear warm-up over 5 % of the steps, cosine decay to 10 %).
    lr_sft: float = 1e-3
    lr_rl: float = 2e-4
    #: RL rollouts' sampling temperature (exploration); evaluation uses the tier's own.
    temperature: float = 1.0
    mode: AdvantageMode = "grpo"
    #: Most reply tokens per turn.
    max_new_tokens: int = 48
    #: Most prompt tokens (longer conversations drop early turns, as the agent does; the
    #: ``llm`` agent's own budget by default).
    max_prompt_tokens: int = 1024
    #: Shortened prompts keep the task (``LLMAgent(keep_task=...)``); a run from an
    #: adapter (``init``) renders prompts as that adapter was trained, whatever this says.
    keep_task: bool = True
    seed: int = 0
    device: str = "auto"
    #: The adapter to start from (RL: the SFT adapter); ``None``: fresh LoRA weights.
    init: str | None = None
    #: The engine that plays rollouts and curve episodes: ``"auto"`` is llama.cpp on a CPU
    #: (the adapter converted to a llama.cpp LoRA file after every update; ~2x faster than
    #: transformers there), else the training model itself.
    rollout_engine: str = "auto"
    #: Env arguments over the spec's reference config (tests: a short turn budget).
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.init is not None:
            from mtenvs.agents.tuned import keep_task_of

            self.keep_task = keep_task_of(self.init)

    @property
    def tier(self) -> str:
        return TIER_OF[self.phase]

    def spec(self) -> BaselineSpec:
        if self.env_id not in LLM_SPECS:
            raise typer.BadParameter(
                f"No llm training spec for {self.env_id!r}; choose one of "
                f"{', '.join(map(repr, LLM_SPECS))}."
            )
        return LLM_SPECS[self.env_id].with_kwargs(**self.env_kwargs)


@dataclass
class TrainResult:
    """What a run measured (``training.json`` holds it with the config)."""

    steps: int = 0
    samples: int = 0
    #: Reply tokens trained on (scored), and every token the model read (the sequences).
    tokens: int = 0
    input_tokens: int = 0
    wall_s: float = 0.0
    rollout_turns: int = 0
    rollout_s: float = 0.0
    #: RL: each iteration's own rollouts (success rate and mean return, sampled at the
    #: RL temperature): the training reward's curve.
    rollouts: list[dict[str, float]] = field(default_factory=list)
    #: SFT's smoothed loss (kept in the checkpoint, so a resumed run logs the same curve).
    running_loss: float | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)

    @property
    def samples_per_s(self) -> float:
        return self.samples / max(self.wall_s, 1e-9)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.wall_s, 1e-9)


def conversation_at(traj: Trajectory, index: int) -> list[Message]:
    """The messages the agent was sent for turn ``index`` of ``traj``."""
    turn = traj.turns[index]
    if turn.context is not None:
        return list(turn.context)
    return traj.messages()[: 2 + 2 * index]


def turn_pairs(agent: Any, traj: Trajectory) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, reply ids + end of turn) of every turn of ``traj``, the prompt rendered
    as ``agent`` (an :class:`~mtenvs.agents.llm.LLMAgent`) renders it at play time."""
    import warnings

    tok = agent.tokenizer
    end = [int(tok.eos_token_id)]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shortened prompts are expected here
        for i, turn in enumerate(traj.turns):
            prompt = agent.prompt_ids(conversation_at(traj, i))
            reply = list(tok(turn.reply, add_special_tokens=False)["input_ids"]) + end
            out.append((prompt, reply[: agent.max_new_tokens]))
    return out


@dataclass
class Packed:
    """Consecutive turns of one episode as one training sequence: each turn's prompt is the
    previous turn's prompt and reply followed by the new observation, so one forward pass
    scores every reply in its exact play-time context (a turn whose prompt was shortened
    starts a new sequence)."""

    ids: list[int]
    #: ``(start, end)`` token positions of each reply, in order.
    spans: list[tuple[int, int]]
    #: The weight of each reply: 1 for SFT, the turn's advantage for RL.
    weights: list[float]


def pack(pairs: Sequence[tuple[list[int], list[int]]], weights: Sequence[float]) -> list[Packed]:
    """Pack an episode's (prompt, reply) pairs (see :class:`Packed`); pairs with weight 0
    are context only."""
    out: list[Packed] = []
    current: Packed | None = None
    for (prompt, reply), w in zip(pairs, weights):
        if current is None or prompt[: len(current.ids)] != current.ids:
            current = Packed([], [], [])
            out.append(current)
        current.ids = prompt + reply
        if w != 0.0:
            current.spans.append((len(prompt), len(prompt) + len(reply)))
            current.weights.append(w)
    return [p for p in out if p.spans]


def _lr(step: int, total: int, peak: float) -> float:
    warmup = max(1, total // 20)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class _Run:
    """The model, optimizer and agent of one run, with checkpointing."""

    def __init__(self, config: LLMTrainConfig, out: Path) -> None:
        import peft
        import torch

        from mtenvs.agents.llm import LLMAgent, check_adapter, resolve_engine

        self.config = config
        self.out = out
        self.torch = torch

        def agent(engine: Literal["llama_cpp", "transformers"]) -> LLMAgent:
            return LLMAgent(
                engine=engine,
                device=config.device,
                seed=config.seed,
                temperature=config.temperature,
                max_new_tokens=config.max_new_tokens,
                max_prompt_tokens=config.max_prompt_tokens,
                keep_task=config.keep_task,
                name=config.tier,
            )

        self.agent = agent("transformers")
        self.device = self.agent.device
        layers = self.agent.model.config.num_hidden_layers
        top = None
        if config.lora_layers is not None:
            top = list(range(max(0, layers - config.lora_layers), layers))
        # LoRA's A matrices start random: seeded, so a run is reproducible.
        torch.manual_seed(config.seed)
        lora = peft.LoraConfig(
            layers_to_transform=top,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            target_modules=list(config.target_modules),
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
        )
        self.model = peft.get_peft_model(self.agent.model, lora)
        if config.init is not None:
            from safetensors.torch import load_file

            weights = load_file(str(check_adapter(config.init) / "adapter_model.safetensors"))
            peft.set_peft_model_state_dict(self.model, {k: v.float() for k, v in weights.items()})
        self.agent.model = self.model
        params = [p for p in self.model.parameters() if p.requires_grad]
        peak = config.lr_sft if config.phase == "sft" else config.lr_rl
        self.peak_lr = peak
        self.optimizer = torch.optim.AdamW(params, lr=peak, weight_decay=0.0)
        self.result = TrainResult()
        self.stop_after: int | None = None
        self.pad_id = int(self.agent.tokenizer.pad_token_id or self.agent.tokenizer.eos_token_id)
        #: Who plays episodes: the training model, or llama.cpp with its adapter synced.
        self.player: Any = self.agent
        if resolve_engine(config.rollout_engine, config.device) == "llama_cpp":
            self.player = agent("llama_cpp")

    def close(self) -> None:
        if self.player is not self.agent:
            self.player.close()

    def _streams(self) -> list[Any]:
        """The sampling generators of the agents (checkpointed)."""
        agents = [self.agent] if self.player is self.agent else [self.agent, self.player]
        return [a._seed_stream for a in agents]

    def save_adapter(self, target: Path) -> Path:
        """The current adapter as peft writes it (float16) in ``target``."""
        import peft
        from safetensors.torch import save_file

        target.mkdir(parents=True, exist_ok=True)
        weights = {
            k: v.detach().to("cpu", self.torch.float16).contiguous()
            for k, v in peft.get_peft_model_state_dict(self.model).items()
        }
        save_file(weights, str(target / "adapter_model.safetensors"))
        self.model.peft_config["default"].save_pretrained(str(target))
        return target

    def sync_player(self) -> None:
        """Give the llama.cpp player the current adapter."""
        if self.player is self.agent:
            return
        from mtenvs.agents.lora_gguf import adapter_to_gguf, attention_heads

        adapter = self.save_adapter(self.out / "player")
        heads = attention_heads(self.agent.model.config.to_dict())
        lora = adapter_to_gguf(adapter, self.out / "player" / "lora.gguf", **heads)
        self.player.engine_impl.set_lora(lora)

    # ---------------------------------------------------------------- checkpoints

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint"

    def save_checkpoint(self) -> None:
        import peft

        tmp = self.out / "checkpoint.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        state = {
            "adapter": peft.get_peft_model_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "rng": [g.get_state() if g is not None else None for g in self._streams()],
        }
        self.torch.save(state, tmp / "state.pt")
        (tmp / "progress.json").write_text(json.dumps(asdict(self.result), indent=1))
        shutil.rmtree(self.checkpoint, ignore_errors=True)
        tmp.rename(self.checkpoint)

    def load_checkpoint(self) -> bool:
        import peft

        if not (self.checkpoint / "state.pt").is_file():
            return False
        state = self.torch.load(self.checkpoint / "state.pt", weights_only=False)
        peft.set_peft_model_state_dict(self.model, state["adapter"])
        self.optimizer.load_state_dict(state["optimizer"])
        # (a checkpoint written before the llama.cpp player kept the trainer's stream only)
        for stream, saved in zip(self._streams(), state.get("rng", [state.get("agent_rng")])):
            if stream is not None and saved is not None:
                stream.set_state(saved)
        progress = json.loads((self.checkpoint / "progress.json").read_text())
        self.result = TrainResult(**progress)
        return True

    # ---------------------------------------------------------------- pieces

    def _autocast(self) -> Any:
        import contextlib

        if self.device.type == "cuda":
            return self.torch.autocast("cuda", dtype=self.torch.bfloat16)
        return contextlib.nullcontext()

    def set_lr(self, step: int, total: int) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = _lr(step, total, self.peak_lr)

    def weighted_logp(self, seqs: Sequence[Packed]) -> tuple[Any, int]:
        """``sum_turns weight · log π(reply)`` over ``seqs`` and the reply tokens scored.

        The language-model head runs only at the reply positions (a 49 k-token vocabulary
        over every prompt position would cost more than the model)."""
        torch = self.torch
        width = max(len(q.ids) for q in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        weight = torch.zeros((len(seqs), width), dtype=torch.float32)
        for row, q in enumerate(seqs):
            ids[row, : len(q.ids)] = torch.tensor(q.ids)
            mask[row, : len(q.ids)] = 1
            for (start, end), w in zip(q.spans, q.weights):
                weight[row, start:end] = w
        ids, mask, weight = ids.to(self.device), mask.to(self.device), weight.to(self.device)
        inner: Any = self.model.get_base_model()
        with self._autocast():
            hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
        # Position i predicts token i + 1.
        scored = weight[:, 1:] != 0
        logits = inner.lm_head(hidden[:, :-1][scored]).float()
        picked = (
            torch.log_softmax(logits, dim=-1)
            .gather(-1, ids[:, 1:][scored].unsqueeze(-1))
            .squeeze(-1)
        )
        self.result.input_tokens += sum(len(q.ids) for q in seqs)
        return (picked * weight[:, 1:][scored]).sum(), int(scored.sum())

    def play(self, episodes: int, seed: int, *, train: bool, group: int = 1) -> list[Trajectory]:
        """Episodes with the current policy: sampled at the RL temperature (``train``) or
        at the tier's own settings (the curve)."""
        from mtenvs.agents.llm import DEFAULT_TEMPERATURE

        spec = self.config.spec()
        kwargs = {**spec.env_kwargs, "reward_mode": "process"} if train else spec.env_kwargs
        self.model.eval()
        self.sync_player()
        player = self.player
        saved = player.temperature
        player.temperature = self.config.temperature if train else DEFAULT_TEMPERATURE
        began = time.perf_counter()
        try:
            trajs = list(
                rollout(
                    spec.env_id,
                    player,
                    episodes,
                    num_envs=episodes,
                    seed=seed,
                    group_size=group,
                    env_kwargs=kwargs,
                )
            )
        finally:
            player.temperature = saved
        if train:
            self.result.rollout_s += time.perf_counter() - began
            self.result.rollout_turns += sum(len(t.turns) for t in trajs)
        return trajs

    def curve_point(self, step: int, loss: float, scale: LLMScale) -> None:
        spec = self.config.spec()
        trajs = self.play(scale.curve_episodes, train_seed(spec, VALIDATION_OFFSET), train=False)
        point = {
            "phase": self.config.phase,
            "step": step,
            "loss": loss,
            "success_rate": float(np.mean([t.success for t in trajs])),
            "mean_return": float(np.mean([t.episode_return for t in trajs])),
            "format_error_rate": float(
                np.mean(
                    [float(t.parse_error is not None) for tr in trajs for t in tr.turns] or [0.0]
                )
            ),
            "wall_s": self.result.wall_s,
            "samples": self.result.samples,
        }
        self.result.curve.append(point)
        typer.echo(
            f"  step {step}: loss {loss:.4f}  validation success {point['success_rate']:.1%}"
            f"  return {point['mean_return']:+.3f}  format errors/turn "
            f"{point['format_error_rate']:.3f}"
        )

    # ---------------------------------------------------------------- phases

    def sft(self, scale: LLMScale) -> None:
        spec = self.config.spec()
        data_began = time.perf_counter()
        trajs = collect(spec, scale.sft_episodes)
        seqs = [
            q
            for traj in trajs
            for q in pack(
                turn_pairs(self.agent, traj),
                [float(t.parse_error is None) for t in traj.turns],
            )
        ]
        turns = sum(len(q.spans) for q in seqs)
        typer.echo(
            f"  SFT data: {turns} oracle turns of {len(trajs)} episodes in {len(seqs)} "
            f"sequences ({time.perf_counter() - data_began:.0f} s)"
        )
        total = scale.sft_steps
        for step in range(self.result.steps, total):
            began = time.perf_counter()
            rng = np.random.default_rng([self.config.seed, step])
            picks = rng.choice(len(seqs), size=min(scale.batch_size, len(seqs)), replace=False)
            self.model.train()
            self.set_lr(step, total)
            chosen = [seqs[i] for i in picks]
            logp, tokens = self.weighted_logp(chosen)
            loss = -logp / max(tokens, 1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._clip_and_step()
            value = float(loss.item())
            running = self.result.running_loss
            running = value if running is None else 0.9 * running + 0.1 * value
            self.result.running_loss = running
            samples = sum(len(q.spans) for q in chosen)
            self._after_step(step, total, running, samples, tokens, began, scale)

    def _clip_and_step(self) -> None:
        self.torch.nn.utils.clip_grad_norm_(
            [p for p in self.model.parameters() if p.requires_grad], 1.0
        )
        self.optimizer.step()

    def rl(self, scale: LLMScale) -> None:
        spec = self.config.spec()
        total = scale.rl_iterations
        for it in range(self.result.steps, total):
            began = time.perf_counter()
            trajs = self.play(
                scale.rl_tasks * scale.rl_group,
                train_seed(spec, RL_SEED_OFFSET + it * scale.rl_tasks),
                train=True,
                group=scale.rl_group,
            )
            groups: dict[int, list[Trajectory]] = defaultdict(list)
            for traj in trajs:
                groups[traj.group].append(traj)
            seqs: list[Packed] = []
            for members in groups.values():
                for traj, adv in zip(members, advantages(members, self.config.mode)):
                    seqs.extend(pack(turn_pairs(self.agent, traj), adv))
            turns = sum(len(q.spans) for q in seqs)
            loss_value, tokens = 0.0, 0
            self.model.train()
            self.set_lr(it, total)
            self.optimizer.zero_grad(set_to_none=True)
            for lo in range(0, len(seqs), scale.batch_size):
                logp, n = self.weighted_logp(seqs[lo : lo + scale.batch_size])
                loss = -logp / max(turns, 1)
                loss.backward()
                loss_value += float(loss.item())
                tokens += n
            if seqs:
                self._clip_and_step()
            success = float(np.mean([t.success for t in trajs]))
            mean_return = float(np.mean([t.episode_return for t in trajs]))
            self.result.rollouts.append(
                {"iteration": it + 1, "success_rate": success, "mean_return": mean_return}
            )
            typer.echo(
                f"  iteration {it + 1}/{total}: rollout success {success:.1%}, return "
                f"{mean_return:+.3f}, {turns} turns with an advantage"
            )
            self._after_step(it, total, loss_value, turns, tokens, began, scale)

    def _after_step(
        self,
        step: int,
        total: int,
        loss: float,
        samples: int,
        tokens: int,
        began: float,
        scale: LLMScale,
    ) -> None:
        self.result.steps = step + 1
        self.result.samples += samples
        self.result.tokens += tokens
        self.result.wall_s += time.perf_counter() - began
        last = step + 1 == total
        every = scale.curve_every if self.config.phase == "sft" else scale.rl_curve_every
        if (step + 1) % every == 0 or last:
            self.curve_point(step + 1, loss, scale)
        stop = self.stop_after is not None and step + 1 >= self.stop_after and not last
        save = scale.save_every if self.config.phase == "sft" else scale.rl_save_every
        if (step + 1) % save == 0 or last or stop:
            self.save_checkpoint()
        if stop:
            raise Stopped(f"stopped after step {step + 1} of {total}; continue with resume")

    def write(self, scale: LLMScale) -> Path:
        """The adapter (float16) and ``training.json`` in ``out``."""
        self.save_adapter(self.out)
        shutil.rmtree(self.out / "player", ignore_errors=True)
        meta = {
            "env_id": self.config.env_id,
            "tier": self.config.tier,
            "config": {**asdict(self.config), "target_modules": list(self.config.target_modules)},
            "scale": asdict(scale),
            "max_new_tokens": self.config.max_new_tokens,
            "max_prompt_tokens": self.config.max_prompt_tokens,
            "device": str(self.device),
            "rollout_engine": "llama_cpp" if self.player is not self.agent else "transformers",
            "steps": self.result.steps,
            "samples": self.result.samples,
            "tokens": self.result.tokens,
            "wall_s": round(self.result.wall_s, 1),
            "samples_per_s": round(self.result.samples_per_s, 3),
            "tokens_per_s": round(self.result.tokens_per_s, 1),
            "input_tokens": self.result.input_tokens,
            "input_tokens_per_s": round(
                self.result.input_tokens / max(self.result.wall_s, 1e-9), 1
            ),
            "rollout_turns": self.result.rollout_turns,
            "rollout_turns_per_s": round(
                self.result.rollout_turns / max(self.result.rollout_s, 1e-9), 3
            ),
            "curve": self.result.curve,
            "rollouts": self.result.rollouts,
        }
        (self.out / "training.json").write_text(json.dumps(meta, indent=1) + "\n")
        return self.out


class Stopped(Exception):
    """A run stopped by ``stop_after`` (its checkpoint written)."""


def train(
    config: LLMTrainConfig,
    scale: LLMScale,
    out: Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
) -> Path:
    """Train one adapter (see the module doc); the directory it was written to.

    ``stop_after``: stop once this many steps are done (checkpoint written, no adapter),
    raising :class:`Stopped`: a time-boxed piece of a long run, continued with ``resume``.
    """
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(config, out)
    run.stop_after = stop_after
    if resume and run.load_checkpoint():
        typer.echo(f"  resumed at step {run.result.steps} ({run.result.wall_s:.0f} s so far)")
    elif (out / "checkpoint").exists():
        shutil.rmtree(out / "checkpoint")
    try:
        if config.phase == "sft":
            run.sft(scale)
        else:
            run.rl(scale)
        return run.write(scale)
    finally:
        run.close()


def ship(out: Path, env_id: str, tier: str, root: Path = WEIGHTS_DIR) -> Path:
    """Copy a run's adapter and ``training.json`` to the packaged assets."""
    target = root / slug(env_id) / tier
    target.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors", "training.json"):
        shutil.copy2(out / name, target / name)
    return target


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    env: Annotated[str, typer.Option(help="Env id (one of LLM_SPECS).")] = "mtenvs/Maze-v0",
    phase: Annotated[str, typer.Option(help="'sft' or 'rl'.")] = "sft",
    scale: Annotated[str, typer.Option(help="smoke, cpu or gpu.")] = "cpu",
    init: Annotated[str | None, typer.Option(help="Adapter to start from.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in out.")] = False,
    mode: Annotated[str, typer.Option(help="RL advantages: grpo or gigpo.")] = "grpo",
    steps: Annotated[int | None, typer.Option(help="Override the scale's steps.")] = None,
    stop_after: Annotated[
        int | None, typer.Option(help="Stop after this many steps (continue with --resume).")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option()] = "auto",
    ship_it: Annotated[
        bool, typer.Option("--ship", help="Copy the adapter to mtenvs/assets/baselines.")
    ] = False,
) -> None:
    """Train the llm-sft or llm-rl adapter of one env."""
    if phase not in TIER_OF:
        raise typer.BadParameter(f"phase must be 'sft' or 'rl', got {phase!r}.")
    if scale not in LLM_SCALES:
        raise typer.BadParameter(f"scale must be one of {', '.join(LLM_SCALES)}, got {scale!r}.")
    if mode not in ("grpo", "gigpo"):
        raise typer.BadParameter(f"mode must be 'grpo' or 'gigpo', got {mode!r}.")
    config = LLMTrainConfig(env, phase, scale, mode=mode, seed=seed, device=device, init=init)  # type: ignore[arg-type]
    config.spec()
    chosen = LLM_SCALES[scale]
    if steps is not None:
        chosen = replace(chosen, sft_steps=steps, rl_iterations=steps)
    run_dir = out or Path("runs/llm-train") / slug(env) / config.tier
    typer.echo(f"{config.tier} on {env}: scale {chosen.name}, out {run_dir}")
    try:
        written = train(config, chosen, run_dir, resume=resume, stop_after=stop_after)
    except Stopped as e:
        typer.echo(str(e))
        return
    meta = json.loads((written / "training.json").read_text())
    typer.echo(
        f"done: {meta['steps']} steps, {meta['wall_s']:.0f} s, {meta['samples_per_s']:.2f} "
        f"samples/s, {meta['tokens_per_s']:.0f} tokens/s -> {written}"
    )
    if ship_it:
        typer.echo(f"shipped to {ship(written, env, config.tier)}")


if __name__ == "__main__":
    app()
