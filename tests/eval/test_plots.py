"""The report's plots render at a size and shape that read at normal zoom, for the whole
suite (23 envs × 4 agents, what `make demo` plays) as for one env, and the HTML report
carries the table and the plots in one file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.core.registry import list_envs
from mtenvs.eval.plots import (
    env_family,
    plot_returns_by_family,
    plot_success_heatmap,
    wilson_interval,
)
from mtenvs.eval.report import html_report
from mtenvs.eval.runner import EnvSummary, EvalRun

AGENTS = ("random", "scripted", "oracle", "trained")


def _summaries(envs: list[str]) -> list[EnvSummary]:
    return [
        EnvSummary(env, agent, 20, (i * 7 + k * 3) % 21 / 20, 0.1, k / 3, 0.05, 5.0, 0.1, 50.0)
        for i, env in enumerate(envs)
        for k, agent in enumerate(AGENTS)
    ]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("n_envs", [1, 5, 23])
def test_plots_keep_a_readable_size_and_shape(tmp_path, n_envs):
    envs = list_envs(suite=True)[:n_envs]
    summaries = _summaries(envs)
    for plot in (plot_success_heatmap, plot_returns_by_family):
        path = plot(summaries, tmp_path / f"{plot.__name__}.png", "run")
        width, height = _png_size(path)
        assert 500 <= width <= 1800 and 300 <= height <= 2700, (plot.__name__, width, height)
        assert 0.3 <= width / height <= 3.0, (plot.__name__, width, height)  # not a ribbon
    # Rows of the heatmap stay tall enough for 9 pt labels and two-line cells at 110 dpi.
    width, height = _png_size(tmp_path / "plot_success_heatmap.png")
    assert height / n_envs >= 36


def test_the_wilson_interval():
    assert wilson_interval(0, 20)[0] == 0.0 and 0.1 < wilson_interval(0, 20)[1] < 0.2
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.8 < low < 0.9
    low, high = wilson_interval(10, 20)
    assert low < 0.5 < high and high - low < 0.5


def test_env_families_come_from_the_entry_points():
    assert env_family("mtenvs/Sokoban-v0") == "grid"
    assert env_family("mtenvs/Sql-v0") == "sql"
    assert env_family("mtenvs/NoSuchEnv-v0") == "other"


def test_the_html_report_is_self_contained(tmp_path):
    envs = list_envs(suite=True)[:3]
    summaries = _summaries(envs)
    images = [
        plot_success_heatmap(summaries, tmp_path / "success.png", "run"),
        plot_returns_by_family(summaries, tmp_path / "returns.png", "run"),
    ]
    run = EvalRun("run", {"episodes": 20, "seed": 0, "eval_set": True})
    page = html_report(run, images)
    assert page.count("data:image/png;base64,") == 2 and 'src="http' not in page
    assert page.startswith("<!doctype html>") and "</table>" in page


def test_a_run_where_nothing_was_played_still_writes_its_report(tmp_path):
    from mtenvs.agents import ScriptedAgent
    from mtenvs.eval import evaluate
    from mtenvs.eval.report import write_report

    # Sokoban has no scripted policy: the only pair is skipped.
    run = evaluate(["mtenvs/Sokoban-v0"], [ScriptedAgent()], 1, name="nothing")
    assert run.summaries() == [] and run.config["skipped"]
    paths = write_report(run, tmp_path / "nothing")
    assert all(p.is_file() for p in paths)
    assert not (tmp_path / "nothing" / "success.png").exists()
