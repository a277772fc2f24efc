"""``python -m baselines.run``: train the reference agents and publish their scores.

Commands:
    ``train``     collect oracle data, train tokenizer + model (BC, then RL), save weights to
                  ``mtenvs/assets/baselines/<env>/`` with ``training.json`` (curves, timings).
    ``evaluate``  score random / scripted / oracle / trained agents on the fixed eval sets and
                  write ``baselines/results.json``, ``baselines/RESULTS.md`` and the learning
                  curve plots in ``docs/img/``.

``make baselines`` runs both at the ``cpu`` scale (``BASELINES_SCALE=gpu`` on a GPU machine).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from baselines.data import VALIDATION_OFFSET, collect, corpus, describe, examples, train_seed
from baselines.model import build_model, train_tokenizer
from baselines.policy import PolicyAgent, pick_device
from baselines.specs import SCALES, SPECS, BaselineSpec, Scale
from mtenvs.agents.trained import WEIGHTS_DIR
from mtenvs.rollout import rollout

__all__ = ["ROOT", "WEIGHTS", "eval_kwargs", "quick_eval", "train_one"]

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = WEIGHTS_DIR
RESULTS_DIR = ROOT / "baselines"
CURVES_PNG = ROOT / "docs" / "img" / "baselines_curves.png"

app = typer.Typer(add_completion=False, help=__doc__)


@app.callback()
def _root() -> None:
    """Reference baselines: ``train`` then ``evaluate``."""


def eval_kwargs(spec: BaselineSpec) -> dict[str, Any]:
    """Constructor arguments of the evaluation episodes (the fixed eval set when there is one)."""
    return {**spec.env_kwargs, **({"eval_set": True} if spec.has_eval_set else {})}


def _greedy_scores(
    model: Any, tokenizer: Any, spec: BaselineSpec, episodes: int, **where: Any
) -> tuple[float, float]:
    """Greedy success rate and mean return over ``episodes`` episodes (``where``: the
    rollout's ``seed`` and ``env_kwargs``)."""
    agent = PolicyAgent(model, tokenizer, max_new_tokens=spec.max_new_tokens)
    trajs = list(rollout(spec.env_id, agent, episodes, num_envs=episodes, **where))
    success = sum(t.success for t in trajs) / len(trajs)
    ret = sum(sum(turn.reward for turn in t.turns) for t in trajs) / len(trajs)
    return success, ret


def quick_eval(
    model: Any, tokenizer: Any, spec: BaselineSpec, episodes: int
) -> tuple[float, float]:
    """Greedy success rate and mean return on the first ``episodes`` eval tasks."""
    return _greedy_scores(model, tokenizer, spec, episodes, env_kwargs=eval_kwargs(spec))


def validate(model: Any, tokenizer: Any, spec: BaselineSpec, episodes: int) -> float:
    """Greedy mean return on validation tasks: training-split seeds no phase trains on."""
    seed = train_seed(spec, VALIDATION_OFFSET)
    return _greedy_scores(model, tokenizer, spec, episodes, seed=seed, env_kwargs=spec.env_kwargs)[
        1
    ]


def train_one(
    spec: BaselineSpec,
    scale: Scale,
    out: Path,
    *,
    device: str = "auto",
    seed: int = 0,
    rl_mode: str = "grpo",
    threads: int | None = None,
) -> dict[str, Any]:
    """Train one reference agent end to end and save it to ``out``; returns its record."""
    import torch

    from baselines.train import bc_train, rl_train

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = pick_device(device)
    scale = spec.scaled(scale)
    began = time.perf_counter()
    trajs = collect(spec, scale.bc_episodes)
    data = list(examples(trajs))
    tokenizer = train_tokenizer(corpus(trajs), vocab_size=512)
    width = int(spec.hidden_size * scale.width) // spec.num_heads * spec.num_heads
    model = build_model(
        tokenizer,
        hidden_size=width,
        num_layers=spec.num_layers,
        num_heads=spec.num_heads,
        seed=seed,
    ).to(dev)

    def evaluate(step: int) -> tuple[float, float]:
        success, ret = quick_eval(model, tokenizer, spec, scale.curve_episodes)
        elapsed = time.perf_counter() - began
        print(
            f"  {spec.env_id} step {step}: success {success:.2f} return {ret:+.3f} "
            f"({elapsed:.0f} s)",
            flush=True,
        )
        return success, ret

    log = bc_train(model, tokenizer, data, scale, seed=seed, evaluate=evaluate)
    rl_kept = False
    validation: dict[str, float] = {}
    if scale.rl_iterations:
        # RL is kept only if it does not lower the mean return on validation tasks (training
        # tasks neither phase trained on); the eval set never chooses.
        bc_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        validation["bc"] = validate(model, tokenizer, spec, scale.curve_episodes)
        rl_train(model, tokenizer, spec, scale, seed=seed, mode=rl_mode, evaluate=evaluate, log=log)  # type: ignore[arg-type]
        validation["rl"] = validate(model, tokenizer, spec, scale.curve_episodes)
        rl_kept = validation["rl"] >= validation["bc"]
        if not rl_kept:
            model.load_state_dict(bc_state)
    out.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    record = {
        "env_id": spec.env_id,
        "env_kwargs": spec.env_kwargs,
        "scale": asdict(scale),
        "rl_mode": rl_mode,
        "max_new_tokens": spec.max_new_tokens,
        "validation_return": validation,
        "rl_kept": rl_kept,
        "seed": seed,
        "device": str(dev),
        "device_name": (
            torch.cuda.get_device_name(dev)
            if dev.type == "cuda"
            else platform.processor() or platform.machine()
        ),
        "torch_threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "hidden_size": width,
        "num_layers": spec.num_layers,
        "data": describe(trajs) | {"examples": len(data)},
        "bc_wall_s": log.bc_wall_s,
        "bc_samples_per_s": log.bc_samples_per_s,
        "rl_wall_s": log.rl_wall_s,
        "rl_turns_per_s": log.rl_turns_per_s,
        "total_wall_s": time.perf_counter() - began,
        "curve": [asdict(p) for p in log.curve],
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _specs(envs: str) -> list[BaselineSpec]:
    if envs == "all":
        return list(SPECS.values())
    chosen = []
    for name in envs.split(","):
        matches = [s for s in SPECS.values() if name in (s.env_id, s.name, s.env_id.split("/")[-1])]
        if not matches:
            raise typer.BadParameter(
                f"Unknown env {name!r}; choose from "
                f"{', '.join(s.env_id for s in SPECS.values())} or 'all'."
            )
        chosen.extend(matches)
    return chosen


def _scale(name: str) -> Scale:
    if name not in SCALES:
        raise typer.BadParameter(f"Unknown scale {name!r}; choose one of {', '.join(SCALES)}.")
    return SCALES[name]


@app.command()
def train(
    envs: Annotated[str, typer.Option(help="Comma-separated env ids or 'all'.")] = "all",
    scale: Annotated[str, typer.Option(help="smoke | cpu | gpu")] = "cpu",
    out: Annotated[Path, typer.Option(help="Weights directory (one folder per env).")] = WEIGHTS,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N")] = "auto",
    seed: Annotated[int, typer.Option()] = 0,
    rl_mode: Annotated[str, typer.Option(help="grpo | gigpo")] = "grpo",
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Train the reference agents (see the module doc)."""
    sc = _scale(scale)
    for spec in _specs(envs):
        typer.echo(f"training {spec.env_id} at scale {sc.name} …")
        rec = train_one(
            spec,
            sc,
            out / spec.name,
            device=device,
            seed=seed,
            rl_mode=rl_mode,
            threads=threads or None,
        )
        last = rec["curve"][-1] if rec["curve"] else {}
        typer.echo(
            f"  {spec.env_id}: {rec['parameters']:,} params, BC {rec['bc_wall_s']:.0f} s, "
            f"RL {rec['rl_wall_s']:.0f} s, last curve point success={last.get('success_rate')}"
        )


@app.command("evaluate")
def evaluate_cmd(
    envs: Annotated[str, typer.Option(help="Comma-separated env ids or 'all'.")] = "all",
    scale: Annotated[str, typer.Option(help="Scale the weights were trained at.")] = "cpu",
    weights: Annotated[Path, typer.Option(help="Weights directory.")] = WEIGHTS,
    out: Annotated[Path, typer.Option(help="Where results.json, RESULTS.md go.")] = RESULTS_DIR,
    plot: Annotated[Path, typer.Option(help="Learning-curve figure.")] = CURVES_PNG,
) -> None:
    """Score random / scripted / oracle / trained agents, retire each trained agent at
    random level (see ``beats_random``); write RESULTS.md and plots."""
    from baselines.report import (
        TIERS,
        beats_random,
        llm_trainings,
        retire,
        score,
        sort_rows,
        write_results,
    )

    sc = _scale(scale)
    chosen = _specs(envs)
    # Rows of envs not evaluated now are kept from the previous results.json.
    rows: list[dict[str, Any]] = []
    trainings: dict[str, dict[str, Any]] = {}
    previous = out / "results.json"
    if previous.is_file():
        old = json.loads(previous.read_text())
        ids = {s.env_id for s in chosen}
        # The LLM tiers' rows are kept too (python -m baselines.llm_eval --merge).
        rows = [r for r in old["scores"] if r["env_id"] not in ids or r["agent"] not in TIERS]
        trainings = {k: v for k, v in old["training"].items() if k not in ids}
    for spec in chosen:
        typer.echo(f"evaluating {spec.env_id} …")
        meta = weights / spec.name / "training.json"
        if meta.is_file():
            trainings[spec.env_id] = json.loads(meta.read_text())
        for row in score(spec, sc, weights):
            rows.append(row)
            typer.echo(
                f"  {row['agent']:>9}: success {row['success_rate']:.1%}  "
                f"return {row['mean_return']:+.3f}  ({row['episodes']} episodes)"
            )
        ships, why = beats_random(rows, spec.env_id)
        if not ships:
            retire(weights / spec.name, why)
            trainings[spec.env_id] = json.loads(meta.read_text())
            typer.echo(f"  retired the trained agent of {spec.env_id}: {why}")
    order = list(SPECS)
    rows = sort_rows(rows, order)
    trainings = dict(sorted(trainings.items(), key=lambda kv: order.index(kv[0])))
    path = write_results(rows, trainings, out, plot, llm_trainings())
    typer.echo(f"wrote {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
