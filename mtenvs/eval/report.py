"""Evaluation reports: JSON (everything), Markdown (a table) and matplotlib plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtenvs.eval.runner import EvalRun

__all__ = ["markdown_table", "write_report"]


def markdown_table(run: EvalRun) -> str:
    """A Markdown table of the run's per-(env, agent) summaries."""
    lines = [
        "| env | agent | episodes | success | return | turns | format errors / turn |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in run.summaries():
        lines.append(
            f"| `{s.env_id}` | {s.agent} | {s.episodes} "
            f"| {s.success_rate:.1%} ± {s.success_stderr:.1%} "
            f"| {s.mean_return:.3f} ± {s.return_stderr:.3f} | {s.mean_turns:.1f} "
            f"| {s.format_error_rate:.3f} |"
        )
    return "\n".join(lines)


def _configs_markdown(config: dict[str, Any]) -> str:
    """What each env was built with (every agent played the same configuration)."""
    configs = config.get("env_configs") or {}
    if not configs:
        return ""
    lines = ["", "## Env configurations", ""]
    if config.get("reference_config"):
        lines += ["Each env's headline reference configuration.", ""]
    for env_id, kwargs in configs.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "defaults"
        lines.append(f"- `{env_id}`: {shown}")
    return "\n".join(lines) + "\n"


def _plot(run: EvalRun, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = run.summaries()
    envs = list(dict.fromkeys(s.env_id for s in summaries))
    agents = list(dict.fromkeys(s.agent for s in summaries))
    width = 0.8 / max(len(agents), 1)
    paths = []

    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(max(10, 2.6 * len(envs)), 4))
    positions = [i + width * (len(agents) - 1) / 2 for i in range(len(envs))]
    for ax, field, label in (
        (ax_s, "success_rate", "success rate"),
        (ax_r, "mean_return", "mean return"),
    ):
        for k, agent in enumerate(agents):
            values = [
                next(
                    (getattr(s, field) for s in summaries if s.env_id == e and s.agent == agent),
                    0.0,
                )
                for e in envs
            ]
            ax.bar([i + k * width for i in range(len(envs))], values, width, label=agent)
        ax.set_xticks(positions)
        ax.set_xticklabels([e.removeprefix("mtenvs/") for e in envs], rotation=20)
        ax.set_ylabel(label)
        ax.axhline(0, color="black", linewidth=0.5)
    ax_s.set_ylim(0, 1.05)
    ax_s.set_title(f"Success by env — {run.name}")
    ax_r.set_title("Mean episode return")
    ax_s.legend()
    fig.tight_layout()
    paths.append(out_dir / "success.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for agent in agents:
        eps = [e for e in run.episodes if e.agent == agent]
        axes[0].hist([e.episode_return for e in eps], bins=20, alpha=0.6, label=agent)
        axes[1].hist([e.turns for e in eps], bins=20, alpha=0.6, label=agent)
    axes[0].set_title("episode return")
    axes[1].set_title("turns per episode")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "distributions.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_report(run: EvalRun, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write ``report.json``, ``report.md`` and (optionally) PNG plots to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(run.to_dict(), indent=2))
    md_path = out / "report.md"
    config = run.config
    md_path.write_text(
        f"# mtenvs evaluation: {run.name}\n\n"
        f"Created {run.created}; {config['episodes']} episodes per env and agent, "
        f"seeds from {config['seed']}, fixed eval sets: {config['eval_set']}.\n\n"
        f"{markdown_table(run)}\n\n"
        "Success and return: mean ± standard error over episodes.\n"
        f"{_configs_markdown(config)}"
    )
    paths = [json_path, md_path]
    if plots:
        paths += _plot(run, out)
    return paths


def load_run_summaries(path: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """``(name, summaries)`` from a run folder or its ``report.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    data = json.loads(p.read_text())
    return str(data.get("name", p.parent.name)), list(data["summaries"])


RunSummaries = tuple[str, list[dict[str, Any]]]


def compare_table(runs: list[RunSummaries]) -> tuple[list[str], list[list[str]]]:
    """Header and rows comparing success rate and mean return per (env, agent) across runs."""
    keys: list[tuple[str, str]] = []
    for _, summaries in runs:
        for s in summaries:
            key = (str(s["env_id"]), str(s["agent"]))
            if key not in keys:
                keys.append(key)
    header = ["env", "agent", *[name for name, _ in runs]]
    rows = []
    for env_id, agent in keys:
        row = [env_id, agent]
        for _, summaries in runs:
            match = next(
                (s for s in summaries if (s["env_id"], s["agent"]) == (env_id, agent)), None
            )
            row.append(
                "—"
                if match is None
                else f"{float(match['success_rate']):.1%} / {float(match['mean_return']):.3f}"
            )
        rows.append(row)
    return header, rows
