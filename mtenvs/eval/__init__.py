"""Evaluation: run agents on envs and write reports."""

from __future__ import annotations

from mtenvs.eval.report import markdown_table, write_report
from mtenvs.eval.runner import EnvSummary, EpisodeResult, EvalRun, episode_result, evaluate

__all__ = [
    "EnvSummary",
    "EpisodeResult",
    "EvalRun",
    "episode_result",
    "evaluate",
    "markdown_table",
    "write_report",
]
