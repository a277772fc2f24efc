"""``python -m baselines.llm_pipeline``: the LLM tiers' rows end to end (``make baselines``).

For each env: SFT (``llm-sft``), its adapter shipped and evaluated, then RL from it
(``llm-rl``), shipped and evaluated; then ``llm`` zero-shot on every suite env (the first
``ZERO_SHOT_EPISODES`` episodes of each fixed eval set), and every row merged into
``baselines/results.json`` and ``RESULTS.md``. Each stage continues where a
stopped run left it: training from its checkpoint, evaluation from its journal, and a
finished adapter of the same settings is not trained again.

    PYTHONPATH=. .venv/bin/python -m baselines.llm_pipeline --scale cpu
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from baselines.llm_eval import JOURNALS, evaluate_llm, merge_results
from baselines.llm_train import LLM_SCALES, LLMTrainConfig, Phase, ship, train
from baselines.specs import slug
from mtenvs.agents.trained import WEIGHTS_DIR
from mtenvs.core.registry import list_envs

__all__ = ["LLM_ENVS", "ZERO_SHOT_EPISODES", "pipeline"]

#: The envs of the tuned tiers: a grid puzzle, games against an opponent (three), and a
#: tool-using env.
LLM_ENVS: tuple[str, ...] = (
    "mtenvs/Maze-v0",
    "mtenvs/TicTacToe-v0",
    "mtenvs/KuhnPoker-v0",
    "mtenvs/Search-v0",
    "mtenvs/LeducHoldem-v0",
)

#: The published zero-shot rows play this many episodes from the start of each suite env's
#: fixed eval set: 3.5 h of a 2-core CPU for the 24 envs, where the full sets (3,358
#: episodes) would take about 36 h. ``--zero-shot-episodes`` plays more (journals continue).
ZERO_SHOT_EPISODES = 16


def _done(run_dir: Path, scale: str) -> bool:
    meta = run_dir / "training.json"
    return meta.is_file() and json.loads(meta.read_text())["scale"]["name"] == scale


def pipeline(
    env_ids: list[str],
    scale: str,
    out: Path = Path("runs/llm-train"),
    *,
    root: Path = WEIGHTS_DIR,
    journals: Path = JOURNALS,
    results_dir: Path | None = None,
    limit: int | None = None,
    zero_shot: bool = True,
    zero_shot_envs: list[str] | None = None,
    zero_shot_episodes: int | None = ZERO_SHOT_EPISODES,
) -> None:
    """Train, ship and evaluate both tuned tiers on ``env_ids``, then ``llm`` on
    ``zero_shot_envs`` (default: ``env_ids``) for at most ``zero_shot_episodes`` each (None:
    the whole eval sets), unless ``zero_shot`` is off (another process plays it); merge.

    ``root``, ``journals``, ``results_dir``: where adapters, journals and results go
    (default: the published ones); ``limit``: at most this many evaluation episodes per
    env and tier (a probe)."""
    chosen = LLM_SCALES[scale]
    evaluation = {"out": journals, "limit": limit, "root": root}
    for env_id in env_ids:
        sft_dir = out / slug(env_id) / "llm-sft"
        phases: list[tuple[Phase, Path, str | None]] = [
            ("sft", sft_dir, None),
            ("rl", out / slug(env_id) / "llm-rl", str(sft_dir)),
        ]
        for phase, run_dir, init in phases:
            config = LLMTrainConfig(env_id, phase, scale, init=init)
            if not _done(run_dir, scale):
                typer.echo(f"{config.tier} on {env_id}: training ({asdict(chosen)})")
                train(config, chosen, run_dir, resume=True)
            ship(run_dir, env_id, config.tier, root)
            evaluate_llm(config.tier, [env_id], **evaluation)  # type: ignore[arg-type]
    if zero_shot:
        caps = [n for n in (limit, zero_shot_episodes) if n is not None]
        zero = {**evaluation, "limit": min(caps) if caps else None}
        evaluate_llm("llm", zero_shot_envs or env_ids, **zero)  # type: ignore[arg-type]
    typer.echo(f"wrote {merge_results(journals, results_dir, root)}")


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    envs: Annotated[str, typer.Option(help="Comma-separated env ids.")] = ",".join(LLM_ENVS),
    scale: Annotated[str, typer.Option(help="smoke, cpu or gpu.")] = "cpu",
    out: Annotated[Path, typer.Option(help="Training runs.")] = Path("runs/llm-train"),
    zero_shot: Annotated[
        bool, typer.Option(help="Also evaluate llm zero-shot (off: another process does).")
    ] = True,
    zero_shot_envs: Annotated[
        str, typer.Option(help="Comma-separated env ids for llm zero-shot, or all (the suite).")
    ] = "all",
    zero_shot_episodes: Annotated[
        int, typer.Option(help="llm zero-shot episodes per env (0: the whole eval sets).")
    ] = ZERO_SHOT_EPISODES,
) -> None:
    """Train, ship and evaluate the LLM tiers."""
    if scale not in LLM_SCALES:
        raise typer.BadParameter(f"scale must be one of {', '.join(LLM_SCALES)}, got {scale!r}.")
    suite = list_envs(suite=True)
    chosen = suite if zero_shot_envs == "all" else [e.strip() for e in zero_shot_envs.split(",")]
    unknown = [e for e in chosen if e not in suite]
    if unknown:
        raise typer.BadParameter(
            f"zero-shot envs must be suite envs or all, got {', '.join(unknown)}; "
            f"suite envs: {', '.join(suite)}."
        )
    pipeline(
        [e.strip() for e in envs.split(",")],
        scale,
        out,
        zero_shot=zero_shot,
        zero_shot_envs=chosen,
        zero_shot_episodes=zero_shot_episodes or None,
    )


if __name__ == "__main__":
    app()
