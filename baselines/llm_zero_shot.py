"""``python -m baselines.llm_zero_shot``: the ``llm`` agent zero-shot on every suite env's
fixed eval set (issue 20, item 2), resumable.

Each env is one :func:`mtenvs.eval.runner.evaluate` run with a journal
(``<out>/<env slug>/episodes.jsonl``): every finished episode is on disk at once, and a
stopped run started again plays only the missing episodes. Episodes per env: the size of
its fixed eval set (every task once), or ``--episodes`` for envs without one (the games).
When every env is done, ``<out>/rows.json`` holds one row per env in the shape of
``baselines/results.json``'s scores (agent ``llm``: success rate with a Wilson 95 %
interval, mean return with a normal 95 % interval, mean turns, format-error rate), with
the wall time of each env.

    .venv/bin/python -m baselines.llm_zero_shot                     # all suite envs
    .venv/bin/python -m baselines.llm_zero_shot --envs mtenvs/Maze-v0 --limit 5   # a probe

The agent is ``LLMAgent(seed=0)`` (llama.cpp on a CPU when installed); ``--num-envs``
episodes are in flight at once (16: the llama.cpp engine's sequences).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from baselines.report import summary_row
from mtenvs import list_envs
from mtenvs.eval.runner import accepts_argument, evaluate

__all__ = ["EVAL_SET_SIZES", "episodes_for"]

#: Tasks in each env's fixed eval set (the asset files under ``mtenvs/assets``); envs with
#: an eval set not listed here play ``--episodes``.
EVAL_SET_SIZES: dict[str, int] = {
    "mtenvs/Clinical-v0": 100,
    "mtenvs/Maze-v0": 50,
    "mtenvs/MiniWob-click-button-v0": 50,
    "mtenvs/MiniWob-click-checkboxes-v0": 50,
    "mtenvs/MiniWob-enter-text-v0": 50,
    "mtenvs/PythonCode-v0": 45,
    "mtenvs/PythonMath-v0": 60,
    "mtenvs/RuleInduction-v0": 40,
    "mtenvs/Sokoban-v0": 50,
    "mtenvs/Sql-v0": 102,
    "mtenvs/SqlInteract-v0": 21,
    "mtenvs/WebAdmin-v0": 40,
    "mtenvs/WebShop-v0": 40,
    "mtenvs/WebWiki-v0": 40,
}

app = typer.Typer(add_completion=False, help=__doc__)


def episodes_for(env_id: str, default: int) -> int:
    """Episodes of ``env_id``: its eval set's size, else ``default``."""
    if accepts_argument(env_id, "eval_set") and env_id in EVAL_SET_SIZES:
        return EVAL_SET_SIZES[env_id]
    return default


def _row(run: Any, env_id: str, wall_s: float) -> dict[str, Any]:
    (s,) = run.summaries()
    return {**summary_row(s, {}), "env_id": env_id, "wall_s": wall_s}


@app.command()
def main(
    envs: Annotated[str, typer.Option(help="Comma-separated env ids or 'all'.")] = "all",
    episodes: Annotated[int, typer.Option(help="Episodes of envs without an eval set.")] = 100,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes per env.")] = None,
    num_envs: Annotated[int, typer.Option(help="Episodes in flight at once.")] = 16,
    out: Annotated[Path, typer.Option(help="Where journals and rows.json go.")] = Path(
        "runs/llm-zero-shot"
    ),
) -> None:
    """Play the llm agent on each env's eval set, continuing any journal in ``out``."""
    from mtenvs.agents.llm import LLMAgent

    env_ids = list_envs(suite=True) if envs == "all" else [e.strip() for e in envs.split(",")]
    agent = LLMAgent(seed=0)
    typer.echo(f"{agent!r}")
    rows_path = out / "rows.json"
    rows: dict[str, dict[str, Any]] = {}
    if rows_path.is_file():
        rows = {r["env_id"]: r for r in json.loads(rows_path.read_text())}
    for env_id in env_ids:
        n = episodes_for(env_id, episodes)
        if limit is not None:
            n = min(n, limit)
        slug = env_id.removeprefix("mtenvs/").lower()
        journal = out / slug / "episodes.jsonl"
        journal.parent.mkdir(parents=True, exist_ok=True)
        typer.echo(f"{env_id}: {n} episodes (journal {journal})")
        began = time.perf_counter()
        run = evaluate(
            [env_id],
            [agent],
            n,
            eval_set=True,
            num_envs=min(num_envs, n),
            name=f"llm-zero-shot-{slug}",
            journal=journal,
            resume=journal.is_file(),
        )
        wall = time.perf_counter() - began
        row = _row(run, env_id, wall + rows.get(env_id, {}).get("wall_s", 0.0))
        rows[env_id] = row
        rows_path.write_text(json.dumps(list(rows.values()), indent=1) + "\n")
        lo, hi = row["success_ci95"]
        typer.echo(
            f"  success {row['success_rate']:.1%} [{lo:.0%}, {hi:.0%}]  return "
            f"{row['mean_return']:+.3f}  turns {row['mean_turns']:.1f}  format errors/turn "
            f"{row['format_error_rate']:.3f}  ({wall:.0f} s)"
        )
    agent.close()


if __name__ == "__main__":
    app()
