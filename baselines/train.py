"""Behaviour cloning and multi-turn RL for the reference agents.

**BC**: cross-entropy on the reply tokens of oracle turns (prompt tokens masked), AdamW with
warm-up and cosine decay, bf16 autocast on CUDA.

**RL** (:func:`rl_train`): each iteration samples ``rl_tasks`` training tasks × ``rl_group``
rollouts with the rollout engine (``group_size``), then one policy-gradient step
``-A · log π(reply)`` summed over reply tokens. Advantages (:func:`advantages`):

- ``"grpo"`` (default): GRPO's group baseline with **turn-level credit**. Each turn's reward is
  the sum of its ``reward_components`` (the env runs with ``reward_mode="process"`` so
  sub-goal components count); turn *t* of rollout *i* gets
  ``(G_t^i − mean_j R^j) / (std_j R^j + ε)`` with ``G_t`` the return from turn *t* on and
  ``R`` the episode returns of the group.
- ``"gigpo"``: the GRPO episode term ``(R^i − mean R)/(std R + ε)`` plus GiGPO's step term:
  turns of the group that start from the same ``state_key`` form an anchor group and
  ``(G_t − mean G)/(std G + ε)`` within it (0 for a state seen once).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from baselines.data import Example, train_seed
from baselines.model import render_prompt, reply_ids
from baselines.policy import PolicyAgent, pad_batch
from baselines.specs import BaselineSpec, Scale
from mtenvs.rollout import Trajectory, rollout

__all__ = ["CurvePoint", "advantages", "bc_train", "rl_train"]

AdvantageMode = Literal["grpo", "gigpo"]
_EPS = 1e-6


@dataclass
class CurvePoint:
    """One point of a learning curve."""

    phase: str
    step: int
    loss: float
    success_rate: float | None = None
    mean_return: float | None = None
    samples: int = 0
    wall_s: float = 0.0


@dataclass
class TrainLog:
    """Everything a run records (saved next to the weights)."""

    curve: list[CurvePoint] = field(default_factory=list)
    bc_samples_per_s: float = 0.0
    rl_turns_per_s: float = 0.0
    bc_wall_s: float = 0.0
    rl_wall_s: float = 0.0


def _autocast(device: Any) -> Any:
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def bc_train(
    model: Any,
    tokenizer: Any,
    data: Sequence[Example],
    scale: Scale,
    *,
    lr: float = 2e-3,
    seed: int = 0,
    evaluate: Callable[[int], tuple[float, float]] | None = None,
    log: TrainLog | None = None,
) -> TrainLog:
    """Behaviour-clone ``data`` into ``model`` for ``scale.bc_steps`` steps."""
    import torch

    log = log or TrainLog()
    device = next(model.parameters()).device
    pairs = [(render_prompt(tokenizer, e.observation), reply_ids(tokenizer, e.reply)) for e in data]
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    start = time.perf_counter()
    seen = 0
    running = 0.0
    warmup = max(1, scale.bc_steps // 20)
    for step in range(scale.bc_steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, scale.bc_steps, lr, warmup)
        picks = rng.choice(len(pairs), size=min(scale.batch_size, len(pairs)), replace=False)
        ids, mask, labels = pad_batch([pairs[i] for i in picks], tokenizer.pad_token_id, device)
        with _autocast(device):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += len(picks)
        running = loss.item() if step == 0 else 0.9 * running + 0.1 * loss.item()
        last = step + 1 == scale.bc_steps
        if evaluate is not None and ((step + 1) % scale.curve_every == 0 or last):
            paused = time.perf_counter()
            success, ret = evaluate(step + 1)
            log.curve.append(
                CurvePoint("bc", step + 1, running, success, ret, seen, paused - start)
            )
            start += time.perf_counter() - paused  # evaluation time is not training time
    log.bc_wall_s = time.perf_counter() - start
    log.bc_samples_per_s = seen / max(log.bc_wall_s, 1e-9)
    return log


def _returns_to_go(traj: Trajectory) -> list[float]:
    rewards = [sum(t.reward_components.values()) for t in traj.turns]
    out, acc = [], 0.0
    for r in reversed(rewards):
        acc += r
        out.append(acc)
    return out[::-1]


def _scale(values: np.ndarray) -> float:
    """The group's standard deviation, or 1 when the group agrees: a group whose episodes
    all returned the same has no episode-level signal, and dividing its turns' small
    return-to-go differences by a near-zero deviation would blow them up."""
    std = float(values.std())
    return std if std > _EPS else 1.0


def advantages(group: Sequence[Trajectory], mode: AdvantageMode = "grpo") -> list[list[float]]:
    """Per-turn advantages for the trajectories of one task group (see the module doc)."""
    togo = [_returns_to_go(t) for t in group]
    episode = np.array([g[0] if g else 0.0 for g in togo])
    mean, std = float(episode.mean()), _scale(episode)
    if mode == "grpo":
        return [[(g - mean) / std for g in rtg] for rtg in togo]
    if mode != "gigpo":
        raise ValueError(f"Unknown advantage mode {mode!r}; choose 'grpo' or 'gigpo'.")
    anchors: dict[str, list[float]] = defaultdict(list)
    for traj, rtg in zip(group, togo):
        for turn, g in zip(traj.turns, rtg):
            anchors[turn.state_key].append(g)
    out = []
    for i, (traj, rtg) in enumerate(zip(group, togo)):
        ep = (episode[i] - mean) / (std + _EPS)
        row = []
        for turn, g in zip(traj.turns, rtg):
            same = np.array(anchors[turn.state_key])
            step = 0.0 if len(same) < 2 else (g - same.mean()) / _scale(same)
            row.append(float(ep + step))
        out.append(row)
    return out


def rl_train(
    model: Any,
    tokenizer: Any,
    spec: BaselineSpec,
    scale: Scale,
    *,
    lr: float = 1e-4,
    mode: AdvantageMode = "grpo",
    seed: int = 0,
    evaluate: Callable[[int], tuple[float, float]] | None = None,
    log: TrainLog | None = None,
) -> TrainLog:
    """Fine-tune ``model`` with group-relative policy gradients on training tasks."""
    import torch

    log = log or TrainLog()
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    agent = PolicyAgent(
        model, tokenizer, max_new_tokens=spec.max_new_tokens, sample=True, seed=seed
    )
    kwargs = {**spec.env_kwargs, "reward_mode": "process"}
    start = time.perf_counter()
    turns_seen = 0
    # RL tasks come after the BC tasks' seeds, so RL sees tasks BC did not.
    offset = 500_000
    for it in range(scale.rl_iterations):
        agent.sampled.clear()
        trajs = list(
            rollout(
                spec.env_id,
                agent,
                scale.rl_tasks * scale.rl_group,
                num_envs=scale.rl_tasks * scale.rl_group,
                seed=train_seed(spec, offset + it * scale.rl_tasks),
                group_size=scale.rl_group,
                env_kwargs=kwargs,
            )
        )
        groups: dict[int, list[Trajectory]] = defaultdict(list)
        for traj in trajs:
            groups[traj.group].append(traj)
        batch: list[tuple[list[int], list[int]]] = []
        weights: list[float] = []
        for members in groups.values():
            for traj, adv in zip(members, advantages(members, mode)):
                for turn, a in zip(traj.turns, adv):
                    if a != 0.0:
                        batch.append(agent.ids_for(turn.observation, turn.reply))
                        weights.append(a)
        turns_seen += sum(len(t.turns) for t in trajs)
        loss_value = 0.0
        if batch:
            model.train()
            opt.zero_grad(set_to_none=True)
            total = len(batch)
            for lo in range(0, total, scale.batch_size):
                chunk = batch[lo : lo + scale.batch_size]
                ids, mask, labels = pad_batch(chunk, tokenizer.pad_token_id, device)
                w = torch.tensor(weights[lo : lo + scale.batch_size], device=device)
                with _autocast(device):
                    logits = model(input_ids=ids, attention_mask=mask).logits
                logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                target = labels[:, 1:]
                picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
                seq_logp = (picked * (target != -100)).sum(-1)
                loss = -(w * seq_logp).sum() / total
                loss.backward()
                loss_value += float(loss.item())
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        last = it + 1 == scale.rl_iterations
        every = max(1, scale.rl_iterations // 5)
        if evaluate is not None and ((it + 1) % every == 0 or last):
            paused = time.perf_counter()
            success, ret = evaluate(it + 1)
            log.curve.append(
                CurvePoint("rl", it + 1, loss_value, success, ret, turns_seen, paused - start)
            )
            start += time.perf_counter() - paused
    log.rl_wall_s = time.perf_counter() - start
    log.rl_turns_per_s = turns_seen / max(log.rl_wall_s, 1e-9)
    return log
