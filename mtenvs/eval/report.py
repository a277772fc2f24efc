"""Evaluation reports: JSON (everything), Markdown (a table), matplotlib plots and one
self-contained HTML page (the table and the plots)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from mtenvs.eval.plots import plot_returns_by_family, plot_success_heatmap, wilson_interval
from mtenvs.eval.runner import NO_POLICY, EnvSummary, EvalRun

__all__ = [
    "episodes_label",
    "html_report",
    "markdown_table",
    "skipped_line",
    "write_comparison",
    "write_report",
]


def episodes_label(row: dict[str, Any]) -> str:
    """A published score row's episode count; ``"16 of 200"`` for a row whose journal is
    still being played (its ``planned_episodes``, as ``baselines/llm_eval.py`` writes)."""
    played, planned = row["episodes"], row.get("planned_episodes", row["episodes"])
    return f"{played} of {planned}" if planned > played else str(played)


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
    wrappers = config.get("env_wrappers") or {}
    for env_id, kwargs in configs.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "defaults"
        wrapped = ", ".join(f"`{w}`" for w in wrappers.get(env_id) or [])
        lines.append(f"- `{env_id}`: {shown}" + (f"; wrapped in {wrapped}" if wrapped else ""))
    skipped = skipped_line(config, limit=0)
    if skipped:
        lines += ["", skipped]
    return "\n".join(lines) + "\n"


def skipped_line(config: dict[str, Any], *, limit: int = 3) -> str:
    """The env/agent pairs not played, in one sentence per reason (the agent has no policy
    for the env; a component the env needs is missing here): per agent its envs, or how
    many when more than ``limit`` (``limit=0``: every env)."""
    by_reason: dict[str, dict[str, list[str]]] = {}
    for pair in config.get("skipped") or []:
        reason = pair.get("reason") or NO_POLICY
        envs = by_reason.setdefault(reason, {}).setdefault(pair["agent"], [])
        envs.append(pair["env_id"].removeprefix("mtenvs/"))
    sentences = []
    for reason, by_agent in by_reason.items():
        parts = [
            f"{agent} on {', '.join(envs)}"
            if not limit or len(envs) <= limit
            else f"{agent} on {len(envs)} envs"
            for agent, envs in by_agent.items()
        ]
        shown = "the agent has no policy for the env" if reason == NO_POLICY else reason
        sentences.append(f"Not played ({shown.rstrip('.')}): {'; '.join(parts)}.")
    return " ".join(sentences)


def _plots(summaries: list[EnvSummary], out_dir: Path, title: str) -> list[Path]:
    if not summaries:  # every env/agent pair skipped: nothing to draw
        return []
    return [
        plot_success_heatmap(summaries, out_dir / "success.png", title),
        plot_returns_by_family(summaries, out_dir / "returns.png", title),
    ]


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;font-size:14px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}"
    "img{max-width:100%;border:1px solid #eee;margin:1em 0}"
)


def _html_page(
    title: str, intro: str, header: list[str], rows: list[list[str]], images: list[Path]
) -> str:
    """One self-contained page: a heading, a sentence, a table and the plots (as data URLs)."""
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    figures = "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in images
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p><table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in header)
        + f"</tr>{cells}</table>{figures}</body></html>"
    )


def html_report(run: EvalRun, images: list[Path]) -> str:
    """One self-contained HTML page: the table and the plots (embedded as data URLs)."""
    config = run.config
    rows = [
        [
            s.env_id,
            s.agent,
            str(s.episodes),
            f"{s.success_rate:.1%} [{_interval(s)}]",
            f"{s.mean_return:.3f} ± {s.return_stderr:.3f}",
            f"{s.mean_turns:.1f}",
            f"{s.format_error_rate:.3f}",
        ]
        for s in run.summaries()
    ]
    header = ["env", "agent", "episodes", "success", "return", "turns", "format errors / turn"]
    intro = (
        f"Created {run.created}; {config['episodes']} episodes per env and agent, seeds from "
        f"{config['seed']}, fixed eval sets: {config['eval_set']}. Success: rate [Wilson 95 % "
        "interval]; return: mean ± standard error."
    )
    return _html_page(f"mtenvs evaluation: {run.name}", intro, header, rows, images)


def _interval(s: EnvSummary) -> str:
    low, high = wilson_interval(s.success_rate * s.episodes, s.episodes)
    return f"{low:.0%}–{high:.0%}"


def write_report(run: EvalRun, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``report.html`` and (optionally) the PNG plots
    (``success.png``: env × agent heatmap; ``returns.png``: return per env family)."""
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
    images = _plots(run.summaries(), out, run.name) if plots else []
    html_path = out / "report.html"
    html_path.write_text(html_report(run, images))
    return [*paths, html_path, *images]


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


def write_comparison(runs: list[RunSummaries], out_dir: str | Path) -> list[Path]:
    """The runs side by side the way one run is reported: a success heatmap and returns per
    family with one column per ``run/agent``, and ``comparison.html`` holding the table and
    both plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fields = set(EnvSummary.__dataclass_fields__)
    summaries = [
        EnvSummary(
            **{**{k: v for k, v in s.items() if k in fields}, "agent": f"{name}/{s['agent']}"}
        )
        for name, run in runs
        for s in run
    ]
    title = " vs ".join(name for name, _ in runs)
    images = _plots(summaries, out, title)
    header, rows = compare_table(runs)
    page = out / "comparison.html"
    intro = "success rate / mean return per env and agent."
    page.write_text(_html_page(f"mtenvs comparison: {title}", intro, header, rows, images))
    return [page, *images]
