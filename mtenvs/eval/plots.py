"""Report plots that read at a glance: an env × agent success heatmap with 95 % intervals, and
mean returns per env family. Their sizes grow with the number of envs and agents, within
bounds that keep the text readable at 100 % zoom (see ``tests/eval/test_plots.py``)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from mtenvs.eval.runner import EnvSummary

__all__ = ["env_family", "plot_returns_by_family", "plot_success_heatmap", "wilson_interval"]

#: Pixels per inch of the saved figures.
DPI = 110


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % by default): unlike mean ± 2 SE it
    stays within [0, 1] and is not empty at 0 % or 100 %."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def env_family(env_id: str) -> str:
    """The family of a registered id (``mtenvs/Sokoban-v0`` → ``grid``), from its entry point."""
    import gymnasium as gym

    try:
        entry = gym.spec(env_id).entry_point
    except gym.error.Error:
        return "other"
    module = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["mtenvs", "envs"] else "other"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_success_heatmap(summaries: list[EnvSummary], path: Path, title: str) -> Path:
    """Rows are envs, columns agents; each cell shows the success rate and its 95 % interval."""
    plt = _pyplot()
    envs = list(dict.fromkeys(s.env_id for s in summaries))
    agents = list(dict.fromkeys(s.agent for s in summaries))
    cell = {(s.env_id, s.agent): s for s in summaries}
    grid = [
        [cell[(e, a)].success_rate if (e, a) in cell else math.nan for a in agents] for e in envs
    ]
    width = min(3.0 + 1.55 * len(agents), 16.0)
    height = min(max(3.2, 1.4 + 0.36 * len(envs)), 24.0)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for i, env in enumerate(envs):
        for j, agent in enumerate(agents):
            s = cell.get((env, agent))
            if s is None:
                ax.text(j, i, "—", ha="center", va="center", fontsize=8, color="0.4")
                continue
            low, high = wilson_interval(s.success_rate * s.episodes, s.episodes)
            text = f"{s.success_rate:.0%}\n[{low:.0%}–{high:.0%}]"
            ax.text(j, i, text, ha="center", va="center", fontsize=7.5, linespacing=1.1)
    ax.set_xticks(range(len(agents)), agents, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(envs)), [e.removeprefix("mtenvs/") for e in envs], fontsize=9)
    ax.set_title(f"{title}: success rate [95 % interval]", fontsize=10, pad=22)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_returns_by_family(summaries: list[EnvSummary], path: Path, title: str) -> Path:
    """Mean episode return per env family and agent (the mean over the family's envs, with
    the spread of those envs' means as the error bar)."""
    plt = _pyplot()
    agents = list(dict.fromkeys(s.agent for s in summaries))
    family_of = {e: env_family(e) for e in dict.fromkeys(s.env_id for s in summaries)}
    by_family: dict[str, dict[str, list[float]]] = {}
    for s in summaries:
        by_family.setdefault(family_of[s.env_id], {}).setdefault(s.agent, []).append(s.mean_return)
    families = sorted(by_family)
    height = min(max(3.2, 1.6 + 0.28 * len(families) * max(len(agents), 1)), 20.0)
    fig, ax = plt.subplots(figsize=(9.0, height))
    bar = 0.8 / max(len(agents), 1)
    for k, agent in enumerate(agents):
        means, spreads, rows = [], [], []
        for i, family in enumerate(families):
            values = by_family[family].get(agent)
            if not values:
                continue
            mean = sum(values) / len(values)
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            means.append(mean)
            spreads.append(sd)
            rows.append(i + k * bar - 0.4 + bar / 2)
        ax.barh(rows, means, bar, xerr=spreads, label=agent, capsize=2)
    counts = Counter(family_of.values())
    labels = [f"{f} ({counts[f]} env{'s' if counts[f] > 1 else ''})" for f in families]
    ax.set_yticks(range(len(families)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("mean episode return (bar: mean over the family's envs; line: their spread)")
    ax.set_title(f"{title}: return per env family", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
