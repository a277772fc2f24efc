"""The baselines pipeline at smoke scale on CPU: tokenizer, BC, RL advantages, save/load."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

pytest.importorskip("torch")

import mtenvs  # noqa: F401
from baselines.data import collect, corpus, examples
from baselines.model import build_model, render_prompt, reply_ids, train_tokenizer
from baselines.report import beats_random, retire, score, wilson
from baselines.run import train_one
from baselines.specs import SCALES, SPECS, TRAIN_SEED_BASE
from baselines.train import advantages, bc_train
from mtenvs.agents import HFAgent, TrainedAgent, make_agent
from mtenvs.agents.trained import trained_envs, weights_path
from mtenvs.eval.runner import agent_for, evaluate
from mtenvs.rollout import Trajectory, Turn

KUHN = SPECS["mtenvs/KuhnPoker-v0"]


@pytest.fixture(scope="module")
def kuhn_data() -> list[Trajectory]:
    return collect(KUHN, 40)


@pytest.mark.parametrize("env_id", sorted(SPECS))
def test_each_trained_agent_trains_on_its_envs_headline_config(env_id: str) -> None:
    # `mtenvs eval --reference-config` (make demo) plays reference_configs[0]: the trained
    # agent must have been trained and scored on that very configuration
    from mtenvs.core.args import argument_defaults
    from mtenvs.core.registry import env_class

    cls = env_class(env_id)
    defaults = argument_defaults(cls)
    spec = SPECS[env_id].env_kwargs
    headline = cls.reference_configs[0]
    for key in set(spec) | set(headline):
        assert spec.get(key, defaults.get(key)) == headline.get(key, defaults.get(key)), key


def test_training_seeds_never_overlap_eval_seeds(kuhn_data: list[Trajectory]) -> None:
    assert min(t.seed for t in kuhn_data) >= TRAIN_SEED_BASE
    assert all(t.agent == "oracle" for t in kuhn_data)


def test_tokenizer_is_lossless_and_keeps_grid_cells_apart() -> None:
    texts = []
    for env_id in ("mtenvs/Sokoban-v0", "mtenvs/ConnectFour-v0", "mtenvs/RuleInduction-v0"):
        texts.extend(corpus(collect(SPECS[env_id], 3)))
    tok = train_tokenizer(texts, vocab_size=300)
    for text in texts:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    pieces = tok.convert_ids_to_tokens(tok("#  $.@", add_special_tokens=False)["input_ids"])
    assert pieces == ["#", " ", " ", "$", ".", "@"]
    assert tok.convert_ids_to_tokens(tok("<action>left</action>")["input_ids"])[0] == "<action>"


def test_prompt_is_what_hfagent_renders(tmp_path, kuhn_data: list[Trajectory]) -> None:
    tok = train_tokenizer(corpus(kuhn_data), vocab_size=200)
    model = build_model(tok, hidden_size=16, num_layers=1, num_heads=2)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    agent = HFAgent(tmp_path, device="cpu", max_new_tokens=4)
    traj = kuhn_data[0]
    messages = [{"role": "system", "content": traj.system_prompt}]
    for turn in traj.turns:
        messages += [
            {"role": "user", "content": turn.observation},
            {"role": "assistant", "content": turn.reply},
        ]
    messages.append({"role": "user", "content": traj.final_observation})
    assert agent.prompt_ids(messages) == render_prompt(tok, traj.final_observation)


def _loss(model, tok, data) -> float:
    import torch

    from baselines.policy import pad_batch

    pairs = [(render_prompt(tok, e.observation), reply_ids(tok, e.reply)) for e in data]
    ids, mask, labels = pad_batch(pairs, tok.pad_token_id, torch.device("cpu"))
    with torch.no_grad():
        return float(model(input_ids=ids, attention_mask=mask, labels=labels).loss)


def test_bc_fits_oracle_replies_deterministically(kuhn_data: list[Trajectory]) -> None:
    tok = train_tokenizer(corpus(kuhn_data), vocab_size=200)
    data = list(examples(kuhn_data))
    scale = replace(SCALES["smoke"], bc_steps=80, batch_size=16, curve_every=20)

    def trained() -> tuple[float, float]:
        model = build_model(tok, hidden_size=32, num_layers=1, num_heads=2, seed=1)
        log = bc_train(model, tok, data, scale, lr=5e-3, seed=3, evaluate=lambda s: (0.5, 0.0))
        assert [p.step for p in log.curve] == [20, 40, 60, 80]
        return _loss(model, tok, data), float(sum(p.detach().sum() for p in model.parameters()))

    before = _loss(build_model(tok, hidden_size=32, num_layers=1, num_heads=2, seed=1), tok, data)
    after, checksum = trained()
    assert after < 0.4 * before, (before, after)
    assert trained() == (after, checksum)  # same seeds, same weights


def _traj(rewards: list[float], keys: list[str], group: int = 0) -> Trajectory:
    traj = Trajectory("mtenvs/Maze-v0", 0, "t", "a", "", group=group)
    traj.turns = [
        Turn(observation="o", reply="r", reward=r, reward_components={"outcome": r}, state_key=k)
        for r, k in zip(rewards, keys)
    ]
    return traj


def test_grpo_turn_credit_uses_returns_to_go_against_the_group_baseline() -> None:
    good = _traj([0.0, 0.5, 0.5], ["s0", "s1", "s2"])
    bad = _traj([0.0, 0.0], ["s0", "s3"])
    adv = advantages([good, bad], "grpo")
    # Episode returns 1.0 and 0.0: mean 0.5, std 0.5.
    assert adv[0] == pytest.approx([1.0, 1.0, 0.0], abs=1e-4)
    assert adv[1] == pytest.approx([-1.0, -1.0], abs=1e-4)


def test_a_group_that_agrees_gives_small_turn_advantages_not_huge_ones() -> None:
    # Both episodes return 0.9 (a format penalty, then success): the group has no
    # episode-level signal; turn 1's return-to-go is 1.0, 0.1 above the mean.
    a = _traj([-0.1, 1.0], ["s0", "s1"])
    b = _traj([-0.1, 1.0], ["s0", "s2"])
    assert advantages([a, b], "grpo") == [pytest.approx([0.0, 0.1], abs=1e-6)] * 2
    # GiGPO: no episode term, and turn 1's states differ (no step term).
    assert advantages([a, b], "gigpo") == [pytest.approx([0.0, 0.0], abs=1e-6)] * 2


def test_gigpo_adds_a_step_term_within_states_shared_across_the_group() -> None:
    good = _traj([0.0, 1.0], ["s0", "s1"])
    bad = _traj([0.0, 0.0], ["s0", "s2"])
    adv = advantages([good, bad], "gigpo")
    # Turn 0 shares state s0 across both rollouts: returns-to-go 1 and 0 → step term ±1.
    assert adv[0][0] == pytest.approx(2.0, abs=1e-4)
    assert adv[1][0] == pytest.approx(-2.0, abs=1e-4)
    # States seen once have no step term: only the episode term.
    assert adv[0][1] == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="grpo"):
        advantages([good], "ppo")  # type: ignore[arg-type]


def test_wilson_interval() -> None:
    lo, hi = wilson(0, 50)
    assert lo == 0.0 and 0.05 < hi < 0.09
    lo, hi = wilson(25, 50)
    assert lo < 0.5 < hi


@pytest.mark.slow
def test_smoke_pipeline_trains_saves_and_plays(tmp_path) -> None:
    record = train_one(KUHN, SCALES["smoke"], tmp_path / KUHN.name, device="cpu", threads=1)
    out = tmp_path / KUHN.name
    for name in ("model.safetensors", "tokenizer.json", "config.json", "training.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "training.json").read_text())
    assert saved["env_id"] == KUHN.env_id and saved["max_new_tokens"] == KUHN.max_new_tokens
    assert [p["phase"] for p in record["curve"]][-1] == "rl"
    # RL is kept only if validation return did not drop (else the BC weights are restored).
    assert set(saved["validation_return"]) == {"bc", "rl"}
    assert saved["rl_kept"] == (
        saved["validation_return"]["rl"] >= saved["validation_return"]["bc"]
    )
    assert weights_path(KUHN.env_id, tmp_path) == out
    assert trained_envs(tmp_path) == [KUHN.env_id]
    # The evaluation plays all four tiers; the trained agent loads through HFAgent.
    rows = score(KUHN, SCALES["smoke"], tmp_path, num_envs=4)
    assert [r["agent"] for r in rows] == ["random", "scripted", "oracle", "trained"]
    assert all(r["episodes"] == KUHN.eval_episodes(SCALES["smoke"]) for r in rows)


def test_trained_and_scripted_agents_skip_envs_they_do_not_cover(tmp_path) -> None:
    trained = TrainedAgent(tmp_path)
    assert agent_for(trained, "mtenvs/Sokoban-v0") is None
    scripted = make_agent("scripted")
    assert agent_for(scripted, "mtenvs/Sokoban-v0") is None
    assert agent_for(scripted, "mtenvs/TicTacToe-v0") is scripted
    run = evaluate(["mtenvs/Sokoban-v0"], [scripted, trained], 2)
    assert run.episodes == []
    assert {s["agent"] for s in run.config["skipped"]} == {"scripted", "trained"}


def test_scripted_policies_use_only_public_information() -> None:
    agent = make_agent("scripted")
    run = evaluate(["mtenvs/RuleInduction-v0"], [agent], 5)
    assert all(e.success for e in run.episodes)


def test_every_covered_env_ships_weights_or_says_why_it_retired() -> None:
    agent = TrainedAgent()
    retired = {e: agent.why_not(e) for e in SPECS if agent.why_not(e)}
    assert sorted(trained_envs()) == sorted(set(SPECS) - set(retired))
    assert set(retired.values()) == {"retired: at random level (baselines/RESULTS.md)"}


def test_no_shipped_trained_agent_is_at_random_level() -> None:
    """The ship gate of ``make baselines``, checked on the published results: every trained
    agent that ships beats random beyond the 95 % intervals; every retired one does not."""
    from pathlib import Path

    rows = json.loads((Path(__file__).parents[2] / "baselines" / "results.json").read_text())
    for env_id in SPECS:
        ships, why = beats_random(rows["scores"], env_id)
        assert ships == (env_id in trained_envs()), (env_id, why)


def test_a_trained_agent_at_random_level_is_retired_and_says_why(tmp_path) -> None:
    rows = [
        {
            "env_id": KUHN.env_id,
            "agent": agent,
            "success_ci95": s,
            "return_ci95": r,
            "success_rate": sum(s) / 2,
            "mean_return": sum(r) / 2,
        }
        for agent, s, r in [
            ("random", [0.45, 0.55], [-0.2, -0.1]),
            ("trained", [0.44, 0.56], [-0.12, 0.0]),  # the intervals overlap on both
        ]
    ]
    ships, why = beats_random(rows, KUHN.env_id)
    assert not ships and "at random level" in why
    rows[1]["return_ci95"] = [-0.05, 0.05]  # the return's interval clears random's
    assert beats_random(rows, KUHN.env_id) == (True, "")

    out = tmp_path / KUHN.name
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"weights")
    (out / "training.json").write_text(json.dumps({"env_id": KUHN.env_id}))
    (out / "llm-sft").mkdir()  # an LLM tier's adapter of the same env stays
    (out / "llm-sft" / "adapter_model.safetensors").write_bytes(b"adapter")
    assert trained_envs(tmp_path) == [KUHN.env_id]
    retire(out, why)
    assert sorted(p.name for p in out.iterdir()) == ["llm-sft", "training.json"]
    assert (out / "llm-sft" / "adapter_model.safetensors").is_file()
    assert trained_envs(tmp_path) == []
    agent = TrainedAgent(tmp_path)
    assert agent.for_env(KUHN.env_id) is None
    reason = "retired: at random level (baselines/RESULTS.md)"
    assert agent.why_not(KUHN.env_id) == reason
    run = evaluate([KUHN.env_id], [agent], 1)
    assert run.config["skipped"] == [{"env_id": KUHN.env_id, "agent": "trained", "reason": reason}]


@pytest.mark.parametrize("env_id", trained_envs())
def test_shipped_weights_load_and_play_parseable_moves(env_id: str) -> None:
    """The packaged model, tokenizer and chat template fit together: through HFAgent the
    agent finishes episodes and most of its replies parse (a broken template or tokenizer
    gives none)."""
    agent = TrainedAgent().for_env(env_id)
    assert agent is not None
    kwargs = dict(SPECS[env_id].env_kwargs)
    run = evaluate([env_id], [agent], 2, env_kwargs=kwargs, eval_set=SPECS[env_id].has_eval_set)
    assert len(run.episodes) == 2
    turns = sum(e.turns for e in run.episodes)
    assert sum(e.format_errors for e in run.episodes) < turns / 2
