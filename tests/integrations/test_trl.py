"""TRL integration: token records of multi-turn episodes, and a CPU GRPO smoke run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

from mtenvs.error import InvalidArgumentError
from mtenvs.integrations.trl import (
    TASK_KEY,
    TokenAgent,
    make_prompt_dataset,
    make_rollout_func,
    play_task_groups,
    reward_from_env,
    task_of,
)
from mtenvs.rollout import rollout
from tests.agents.tiny_model import build_tiny_model

ENV = "mtenvs/Maze-v0"
REPLY = "<action>up</action>"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-trl") / "model")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def test_prompt_dataset_rows_are_episode_starts():
    ds = make_prompt_dataset(ENV, 3, seed=5, env_kwargs={"max_turns": 4})
    assert len(ds) == 3
    assert ds["seed"] == [5, 6, 7]
    row = ds[1]
    assert task_of(row["prompt"]) == (ENV, 6)
    assert json.loads(row["prompt"][0][TASK_KEY]) == {"env_id": ENV, "seed": 6}
    assert row["prompt"][0]["role"] == "system"
    assert row["prompt"][1]["role"] == "user" and "maze" in row["prompt"][1]["content"]
    with pytest.raises(InvalidArgumentError, match="make_prompt_dataset"):
        task_of([{"role": "user", "content": "hi"}])


def test_token_agent_records_exact_episode_tokens(tokenizer):
    eos = tokenizer.eos_token_id
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]
    calls = []

    def generate(prompts):
        calls.append(len(prompts))
        return [[*reply_ids, eos] for _ in prompts], None

    agent = TokenAgent(tokenizer, generate, eos_token_ids=[eos])
    trajs = list(
        rollout(
            ENV,
            agent,
            2,
            num_envs=2,
            seed=3,
            group_size=2,
            env_kwargs={"max_turns": 3},
            executor="sync",
        )
    )
    assert calls == [2, 2, 2]  # one batched generate per turn for both episodes
    for traj in trajs:
        assert [t.reply for t in traj.turns] == [REPLY] * 3
        rec = agent.episode_tokens(traj)
        assert (
            len(rec.completion_ids)
            == len(rec.env_mask)
            == 3 * (len(reply_ids) + 1) + sum(1 - m for m in rec.env_mask)
        )
        # Model tokens are exactly what was generated; observations are masked out.
        model_tokens = [t for t, m in zip(rec.completion_ids, rec.env_mask) if m]
        assert model_tokens == [*reply_ids, eos] * 3
        masked = tokenizer.decode([t for t, m in zip(rec.completion_ids, rec.env_mask) if not m])
        assert traj.turns[1].observation in masked and traj.turns[2].observation in masked
        # The whole record is the chat template's rendering of the episode.
        messages = traj.messages()
        for m in messages:
            if m["role"] == "assistant":
                m["content"] += tokenizer.eos_token
        expected = tokenizer.apply_chat_template(messages, tokenize=False)
        expected = expected.removesuffix("<|im_end|>\n")
        assert tokenizer.decode(rec.prompt_ids + rec.completion_ids) == expected


def test_end_of_turn_eos_is_not_repeated(tokenizer):
    """With an instruct model's EOS (ChatML ``<|im_end|>``), records match the template."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]

    def generate(prompts):
        return [[*reply_ids, im_end] for _ in prompts], None

    agent = TokenAgent(tokenizer, generate, eos_token_ids=[im_end])
    (traj,) = rollout(ENV, agent, 1, num_envs=1, env_kwargs={"max_turns": 3}, executor="sync")
    rec = agent.episode_tokens(traj)
    expected = tokenizer.apply_chat_template(traj.messages(), tokenize=False)
    assert tokenizer.decode(rec.prompt_ids + rec.completion_ids) == expected.removesuffix("\n")
    assert [t for t, m in zip(rec.completion_ids, rec.env_mask) if m] == [*reply_ids, im_end] * 3


def test_task_groups_share_one_generate_call_per_round(tokenizer):
    eos = tokenizer.eos_token_id
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]
    batches = []

    def generate(prompts):
        batches.append(len(prompts))
        return [[*reply_ids, eos] for _ in prompts], None

    agent = TokenAgent(tokenizer, generate, eos_token_ids=[eos])
    tasks = [(ENV, 11, 2), ("mtenvs/RuleInduction-v0", 4, 2), (ENV, 2, 1)]
    played = play_task_groups(agent, tasks, env_kwargs={"max_turns": 3})
    assert batches == [5, 5, 5]  # every episode of every group in each generate call
    for (env_id, seed, count), trajs in zip(tasks, played):
        assert len(trajs) == count
        assert all(t.env_id == env_id and t.seed == seed and len(t.turns) == 3 for t in trajs)
        assert all(
            agent.episode_tokens(t).env_mask.count(1) == 3 * (len(reply_ids) + 1) for t in trajs
        )


@pytest.mark.timeout(60)
def test_task_groups_propagate_errors_without_hanging(tokenizer):
    def broken(prompts):
        raise ValueError("generation exploded")

    with pytest.raises(ValueError, match="exploded"):
        play_task_groups(TokenAgent(tokenizer, broken), [(ENV, 0, 2), (ENV, 1, 2)])

    eos = tokenizer.eos_token_id

    def generate(prompts):
        return [[eos] for _ in prompts], None

    with pytest.raises(Exception, match="Nope"):
        play_task_groups(
            TokenAgent(tokenizer, generate, eos_token_ids=[eos]),
            [(ENV, 0, 1), ("mtenvs/Nope-v0", 0, 1)],
            env_kwargs={"max_turns": 2},
        )


def test_token_agent_budget_cuts_and_stops_generating(tokenizer):
    eos = tokenizer.eos_token_id
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]
    n_gen = []

    def generate(prompts):
        n_gen.append(len(prompts))
        return [[*reply_ids, eos] for _ in prompts], [[-0.5] * (len(reply_ids) + 1)] * len(prompts)

    budget = len(reply_ids) + 3
    agent = TokenAgent(tokenizer, generate, eos_token_ids=[eos], max_completion_tokens=budget)
    (traj,) = rollout(ENV, agent, 1, num_envs=1, env_kwargs={"max_turns": 4}, executor="sync")
    assert len(traj.turns) == 4 and n_gen == [1]  # later turns reply "" without generating
    assert [t.reply for t in traj.turns] == [REPLY, "", "", ""]
    rec = agent.episode_tokens(traj)
    assert len(rec.completion_ids) == budget and rec.exhausted
    assert rec.logprobs is not None and rec.logprobs[: len(reply_ids)] == [-0.5] * len(reply_ids)
    assert rec.logprobs[len(reply_ids) + 1 :] == [0.0] * (budget - len(reply_ids) - 1)


def test_reward_from_env():
    assert reward_from_env(["a", "b"], env_reward=[1, -0.5]) == [1.0, -0.5]
    with pytest.raises(InvalidArgumentError, match="rollout_func"):
        reward_from_env(["a"])


def _runs_of_ones(mask: list[int]) -> int:
    return sum(1 for i, m in enumerate(mask) if m == 1 and (i == 0 or mask[i - 1] == 0))


def test_grpo_smoke(model_dir, tmp_path, monkeypatch):
    """Two GRPO steps on CPU: episodes come from the env, rewards too, and weights move."""
    pytest.importorskip("trl")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    torch.manual_seed(0)
    kwargs = {"max_turns": 3}
    inner = make_rollout_func(ENV, env_kwargs=kwargs, executor="sync")
    seen: list[dict] = []

    def rollout_func(prompts, trainer):
        out = inner(prompts, trainer)
        seen.append({"tasks": [task_of(p) for p in prompts], **out})
        return out

    rewards_seen: list[list[float]] = []

    def env_reward(completions, env_reward=None, **kw):
        rewards = reward_from_env(completions, env_reward=env_reward, **kw)
        rewards_seen.append(rewards)
        return rewards

    def length_bonus(completion_ids, **kw):
        # Distinct rewards inside a group, so advantages (hence gradients) are non-zero.
        return [0.01 * len(set(ids)) for ids in completion_ids]

    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    tokenizer.padding_side = "left"
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=512,  # per episode: replies and observations
        generation_kwargs={"max_new_tokens": 8},  # per reply
        max_steps=2,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        temperature=1.0,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[env_reward, length_bonus],
        args=args,
        train_dataset=make_prompt_dataset(ENV, 4, env_kwargs=kwargs),
        processing_class=tokenizer,
        rollout_func=rollout_func,
    )
    trainer.train()

    assert trainer.state.global_step == 2
    assert len(seen) == 2
    for call in seen:
        # Each task arrives num_generations times and every episode comes from the env.
        assert len(call["tasks"]) == 4 and all(env == ENV for env, _ in call["tasks"])
        assert len(set(call["tasks"])) == 2
        assert all(n == 3 for n in call["env_turns"])
        assert all(
            set(m) <= {0, 1} and len(m) == len(c)
            for m, c in zip(call["env_mask"], call["completion_ids"])
        )
        # Several replies per episode, the observations between them masked out.
        assert all(_runs_of_ones(m) == 3 for m in call["env_mask"])
    assert rewards_seen == [call["env_reward"] for call in seen]
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 2
    changed = any(not torch.equal(before[n], p.detach().cpu()) for n, p in model.named_parameters())
    assert changed


def _example(monkeypatch):
    """The module examples/trl_grpo.py, loaded from its file."""
    pytest.importorskip("trl")
    import importlib.util

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    path = Path(__file__).resolve().parents[2] / "examples" / "trl_grpo.py"
    spec = importlib.util.spec_from_file_location("trl_grpo_example", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_example_recipe_runs(model_dir, tmp_path, monkeypatch):
    """examples/trl_grpo.py end to end on the tiny model (one step)."""
    example = _example(monkeypatch)
    out = tmp_path / "run"
    rc = example.main(
        [
            "--env",
            "mtenvs/RuleInduction-v0",
            "--model",
            str(model_dir),
            "--output-dir",
            str(out),
            "--steps",
            "1",
            "--group-size",
            "2",
            "--batch-size",
            "4",
            "--tasks",
            "4",
            "--max-turns",
            "2",
            "--max-new-tokens",
            "8",
            "--max-completion-length",
            "256",
            "--executor",
            "sync",
            "--learning-rate",
            "1e-3",
        ]
    )
    assert rc == 0
    assert (out / "config.json").exists()
    assert [p["step"] for p in json.loads((out / "curve.json").read_text())] == [1]


def _tiny_run(env_id: str, model_dir: Path, *, learning_rate: str = "1e-3") -> list[str]:
    """examples/trl_grpo.py arguments of a seconds-long run on the tiny model."""
    return [
        *("--env", env_id, "--model", str(model_dir)),
        *("--group-size", "2", "--batch-size", "4", "--tasks", "4"),
        *("--max-turns", "2", "--max-new-tokens", "6", "--max-completion-length", "128"),
        *("--executor", "sync", "--learning-rate", learning_rate),
    ]


def test_example_recipe_trains_lora_adapters_and_resumes(model_dir, tmp_path, monkeypatch):
    """--lora-r trains adapters only; a run stopped after step 1 continues with --resume."""
    pytest.importorskip("peft")
    example = _example(monkeypatch)
    out = tmp_path / "run"
    args = [*_tiny_run("mtenvs/Maze-v0", model_dir), "--output-dir", str(out), "--lora-r", "4"]
    assert example.main([*args, "--steps", "1"]) == 0
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()
    assert (out / "checkpoint-1").is_dir()
    assert example.main([*args, "--steps", "2", "--resume"]) == 0
    assert (out / "checkpoint-2").is_dir()
    assert [p["step"] for p in json.loads((out / "curve.json").read_text())] == [1, 2]
    assert (out / "curve.png").stat().st_size > 0


def test_example_recipe_continues_from_an_adapter(model_dir, tmp_path, monkeypatch):
    """--init-adapter trains a given LoRA adapter further (e.g. a shipped llm-sft one)."""
    pytest.importorskip("peft")
    import torch
    from safetensors.torch import load_file

    example = _example(monkeypatch)
    common = [
        *_tiny_run("mtenvs/TicTacToe-v0", model_dir, learning_rate="1e-2"),
        "--env-kwargs",
        '{"opponent": "random"}',
        "--steps",
        "1",
    ]
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import mtenvs.integrations.trl as integration

    # A trained adapter stands in for a shipped one (random, non-zero LoRA weights). The
    # tiny random model loses every episode alike (no GRPO signal), so the test gives the
    # trainer rewards that differ within each group: it is about loading and training the
    # adapter, not about the env's reward (test_grpo_smoke covers that).
    first, second = tmp_path / "first", tmp_path / "second"
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), config).save_pretrained(first)
    monkeypatch.setattr(
        integration,
        "reward_from_env",
        lambda completions, **_: [i % 2 for i in range(len(completions))],
    )
    args = [*common, "--output-dir", str(second)]
    assert example.main([*args, "--init-adapter", str(first)]) == 0
    before = load_file(str(first / "adapter_model.safetensors"))
    after = load_file(str(second / "adapter_model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    missing = r"--init-adapter: No LoRA adapter at .*adapter_config\.json"
    with pytest.raises(SystemExit, match=missing):
        example.main([*args, "--init-adapter", str(tmp_path)])
