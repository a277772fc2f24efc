"""The LLM tiers in the reference-score report: rows merged by (env, agent), ordered by env
and tier, the verdicts of RESULTS.md's LLM section and the eval-set sizes ``llm_eval`` plays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baselines.llm_eval import episodes_for, eval_set_size
from baselines.report import beats, merge_rows, sort_rows, write_results


def _row(env: str, agent: str, success: tuple[float, float], ret: float = 0.0) -> dict[str, Any]:
    lo, hi = success
    return {
        "env_id": env,
        "config": {},
        "agent": agent,
        "episodes": 50,
        "success_rate": (lo + hi) / 2,
        "success_ci95": [lo, hi],
        "mean_return": ret,
        "return_ci95": [ret - 0.1, ret + 0.1],
        "mean_turns": 5.0,
        "format_error_rate": 0.25,
    }


def test_beats_needs_both_rows_and_separate_intervals() -> None:
    rows = [
        _row("mtenvs/Maze-v0", "llm", (0.0, 0.07)),
        _row("mtenvs/Maze-v0", "llm-sft", (0.2, 0.5)),
        _row("mtenvs/Maze-v0", "llm-rl", (0.3, 0.6)),
    ]
    assert beats(rows, "mtenvs/Maze-v0", "llm-sft", "llm") is True
    assert beats(rows, "mtenvs/Maze-v0", "llm-rl", "llm-sft") is False  # overlapping
    assert beats(rows, "mtenvs/Maze-v0", "trained", "llm") is None
    # A return interval clear of the baseline's is enough.
    rows.append(_row("mtenvs/Kuhn-v0", "llm", (0.4, 0.6), ret=-1.0))
    rows.append(_row("mtenvs/Kuhn-v0", "llm-rl", (0.4, 0.6), ret=0.0))
    assert beats(rows, "mtenvs/Kuhn-v0", "llm-rl", "llm") is True


def test_merge_replaces_the_same_env_and_agent_only() -> None:
    old = [_row("mtenvs/Maze-v0", "random", (0, 0.1)), _row("mtenvs/Maze-v0", "llm", (0, 0.1))]
    new = [_row("mtenvs/Maze-v0", "llm", (0.1, 0.2)), _row("mtenvs/Sql-v0", "llm", (0, 0.1))]
    merged = merge_rows(old, new)
    assert [(r["env_id"], r["agent"]) for r in merged] == [
        ("mtenvs/Maze-v0", "random"),
        ("mtenvs/Maze-v0", "llm"),
        ("mtenvs/Sql-v0", "llm"),
    ]
    assert merged[1]["success_ci95"] == [0.1, 0.2]


def test_rows_sorted_by_env_order_then_tier() -> None:
    rows = [
        _row("mtenvs/Sql-v0", "llm", (0, 0.1)),
        _row("mtenvs/Maze-v0", "llm-rl", (0, 0.1)),
        _row("mtenvs/Maze-v0", "oracle", (0, 0.1)),
        _row("mtenvs/Maze-v0", "llm", (0, 0.1)),
        _row("mtenvs/Maze-v0", "random", (0, 0.1)),
    ]
    ordered = sort_rows(rows, ["mtenvs/Maze-v0"])
    assert [(r["env_id"][7:], r["agent"]) for r in ordered] == [
        ("Maze-v0", "random"),
        ("Maze-v0", "oracle"),
        ("Maze-v0", "llm"),
        ("Maze-v0", "llm-rl"),
        ("Sql-v0", "llm"),
    ]


def test_results_md_has_the_llm_section_with_verdicts_and_training(tmp_path: Path) -> None:
    rows = [
        {**_row("mtenvs/Maze-v0", "llm", (0.0, 0.07)), "planned_episodes": 200},
        _row("mtenvs/Maze-v0", "llm-sft", (0.2, 0.5)),
        _row("mtenvs/Maze-v0", "llm-rl", (0.6, 0.8)),
    ]
    curve = [{"phase": "sft", "step": 60, "success_rate": 0.2}]
    llm = {
        "mtenvs/Maze-v0 llm-sft": {
            "env_id": "mtenvs/Maze-v0",
            "tier": "llm-sft",
            "device": "cpu",
            "steps": 120,
            "wall_s": 1300.0,
            "samples_per_s": 2.3,
            "tokens_per_s": 18.0,
            "rollout_turns_per_s": 0.0,
            "curve": curve,
        }
    }
    path = write_results(rows, {}, tmp_path, tmp_path / "img" / "curves.png", llm)
    text = path.read_text()
    assert "| format errors/turn |" in text and "| 0.250 |" in text
    # A row whose journal is still being played says of how many episodes.
    assert "| Maze-v0 | default | llm | 50 of 200 |" in text
    assert "| Maze-v0 | default | llm-sft | 50 |" in text
    assert "## LLM tiers" in text
    assert "- Maze-v0: `llm-sft` beats `llm` beyond the 95 % CIs" in text
    assert "- Maze-v0: `llm-rl` beats `llm-sft` beyond the 95 % CIs" in text
    assert "| Maze-v0 | llm-sft | cpu | 120 | 1300 s | 2.30 | 18.0 | 0.00 |" in text
    assert "No GPU was lent" in text
    assert (tmp_path / "img" / "llm_curves.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["scores"] == rows


def test_eval_set_sizes_come_from_each_envs_task_list() -> None:
    assert eval_set_size("mtenvs/Maze-v0") == 50
    assert eval_set_size("mtenvs/Search-v0") == 100
    assert eval_set_size("mtenvs/TicTacToe-v0") is None
    assert episodes_for("mtenvs/TicTacToe-v0") == 200
    assert episodes_for("mtenvs/KuhnPoker-v0") == 1000  # the other tiers' count
    assert episodes_for("mtenvs/Sql-v0") == 102


def test_published_results_meet_the_llm_issue() -> None:
    """The shipped reference scores: a zero-shot ``llm`` row for every suite env, and
    ``llm-rl`` beating ``llm`` beyond the 95 % intervals on at least three envs, among them a
    tool-using env and a game against an opponent, with an adapter shipped for each."""
    from mtenvs.agents.tuned import adapter_path
    from mtenvs.core.registry import list_envs

    results = Path(__file__).parents[2] / "baselines" / "results.json"
    rows = json.loads(results.read_text())["scores"]
    zero_shot = {r["env_id"] for r in rows if r["agent"] == "llm"}
    assert sorted(set(list_envs(suite=True)) - zero_shot) == []
    for row in rows:
        if row["agent"].startswith("llm"):
            assert 0.0 <= row["format_error_rate"] <= 1.0 and len(row["success_ci95"]) == 2
    trained = {r["env_id"] for r in rows if r["agent"] == "llm-rl"}
    better = sorted(e for e in trained if beats(rows, e, "llm-rl", "llm"))
    assert len(better) >= 3, better
    tools = {"mtenvs/Search-v0", "mtenvs/Sql-v0", "mtenvs/SqlInteract-v0", "mtenvs/CodeTasks-v0"}
    tools |= {"mtenvs/PythonCode-v0", "mtenvs/PythonMath-v0"}
    games = {"mtenvs/TicTacToe-v0", "mtenvs/ConnectFour-v0", "mtenvs/KuhnPoker-v0"}
    games |= {"mtenvs/LeducHoldem-v0", "mtenvs/LiarsDice-v0", "mtenvs/Negotiation-v0"}
    assert set(better) & tools and set(better) & games, better
    for env_id in better:
        assert adapter_path(env_id, "llm-rl") is not None, env_id
