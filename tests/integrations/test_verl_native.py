"""verl adapter inside verl's own code (verl 0.7.x, the last with interactions): its
interaction registry, its RL dataset, its agent-loop worker running ``tool_agent`` and its
reward loop, on a CPU. Only the inference server is stood in for, by a policy that answers
with the env's oracle replies as token ids.

verl needs NumPy < 2, so it lives in its own venv (``scripts/ensure_verl_venv.sh``, run by
``make test``): in the project's venv, one test re-runs this file there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import mtenvs.integrations.verl as adapter
from mtenvs.integrations.verl import (
    MtenvsInteraction,
    interaction_config,
    make_verl_dataset,
)

ROOT = Path(__file__).resolve().parents[2]
VERL_VENV = Path(os.environ.get("VERL_VENV", ROOT / ".venv-verl"))
HAS_VERL = importlib.util.find_spec("verl") is not None
ENV = "mtenvs/Maze-v0"
KWARGS = {"max_turns": 30}

needs_verl = pytest.mark.skipif(not HAS_VERL, reason="verl is not installed in this venv")


def make_try_again_maze():
    """A zero-argument factory: the interaction config names it as 'module:attr'."""
    import gymnasium as gym

    from mtenvs.wrappers import TryAgain

    return TryAgain(gym.make(ENV, max_turns=12))


@pytest.mark.slow
@pytest.mark.skipif(HAS_VERL, reason="verl is installed here: the tests below run in-process")
def test_in_the_verl_venv():
    python = VERL_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"verl is absent: no {VERL_VENV} (scripts/ensure_verl_venv.sh builds it; make test "
            "runs it)"
        )
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]
    result = subprocess.run(
        [*command, "-k", "not in_the_verl_venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, result.stdout[-3000:]


# ---------------------------------------------------------------------- in the verl venv


@needs_verl
def test_subclasses_verl_base_interaction():
    from verl.interactions.base import BaseInteraction

    assert adapter.VERL_BASE
    assert issubclass(MtenvsInteraction, BaseInteraction)
    assert MtenvsInteraction({"env_id": ENV}).name == "mtenvs"


@needs_verl
def test_verl_registry_builds_each_env_source(tmp_path):
    import gymnasium as gym
    from verl.interactions.utils.interaction_registry import initialize_interactions_from_config

    from mtenvs.wrappers import TryAgain

    spec = TryAgain(gym.make(ENV, max_turns=5)).spec
    configs = {
        "by-id": interaction_config(ENV, env_kwargs=KWARGS, name="by-id"),
        "by-spec": interaction_config(spec, name="by-spec"),
        "by-factory": interaction_config(make_try_again_maze, name="by-factory"),
    }
    entries = [json.loads(text)["interaction"][0] for text in configs.values()]
    path = tmp_path / "interaction.yaml"
    path.write_text(json.dumps({"interaction": entries}))
    interactions = initialize_interactions_from_config(str(path))
    assert sorted(interactions) == sorted(configs)

    async def first_step(interaction: MtenvsInteraction) -> tuple[str, dict[str, Any]]:
        rid = await interaction.start_interaction(None, name=interaction.name, seed=3)
        env = interaction._episode(rid).env
        wrappers = repr(env)
        reply = [{"role": "assistant", "content": "no idea"}]
        _, _, _, meta = await interaction.generate_response(rid, reply)
        await interaction.finalize_interaction(rid)
        return wrappers, meta

    for name, interaction in interactions.items():
        assert isinstance(interaction, MtenvsInteraction) and interaction.name == name
        wrappers, meta = asyncio.run(first_step(interaction))
        assert meta["parse_error"]
        assert ("TryAgain" in wrappers) == (name != "by-id"), (name, wrappers)


# ---------------------------------------------------------------------- verl's agent loop


def _verl_config(tmp_path: Path, model_dir: Path, interaction_yaml: Path, files: list[str]):
    from omegaconf import OmegaConf

    verl_dir = Path(importlib.util.find_spec("verl").origin).parent  # type: ignore[union-attr]
    config = OmegaConf.load(verl_dir / "trainer/config/_generated_ppo_trainer.yaml")
    overrides = {
        "actor_rollout_ref.model.path": str(model_dir),
        "actor_rollout_ref.rollout.name": "vllm",
        "actor_rollout_ref.rollout.mode": "async",
        "actor_rollout_ref.rollout.multi_turn.enable": True,
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns": 40,
        "actor_rollout_ref.rollout.multi_turn.max_user_turns": 40,
        "actor_rollout_ref.rollout.multi_turn.interaction_config_path": str(interaction_yaml),
        "actor_rollout_ref.rollout.agent.default_agent_loop": "tool_agent",
        "data.train_files": files,
        "data.val_files": files,
        "data.max_prompt_length": 4096,
        "data.max_response_length": 16384,
        "data.dataloader_num_workers": 0,
        "reward.custom_reward_function.path": "pkg://mtenvs.integrations.verl",
        "reward.custom_reward_function.name": "compute_score",
    }
    for key, value in overrides.items():
        OmegaConf.update(config, key, value, force_add=True)
    return config


class _OraclePolicy:
    """Stands in for verl's inference servers (``AsyncLLMServerManager.generate``): the
    reply is the env's oracle action for the rollout's episode, as token ids and EOS."""

    def __init__(self, tokenizer, interactions: list[MtenvsInteraction]) -> None:
        self.tokenizer = tokenizer
        self.interactions = interactions
        self.calls = 0

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        from verl.workers.rollout.replica import TokenOutput

        self.calls += 1
        (episode,) = [
            i._episodes[request_id] for i in self.interactions if request_id in i._episodes
        ]
        reply = episode.env.unwrapped.oracle_action()
        ids = [*self.tokenizer.encode(reply, add_special_tokens=False), self.tokenizer.eos_token_id]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids))


class _InProcessRewardWorker:
    """verl's reward-loop worker handle (a Ray actor) in this process: ``compute_score``
    runs verl's registered reward manager with the configured custom reward function."""

    def __init__(self, config, tokenizer) -> None:
        from verl.trainer.ppo.reward import load_reward_manager

        self.manager = load_reward_manager(config, tokenizer)
        outer = self

        class _Method:
            def remote(self, data):
                return outer.manager.run_single(data)

        self.compute_score = _Method()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from tests.agents.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-verl") / "model")


@needs_verl
def test_verl_agent_loop_plays_oracle_episodes(tmp_path, tiny_model, monkeypatch):
    from verl import DataProto
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    from mtenvs.agents import OracleAgent
    from mtenvs.rollout import rollout

    parquet = tmp_path / "maze.parquet"
    make_verl_dataset(ENV, 2, seed=7, env_kwargs=KWARGS).to_parquet(str(parquet))
    interaction_yaml = tmp_path / "interaction.yaml"
    interaction_yaml.write_text(interaction_config(ENV, env_kwargs=KWARGS))
    config = _verl_config(tmp_path, tiny_model, interaction_yaml, [str(parquet)])

    # Every ToolAgentLoop builds its interactions from the YAML with verl's registry;
    # record them so the stand-in policy can read its episode's oracle.
    interactions: list[MtenvsInteraction] = []
    build = ToolAgentLoop._initialize_interactions

    def recording(self, path):
        built = build(self, path)
        interactions.extend(built.values())
        return built

    monkeypatch.setattr(ToolAgentLoop, "_initialize_interactions", recording)

    class CpuAgentLoopWorker(AgentLoopWorker):
        def __init__(self, config, policy, reward_worker) -> None:
            self.server_manager = policy  # verl's hook "for recipe to change"
            super().__init__(config, [], None, reward_loop_worker_handles=[reward_worker])

    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(str(tiny_model))
    policy = _OraclePolicy(tokenizer, interactions)
    dataset = RLHFDataset([str(parquet)], tokenizer, config.data)
    assert len(dataset) == 2
    batch = DataProto.from_single_dict(collate_fn([dataset[i] for i in range(2)]))

    async def main():  # verl's workers bind the running event loop when built
        reward_worker = _InProcessRewardWorker(config, tokenizer)
        worker = CpuAgentLoopWorker(config, policy, reward_worker)
        return await worker.generate_sequences(batch)

    out = asyncio.run(main())

    assert all(isinstance(i, MtenvsInteraction) for i in interactions) and interactions
    # verl 0.7 never calls finalize_interaction: each env closed when its episode ended.
    episodes = [e for i in interactions for e in i._episodes.values()]
    assert len(episodes) == 2 and all(e.done and e.env is None for e in episodes)
    reference = sorted(
        rollout(ENV, OracleAgent(), 2, seed=7, env_kwargs=KWARGS, executor="sync"),
        key=lambda t: t.seed,
    )
    turn_scores = out.non_tensor_batch["turn_scores"]
    num_turns = out.non_tensor_batch["__num_turns__"]
    rm_scores = out.batch["rm_scores"].sum(dim=-1)
    mask = out.batch["response_mask"]
    responses = out.batch["responses"]
    for i, traj in enumerate(reference):
        assert traj.success
        assert list(turn_scores[i]) == pytest.approx(traj.rewards)
        assert num_turns[i] == 2 * len(traj.rewards) + 1
        assert float(rm_scores[i]) == pytest.approx(traj.episode_return)
        model_text = tokenizer.decode(responses[i][mask[i].bool()], skip_special_tokens=True)
        assert model_text == "".join(turn.reply for turn in traj.turns)
    assert policy.calls == sum(len(t.rewards) for t in reference)
    assert list(batch.non_tensor_batch["data_source"]) == [ENV, ENV]


@needs_verl
@pytest.mark.parametrize("path", ["pkg://mtenvs.integrations.verl", adapter.__file__])
def test_verl_loads_compute_score(path):
    """verl's custom_reward_function loader, by package (verl >= 0.6) and by file path (which
    runs this module outside sys.modules)."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = OmegaConf.create(
        {"reward": {"custom_reward_function": {"path": path, "name": "compute_score"}}}
    )
    score = get_custom_reward_fn(config)
    assert score(ENV, "", "", {"turn_scores": [0.5, -0.1, 1.0]}) == pytest.approx(1.4)
    assert score(ENV, "", "", {"num_turns": 3}) == 0.0


@needs_verl
def test_example_gpu_command_composes_with_verls_config(tmp_path):
    """examples/verl_grpo.py's options are verl's: Hydra composes verl's own ppo_trainer
    config with them (an unknown key fails here), and the files it points at load."""
    from hydra import compose, initialize_config_dir
    from verl.interactions.utils.interaction_registry import initialize_interactions_from_config
    from verl.trainer.ppo.reward import get_custom_reward_fn

    path = ROOT / "examples" / "verl_grpo.py"
    spec = importlib.util.spec_from_file_location("verl_grpo_example", path)
    example = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(example)  # type: ignore[union-attr]
    run = str(tmp_path / "run")
    extra = ["--", "trainer.logger=[console,wandb]"]
    args = example.parse_args(["--model", "m", "--output-dir", run, "--tasks", "3", *extra])
    paths = example.write_inputs(args)
    overrides = example.verl_overrides(args, paths)
    verl_dir = Path(importlib.util.find_spec("verl").origin).parent  # type: ignore[union-attr]
    with initialize_config_dir(config_dir=str(verl_dir / "trainer/config"), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=overrides)
    multi_turn = config.actor_rollout_ref.rollout.multi_turn
    assert multi_turn.enable and multi_turn.max_user_turns == args.max_turns + 1
    assert list(config.trainer.logger) == ["console", "wandb"]
    (interaction,) = initialize_interactions_from_config(
        multi_turn.interaction_config_path
    ).values()
    assert isinstance(interaction, MtenvsInteraction) and interaction.env_source == args.env
    assert get_custom_reward_fn(config)(ENV, "", "", {"turn_scores": [1.0, 2.0]}) == 3.0
