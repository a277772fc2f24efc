"""The tuned LLM tiers end to end on the real SmolLM2-135M-Instruct: a one-step smoke SFT and
RL run (LoRA adapters written like the shipped ones), a stopped run that continues to the same
adapter, both tiers loading their adapter and playing a real eval episode, and the errors a
missing or damaged adapter gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.llm_train import LLM_SCALES, LLMTrainConfig, Stopped, ship, train, turn_pairs
from mtenvs.agents import AgentInput, make_agent
from mtenvs.agents.llm import ModelFileError, check_adapter
from mtenvs.agents.tuned import (
    TUNED_TIERS,
    TunedLLMAgent,
    adapter_path,
    keep_task_of,
    tuned_envs,
)
from mtenvs.error import InvalidArgumentError
from mtenvs.eval.runner import evaluate
from tests.agents.test_llm_agent import needs_model

pytestmark = [pytest.mark.xdist_group("llm"), pytest.mark.slow]

ENV = "mtenvs/Maze-v0"
#: A short turn budget keeps the smoke episodes to a few generations.
SHORT = {"max_turns": 2}


def _config(phase: str = "sft", **kwargs) -> LLMTrainConfig:
    return LLMTrainConfig(ENV, phase, "smoke", max_new_tokens=8, env_kwargs=SHORT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sft")
    return train(_config("sft"), LLM_SCALES["smoke"], out)


@pytest.fixture(scope="module")
def rl_dir(tmp_path_factory: pytest.TempPathFactory, sft_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("rl")
    return train(_config("rl", init=str(sft_dir)), LLM_SCALES["smoke"], out)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, sft_dir: Path, rl_dir: Path) -> Path:
    base = tmp_path_factory.mktemp("assets")
    ship(sft_dir, ENV, "llm-sft", base)
    ship(rl_dir, ENV, "llm-rl", base)
    return base


@needs_model
def test_smoke_sft_writes_an_adapter_and_its_log(sft_dir: Path) -> None:
    assert check_adapter(sft_dir) == sft_dir
    meta = json.loads((sft_dir / "training.json").read_text())
    assert meta["env_id"] == ENV and meta["tier"] == "llm-sft"
    assert meta["steps"] == 1 and meta["samples"] > 0 and meta["tokens"] > 0
    assert meta["samples_per_s"] > 0 and meta["tokens_per_s"] > 0
    (point,) = meta["curve"]
    assert point["step"] == 1 and 0.0 <= point["success_rate"] <= 1.0
    from safetensors.torch import load_file

    weights = load_file(str(sft_dir / "adapter_model.safetensors"))
    assert weights and all(str(w.dtype) == "torch.float16" for w in weights.values())
    assert any("lora_B" in k and w.abs().sum() > 0 for k, w in weights.items()), (
        "one SFT step moves the LoRA B matrices off zero"
    )


@needs_model
def test_smoke_rl_starts_from_the_sft_adapter(sft_dir: Path, rl_dir: Path) -> None:
    meta = json.loads((rl_dir / "training.json").read_text())
    assert meta["tier"] == "llm-rl" and meta["config"]["init"] == str(sft_dir)
    assert meta["config"]["keep_task"] is True  # as the SFT adapter was trained
    assert meta["steps"] == 1 and meta["rollout_turns"] > 0
    from safetensors.torch import load_file

    before = load_file(str(sft_dir / "adapter_model.safetensors"))
    after = load_file(str(rl_dir / "adapter_model.safetensors"))
    assert before.keys() == after.keys()


@needs_model
@pytest.mark.parametrize("tier", TUNED_TIERS)
def test_tier_loads_its_adapter_and_plays_an_eval_episode(root: Path, tier: str) -> None:
    assert tuned_envs(tier, root) == [ENV]
    assert adapter_path(ENV, tier, root) == root / "maze-v0" / tier
    agent = TunedLLMAgent(tier, root=root)
    played = agent.for_env(ENV)
    assert played is not None and played.adapter == root / "maze-v0" / tier
    assert played.name == tier and played.keep_task  # as the adapter was trained
    run = evaluate([ENV], [agent], 1, env_kwargs=SHORT, name=f"{tier}-smoke")
    (summary,) = run.summaries()
    assert summary.agent == tier and summary.episodes == 1
    # No adapter for another env: skipped with the reason.
    assert agent.for_env("mtenvs/Sokoban-v0") is None
    assert "no llm-sft adapter" in (TunedLLMAgent("llm-sft", root=root).why_not("x") or "")


@needs_model
def test_stopped_run_continues_to_the_same_adapter(tmp_path: Path) -> None:
    scale = LLM_SCALES["smoke"]
    from dataclasses import replace

    two = replace(scale, sft_steps=2, curve_every=2)
    whole = train(_config(), two, tmp_path / "whole")
    with pytest.raises(Stopped):
        train(_config(), two, tmp_path / "parts", stop_after=1)
    assert not (tmp_path / "parts" / "adapter_model.safetensors").exists()
    parts = train(_config(), two, tmp_path / "parts", resume=True)
    from safetensors.torch import load_file

    a = load_file(str(whole / "adapter_model.safetensors"))
    b = load_file(str(parts / "adapter_model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)

    def curve(path: Path) -> list[dict]:
        meta = json.loads((path / "training.json").read_text())
        assert meta["steps"] == 2
        return [{k: v for k, v in p.items() if k != "wall_s"} for p in meta["curve"]]

    assert curve(parts) == curve(whole)


@needs_model
def test_turn_pairs_render_prompts_as_the_agent_does(sft_dir: Path) -> None:
    from mtenvs.agents.base import OracleAgent
    from mtenvs.agents.llm import LLMAgent
    from mtenvs.rollout import rollout

    agent = LLMAgent(engine="transformers", max_new_tokens=48)
    (traj,) = rollout(ENV, OracleAgent(), 1, seed=3)
    pairs = turn_pairs(agent, traj)
    assert len(pairs) == len(traj.turns)
    prompt, reply = pairs[1]
    assert prompt == agent.prompt_ids(traj.messages()[:4])
    text = agent.tokenizer.decode(reply, skip_special_tokens=True)
    assert text == traj.turns[1].reply
    assert reply[-1] == agent.tokenizer.eos_token_id


def test_runs_from_an_adapter_shorten_prompts_as_it_was_trained(tmp_path: Path) -> None:
    """An adapter trained before keep_task (no record) plays and is trained further with
    the task dropped like any early turn; a recorded setting is followed either way."""
    assert keep_task_of(tmp_path) is False
    assert LLMTrainConfig(ENV, "rl", "smoke", init=str(tmp_path)).keep_task is False
    (tmp_path / "training.json").write_text(json.dumps({"config": {"keep_task": True}}))
    assert keep_task_of(tmp_path) is True
    assert LLMTrainConfig(ENV, "rl", "smoke", init=str(tmp_path), keep_task=False).keep_task
    assert LLMTrainConfig(ENV, "sft", "smoke").keep_task is True


def test_unknown_tier_names_the_choices() -> None:
    with pytest.raises(InvalidArgumentError, match="llm-rl"):
        TunedLLMAgent("llm-ppo")


def test_make_agent_builds_the_tiers() -> None:
    for tier in TUNED_TIERS:
        agent = make_agent(tier)
        assert isinstance(agent, TunedLLMAgent) and agent.name == tier


def test_missing_adapter_is_skipped_with_its_reason(tmp_path: Path) -> None:
    agent = TunedLLMAgent("llm-rl", root=tmp_path)
    assert agent.for_env(ENV) is None
    assert "no llm-rl adapter" in (agent.why_not(ENV) or "")
    with pytest.raises(InvalidArgumentError, match="No llm-rl agent for mtenvs/Maze-v0"):
        import gymnasium as gym

        env = gym.make(ENV)
        try:
            agent.act([AgentInput(messages=[], env=env.unwrapped)])
        finally:
            env.close()


def test_adapter_without_its_files_names_them(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelFileError, match=r"adapter_model\.safetensors missing"):
        check_adapter(tmp_path)


@needs_model
def test_corrupt_adapter_names_the_file_and_the_fix(tmp_path: Path, sft_dir: Path) -> None:
    import shutil

    from mtenvs.agents.llm import LLMAgent

    bad = tmp_path / "bad"
    shutil.copytree(sft_dir, bad)
    (bad / "adapter_model.safetensors").write_bytes(b"truncated")
    with pytest.raises(ModelFileError, match=r"could not be loaded.*baselines\.llm_train"):
        LLMAgent(adapter=bad)


@needs_model
def test_pipeline_trains_ships_evaluates_and_merges(tmp_path: Path) -> None:
    import os
    import shutil

    from baselines.llm_pipeline import pipeline

    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(Path(__file__).parents[2] / "baselines" / "results.json", results)
    env = "mtenvs/KuhnPoker-v0"
    # The llm zero-shot rows are evaluate_llm on the packaged model, played elsewhere; here
    # the tuned tiers' own path: train, ship, evaluate from the shipped adapter, merge.
    where = {
        "root": tmp_path / "assets",
        "journals": tmp_path / "journals",
        "results_dir": results,
        "limit": 1,
        "zero_shot": False,
    }
    pipeline([env], "smoke", tmp_path / "runs", **where)  # type: ignore[arg-type]
    for tier in TUNED_TIERS:
        assert adapter_path(env, tier, tmp_path / "assets") is not None
    rows = json.loads((results / "results.json").read_text())["scores"]
    llm_rows = {r["agent"]: r for r in rows if r["env_id"] == env and r["agent"].startswith("llm")}
    assert {"llm-rl", "llm-sft"} <= set(llm_rows)
    assert llm_rows["llm-sft"]["episodes"] == llm_rows["llm-rl"]["episodes"] == 1
    assert llm_rows["llm-rl"]["config"] == {"opponent": "heuristic"}
    assert "## LLM tiers" in (results / "RESULTS.md").read_text()
    # Run again: nothing is trained again, every journal is complete.
    meta = tmp_path / "runs" / "kuhnpoker-v0" / "llm-rl" / "training.json"
    stamp = os.stat(meta).st_mtime_ns
    pipeline([env], "smoke", tmp_path / "runs", **where)  # type: ignore[arg-type]
    assert os.stat(meta).st_mtime_ns == stamp
    # The CLI plays adapters from another root (a TRL run's, say) into other journals.
    from typer.testing import CliRunner

    from baselines.llm_eval import app

    other = tmp_path / "other-journals"
    args = ["--agent", "llm-rl", "--envs", env, "--limit", "1", "--root", str(where["root"])]
    result = CliRunner().invoke(app, [*args, "--out", str(other)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads((other / "llm-rl" / "rows.json").read_text())
    assert row["episodes"] == 1 and row["agent"] == "llm-rl"
    assert (other / "llm-rl" / "kuhnpoker-v0" / "adapter.sha256").is_file()


def test_pipeline_plays_zero_shot_on_the_suite_for_the_published_episodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make baselines-llm`` reproduces the published ``llm`` rows: every suite env, the
    first ``ZERO_SHOT_EPISODES`` of each eval set (the engine is stubbed: the calls are the
    point here; the zero-shot evaluation itself is tested in tests/agents)."""
    from typer.testing import CliRunner

    import baselines.llm_pipeline as lp
    from mtenvs.core.registry import list_envs

    calls: list[tuple[str, list[str], dict[str, object]]] = []
    monkeypatch.setattr(lp, "evaluate_llm", lambda a, e, **kw: calls.append((a, e, kw)) or [])
    monkeypatch.setattr(lp, "merge_results", lambda *a: tmp_path / "RESULTS.md")
    suite = list_envs(suite=True)
    lp.pipeline([], "smoke", tmp_path, zero_shot_envs=suite, journals=tmp_path)
    assert [(a, e, kw["limit"]) for a, e, kw in calls] == [("llm", suite, lp.ZERO_SHOT_EPISODES)]
    calls.clear()
    lp.pipeline([], "smoke", tmp_path, zero_shot_envs=suite[:1], limit=2, journals=tmp_path)
    assert [(e, kw["limit"]) for _, e, kw in calls] == [(suite[:1], 2)]

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(lp, "pipeline", lambda envs, scale, out, **kw: seen.append(kw))
    result = CliRunner().invoke(lp.app, ["--envs", "mtenvs/KuhnPoker-v0"])
    assert result.exit_code == 0, result.output
    assert seen[-1]["zero_shot_envs"] == suite
    assert seen[-1]["zero_shot_episodes"] == lp.ZERO_SHOT_EPISODES
    result = CliRunner().invoke(lp.app, ["--zero-shot-episodes", "0"])
    assert result.exit_code == 0 and seen[-1]["zero_shot_episodes"] is None
    result = CliRunner().invoke(lp.app, ["--zero-shot-envs", "mtenvs/Nope-v0"])
    assert result.exit_code != 0 and "mtenvs/Nope-v0" in result.output
    assert "mtenvs/Sokoban-v0" in result.output
