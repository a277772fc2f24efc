"""Evaluation: run agents on envs and write reports."""

from __future__ import annotations

from mtenvs.eval.report import markdown_table, write_report
from mtenvs.eval.runner import EnvSummary, EpisodeResult, EvalRun, evaluate, run_episode

__all__ = [
    "EnvSummary",
    "EpisodeResult",
    "EvalRun",
    "evaluate",
    "markdown_table",
    "run_episode",
    "write_report",
]
