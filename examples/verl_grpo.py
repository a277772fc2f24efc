"""Train an LLM agent with verl's GRPO on a multi-turn mtenvs env (GPU).

verl's ``tool_agent`` loop plays each episode: the policy served by vLLM or SGLang replies,
:class:`mtenvs.integrations.verl.MtenvsInteraction` steps the env and answers with the next
observation (masked out of the loss) and the step reward; the episode return (the sum of
the turn scores) is the reward. The script writes the train/val parquet files and the
interaction config under ``--output-dir``, then runs ``python -m verl.trainer.main_ppo``
with the options below (``--print-only`` writes the files and prints the command).

Needs verl 0.7 (``pip install "mtenvs[verl]"``: verl 0.8 removed interactions) with its
inference engine (``pip install "verl[vllm]==0.7.1"`` in a GPU venv, whose torch is the one
vLLM needs).

Examples::

    # Qwen on the maze, groups of 8 episodes per task, one GPU.
    python examples/verl_grpo.py --env mtenvs/Maze-v0 --model Qwen/Qwen3-0.6B --gpus 1

    # Any wrapped env: a module-level zero-argument factory, named 'module:attr'.
    python examples/verl_grpo.py --env-factory my_envs:maze_with_try_again --model ...

    # Extra verl options go through unchanged after --.
    python examples/verl_grpo.py --model ... -- trainer.logger=[console,wandb]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (anything after ``--`` is passed to verl as an override)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="mtenvs/Maze-v0", help="mtenvs env id")
    p.add_argument(
        "--env-factory",
        default=None,
        help="'module:attr' of a zero-argument function returning the (wrapped) env; "
        "replaces --env",
    )
    p.add_argument("--model", required=True, help="model directory or Hub id")
    p.add_argument("--output-dir", default="runs/verl-grpo", help="data, config and checkpoints")
    p.add_argument("--gpus", type=int, default=1, help="GPUs on this node")
    p.add_argument("--rollout", choices=("vllm", "sglang"), default="vllm")
    p.add_argument("--steps", type=int, default=100, help="training steps")
    p.add_argument("--group-size", type=int, default=8, help="episodes per task (GRPO n)")
    p.add_argument("--batch-size", type=int, default=16, help="tasks per step")
    p.add_argument("--tasks", type=int, default=1000, help="task seeds in the train set")
    p.add_argument("--val-tasks", type=int, default=64, help="task seeds in the val set")
    p.add_argument("--seed", type=int, default=0, help="first train task seed")
    p.add_argument("--max-turns", type=int, default=16, help="env turn limit per episode")
    p.add_argument("--max-prompt-length", type=int, default=2048, help="tokens")
    p.add_argument(
        "--max-response-length",
        type=int,
        default=4096,
        help="tokens per episode after the prompt (replies and observations)",
    )
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--print-only", action="store_true", help="write the files, print the command")
    args, overrides = p.parse_known_args(argv)
    args.overrides = [o for o in overrides if o != "--"]
    return args


def write_inputs(args: argparse.Namespace) -> dict[str, Path]:
    """Write train/val parquet and the interaction config; returns their paths."""
    from mtenvs.integrations.verl import (
        interaction_config,
        make_verl_dataset,
        resolve_factory,
    )

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.env_factory:
        env = resolve_factory(args.env_factory)  # max_turns is the factory's business
        env_kwargs = None
    else:
        env = args.env
        env_kwargs = {"max_turns": args.max_turns}
    paths = {
        "train": out / "train.parquet",
        "val": out / "val.parquet",
        "interaction": out / "interaction.yaml",
    }
    train = make_verl_dataset(env, args.tasks, seed=args.seed, env_kwargs=env_kwargs)
    train.to_parquet(str(paths["train"]))
    # Validation tasks far from the training seeds.
    val = make_verl_dataset(env, args.val_tasks, seed=10**6 + args.seed, env_kwargs=env_kwargs)
    val.to_parquet(str(paths["val"]))
    paths["interaction"].write_text(interaction_config(env, env_kwargs=env_kwargs))
    return paths


def verl_overrides(args: argparse.Namespace, paths: dict[str, Path]) -> list[str]:
    """The Hydra overrides of ``verl.trainer.main_ppo`` (verl 0.7 option names)."""
    # The env ends episodes: verl's own turn caps sit above the env's turn limit.
    turns = args.max_turns + 1
    return [
        "algorithm.adv_estimator=grpo",
        "algorithm.use_kl_in_reward=False",
        f"data.train_files={paths['train']}",
        f"data.val_files={paths['val']}",
        f"data.train_batch_size={args.batch_size}",
        f"data.max_prompt_length={args.max_prompt_length}",
        f"data.max_response_length={args.max_response_length}",
        "data.return_raw_chat=True",
        "data.filter_overlong_prompts=True",
        f"actor_rollout_ref.model.path={args.model}",
        f"actor_rollout_ref.actor.optim.lr={args.learning_rate}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={args.batch_size}",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.model.enable_gradient_checkpointing=True",
        f"actor_rollout_ref.rollout.name={args.rollout}",
        "actor_rollout_ref.rollout.mode=async",
        f"actor_rollout_ref.rollout.n={args.group_size}",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.5",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.rollout.multi_turn.enable=True",
        f"actor_rollout_ref.rollout.multi_turn.max_assistant_turns={turns}",
        f"actor_rollout_ref.rollout.multi_turn.max_user_turns={turns}",
        f"actor_rollout_ref.rollout.multi_turn.interaction_config_path={paths['interaction']}",
        "actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent",
        "reward.custom_reward_function.path=pkg://mtenvs.integrations.verl",
        "reward.custom_reward_function.name=compute_score",
        "trainer.nnodes=1",
        f"trainer.n_gpus_per_node={args.gpus}",
        f"trainer.total_training_steps={args.steps}",
        "trainer.total_epochs=1000",
        "trainer.val_before_train=True",
        "trainer.test_freq=20",
        "trainer.save_freq=-1",
        "trainer.logger=[console]",
        "trainer.project_name=mtenvs",
        f"trainer.experiment_name={Path(args.output_dir).name}",
        f"trainer.default_local_dir={Path(args.output_dir) / 'checkpoints'}",
        *args.overrides,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    paths = write_inputs(args)
    command = [sys.executable, "-m", "verl.trainer.main_ppo", *verl_overrides(args, paths)]
    if args.print_only:
        print(" \\\n    ".join(command))
        return 0
    env = dict(os.environ)
    env.setdefault("VLLM_USE_V1", "1")
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
