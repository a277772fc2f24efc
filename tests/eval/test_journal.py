"""A stopped evaluation continues from its journal: finished episodes are kept, only the
missing seeds are played, and the report is the same as an uninterrupted run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.cli import app
from mtenvs.error import InvalidArgumentError
from mtenvs.eval import evaluate
from tests.agents_support import ConversationSeededAgent

ENVS = ["mtenvs/Maze-v0", "mtenvs/TicTacToe-v0"]


def _rows(run) -> list[tuple]:
    return [
        (e.env_id, e.agent, e.seed, e.task_id, e.success, e.episode_return, e.turns)
        for e in run.episodes
    ]


def test_a_stopped_run_plays_only_the_missing_episodes(tmp_path: Path) -> None:
    journal = tmp_path / "episodes.jsonl"
    full = evaluate(ENVS, [ConversationSeededAgent()], 4, journal=journal)
    lines = journal.read_text().splitlines()
    assert json.loads(lines[0])["journal"] == 1 and len(lines) == 1 + 8
    # Stop after three episodes, in the middle of writing the fourth line.
    journal.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    agent = ConversationSeededAgent()
    resumed = evaluate(ENVS, [agent], 4, journal=journal, resume=True)
    assert agent.started == 5  # 8 episodes, 3 on disk
    assert _rows(resumed) == _rows(full)
    assert len(journal.read_text().splitlines()) == 1 + 8
    # Resuming a finished run plays nothing; more episodes play only the new seeds.
    again = ConversationSeededAgent()
    assert _rows(evaluate(ENVS, [again], 4, journal=journal, resume=True)) == _rows(full)
    assert again.started == 0
    more = ConversationSeededAgent()
    longer = evaluate(ENVS, [more], 6, journal=journal, resume=True)
    assert more.started == 4 and len(longer.episodes) == 12


def test_without_resume_the_journal_starts_over(tmp_path: Path) -> None:
    journal = tmp_path / "episodes.jsonl"
    evaluate(ENVS[:1], [ConversationSeededAgent()], 3, journal=journal)
    agent = ConversationSeededAgent()
    evaluate(ENVS[:1], [agent], 2, journal=journal)
    assert agent.started == 2 and len(journal.read_text().splitlines()) == 1 + 2


def test_a_journal_of_other_settings_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "episodes.jsonl"
    evaluate(ENVS[:1], [ConversationSeededAgent()], 2, journal=journal)
    with pytest.raises(InvalidArgumentError, match=r"env_kwargs=\{\}.*this run has env_kwargs"):
        evaluate(
            ENVS[:1],
            [ConversationSeededAgent()],
            2,
            journal=journal,
            resume=True,
            env_kwargs={"difficulty": "hard"},
        )
    journal.write_text('{"not": "a journal"}\n')
    with pytest.raises(InvalidArgumentError, match="not an mtenvs run journal"):
        evaluate(ENVS[:1], [ConversationSeededAgent()], 2, journal=journal, resume=True)


def test_cli_resume_continues_the_named_run(tmp_path: Path) -> None:
    runner = CliRunner()
    base = [
        "eval",
        "--env",
        "mtenvs/Maze-v0",
        "--agent",
        "random",
        "--episodes",
        "3",
        "--out",
        str(tmp_path),
        "--no-plots",
    ]
    first = runner.invoke(app, [*base, "--name", "r"])
    assert first.exit_code == 0, first.output
    journal = tmp_path / "r" / "episodes.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:2]) + "\n")  # stopped after one episode
    again = runner.invoke(app, [*base, "--name", "r", "--resume"])
    assert again.exit_code == 0, again.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert sorted(e["seed"] for e in report["episodes"]) == [0, 1, 2]
    missing = runner.invoke(app, [*base, "--resume"])
    assert missing.exit_code != 0 and "--name" in missing.output
