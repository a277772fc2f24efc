"""The `mtenvs` command, run for real (typer runner, and a pty for the interactive `play`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from mtenvs.cli import app

runner = CliRunner()


def test_list_shows_the_suite_and_all_shows_every_id():
    import mtenvs

    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for env_id in mtenvs.list_envs(suite=True):
        assert env_id in result.output
    assert "mtenvs/MiniWob-click-dialog-v0" not in result.output
    assert "adapter ids: --all" in result.output
    result = runner.invoke(app, ["list", "--all"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for env_id in mtenvs.list_envs():
        assert env_id in result.output


def test_eval_writes_json_markdown_and_plots(tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "eval",
            "--env",
            "mtenvs/Maze-v0",
            "--agent",
            "random,oracle",
            "--episodes",
            "3",
            "--name",
            "t",
            "--out",
            str(tmp_path),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "t" / "report.json").read_text())
    by_agent = {s["agent"]: s for s in report["summaries"]}
    assert by_agent["oracle"]["success_rate"] == 1.0 and by_agent["oracle"]["episodes"] == 3
    assert len(report["episodes"]) == 6
    md = (tmp_path / "t" / "report.md").read_text()
    assert "| `mtenvs/Maze-v0` | oracle | 3 | 100.0%" in md
    assert (tmp_path / "t" / "success.png").stat().st_size > 1000


def test_eval_says_which_env_and_agent_pairs_it_did_not_play(tmp_path: Path):
    # MiniWoB has no oracle: the pair is skipped before any browser starts, and said so.
    args = ["eval", "--env", "mtenvs/MiniWob-click-button-v0", "--agent", "oracle"]
    args += ["--episodes", "1", "--name", "t", "--out", str(tmp_path), "--no-plots"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    said = "Not played (the agent has no policy for the env): oracle on MiniWob-click-button-v0."
    assert said in " ".join(result.output.split())
    assert said in (tmp_path / "t" / "report.md").read_text()
    report = json.loads((tmp_path / "t" / "report.json").read_text())
    assert report["episodes"] == [] and report["config"]["skipped"][0]["agent"] == "oracle"


def test_eval_says_each_warning_once_after_the_table(tmp_path: Path, monkeypatch):
    """A warning raised while episodes run (an LLM agent shortening long prompts) is one
    plain line after the table, not Python's file:line form in the middle of the bar."""
    import warnings

    import mtenvs.cli as cli

    real = cli.evaluate

    def warning_evaluate(*args, **kwargs):
        for _ in range(3):
            warnings.warn("llm: a prompt of 1136 tokens was shortened", stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "evaluate", warning_evaluate)
    args = ["eval", "--env", "mtenvs/Maze-v0", "--agent", "random", "--episodes", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path), "--no-plots"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    said = [i for i, line in enumerate(lines) if "shortened" in line]
    assert len(said) == 1, result.output
    assert lines[said[0]] == "warning: llm: a prompt of 1136 tokens was shortened"
    assert said[0] > next(i for i, line in enumerate(lines) if "Maze-v0" in line)
    assert "UserWarning" not in result.output


def test_eval_reference_config_plays_each_envs_headline_config(tmp_path: Path):
    base = ["eval", "--agent", "random", "--episodes", "2", "--out", str(tmp_path)]
    envs = ["--env", "mtenvs/TicTacToe-v0,mtenvs/ConnectFour-v0"]
    result = runner.invoke(app, [*base, *envs, "--reference-config", "--name", "ref"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "ref" / "report.json").read_text())["config"]
    assert config["env_configs"] == {
        "mtenvs/TicTacToe-v0": {"opponent": "random"},
        "mtenvs/ConnectFour-v0": {"opponent": "heuristic"},
    }
    md = (tmp_path / "ref" / "report.md").read_text()
    assert "- `mtenvs/TicTacToe-v0`: opponent='random'" in md
    # --arg overrides it; without the flag the env's defaults are used
    result = runner.invoke(
        app, [*base, *envs, "--reference-config", "--arg", "opponent=optimal", "--name", "o"]
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "o" / "report.json").read_text())["config"]
    assert set(map(str, config["env_configs"].values())) == {"{'opponent': 'optimal'}"}
    result = runner.invoke(app, [*base, "--env", "mtenvs/TicTacToe-v0", "--name", "d"])
    config = json.loads((tmp_path / "d" / "report.json").read_text())["config"]
    assert config["env_configs"] == {"mtenvs/TicTacToe-v0": {}}


def test_eval_wraps_every_env_as_the_wrapper_options_say(tmp_path: Path):
    args = ["eval", "--env", "mtenvs/Maze-v0,mtenvs/PythonMath-v0", "--agent", "random"]
    args += ["--episodes", "2", "--name", "w", "--out", str(tmp_path), "--no-plots"]
    args += ["--wrapper", "TryAgain:max_attempts=2,feedback=No, try again."]
    args += ["--wrapper", "TurnLimit:max_turns=2"]
    result = runner.invoke(app, [*args, "--arg", "max_turns=5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "w" / "report.json").read_text())
    wrappers = report["config"]["env_wrappers"]
    assert wrappers["mtenvs/Maze-v0"] == [
        "TryAgain(max_attempts=2, decay=0.5, feedback='No, try again.')",
        "TurnLimit(max_turns=2, remind=False)",
    ]
    assert wrappers["mtenvs/PythonMath-v0"] == wrappers["mtenvs/Maze-v0"]
    assert report["config"]["env_configs"]["mtenvs/Maze-v0"]["max_turns"] == 5
    assert {e["env_id"] for e in report["episodes"]} == {"mtenvs/Maze-v0", "mtenvs/PythonMath-v0"}
    assert all(e["turns"] <= 2 for e in report["episodes"])  # TurnLimit cut them
    md = (tmp_path / "w" / "report.md").read_text()
    assert "wrapped in `TryAgain(max_attempts=2" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--env", "mtenvs/Sokobn-v0"], "Did you mean 'mtenvs/Sokoban-v0'"),
        (["eval", "--env", "mtenvs/Maze-v0", "--agent", "orcale"], "Did you mean 'oracle'"),
        (["play", "mtenvs/Maze-v0", "--arg", "difficulty=hrad"], "Did you mean 'hard'"),
        (["eval", "--wrapper", "TryAgian"], "choose one of ChatHistory, ContextSummary"),
        (["eval", "--wrapper", "TurnLimit:max_turn=3"], "Did you mean 'max_turns'"),
        (["eval", "--wrapper", "TurnLimit:3"], "--wrapper TurnLimit expects KEY=VALUE"),
    ],
)
def test_bad_arguments_exit_with_a_helpful_message(args, message):
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_play_in_a_terminal():
    child = pexpect.spawn(
        sys.executable,
        ["-m", "mtenvs.cli", "play", "mtenvs/Maze-v0", "--seed", "1"],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
        env={**os.environ, "TERM": "dumb"},
    )
    child.expect("> ")
    child.sendline("fly away")
    child.expect("Invalid reply")
    child.expect("> ")
    for _ in range(200):
        child.sendline(":hint")
        child.expect(r"oracle: (.*?)\r?\n")
        move = child.match.group(1).strip()
        child.expect("> ")
        child.sendline(move)
        index = child.expect([r"> ", "solved"])
        if index == 1:
            break
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_report_compares_runs(tmp_path: Path):
    for name, agent in (("a", "random"), ("b", "oracle")):
        result = runner.invoke(
            app,
            [
                "eval",
                "--env",
                "mtenvs/Maze-v0",
                "--agent",
                agent,
                "--episodes",
                "2",
                "--name",
                name,
                "--out",
                str(tmp_path),
                "--no-plots",
            ],
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["report", str(tmp_path / "a"), str(tmp_path / "b")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "mtenvs/Maze-v0" in result.output and "100.0% / 1.000" in result.output
    plots = tmp_path / "cmp"
    result = runner.invoke(
        app, ["report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(plots)]
    )
    assert result.exit_code == 0, result.output
    page = (plots / "comparison.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "mtenvs/Maze-v0" in page
    assert (plots / "success.png").stat().st_size > 1000
    bad = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert bad.exit_code == 2
