"""Generate docs/envs/*.md (one card per env) from the env class docstrings.

Each card is the class docstring (the single source of truth, checked against the code by
tests/test_all_envs.py) followed by reference scores of the random and oracle agents on the
env's fixed evaluation sets, computed here so they always match the current code.

Run: ``.venv/bin/python docs/gen_env_cards.py [--episodes N]`` (``make docs`` does it);
``--docs-only`` rewrites the docstring part of every card and its trained-agent section
(from ``baselines/results.json``) and keeps its reference scores.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import mtenvs
from mtenvs.agents import OracleAgent, RandomAgent, ScriptedAgent
from mtenvs.core.envdoc import parse_env_doc
from mtenvs.eval import evaluate
from mtenvs.eval.report import episodes_label

try:  # run as a script: docs/ is on sys.path
    from gen_web_screenshots import screenshot_markdown
except ImportError:  # imported as docs.gen_env_cards
    from docs.gen_web_screenshots import screenshot_markdown

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "envs"
ROOT = DOCS.parent


def _slug(env_id: str) -> str:
    name = env_id.split("/", 1)[1].rsplit("-v", 1)[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _slow(env_id: str) -> bool:
    """Whether a random step takes more than 20 ms (a browser, say)."""
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(3):
        if any(env.step(env.unwrapped.random_action(rng))[2:4]):
            env.reset()
    env.close()
    return (time.perf_counter() - start) / 3 > 0.02


def reference_scores(env_id: str, cls: type, episodes: int) -> list[dict[str, Any]]:
    """Random, scripted (where the env has one) and oracle scores on each reference
    configuration of the env."""
    rows = []
    for config in getattr(cls, "reference_configs", ({},)):
        run = evaluate(
            [env_id],
            [RandomAgent(seed=0), ScriptedAgent(seed=0), OracleAgent()],
            episodes,
            env_kwargs=dict(config),
            name="reference",
        )
        for s in run.summaries():
            rows.append({"config": dict(config), **s.__dict__})
    return rows


def summary(cls: type) -> str:
    """The docstring's first paragraph as one line."""
    return parse_env_doc(cls).one_line


def card_head(env_id: str, cls: type) -> list[str]:
    """The card down to its scores: the title, the summary and the docstring's sections
    (with the generated rows of the common arguments)."""
    doc = parse_env_doc(cls).text
    body = doc[doc.index("##") :] if "##" in doc else ""
    return [
        f"# {env_id}",
        "",
        f"*{summary(cls).strip()}*",
        "",
        *([shot] if (shot := screenshot_markdown(env_id)) else []),
        body.strip(),
        "",
    ]


_SCORES_HEADING = "## Reference scores"
_TRAINED_HEADING = "## Trained reference agent"
_LLM_HEADING = "## LLM reference agents"


def card(env_id: str, cls: type, scores: list[dict[str, Any]], episodes: int) -> str:
    lines = [
        *card_head(env_id, cls),
        _SCORES_HEADING,
        "",
        f"Fixed evaluation sets (`eval_set=True`) where the env has them, {episodes} "
        "episodes per row, seeds "
        f"0…{episodes - 1}; mean ± standard error. Regenerate with "
        "`python docs/gen_env_cards.py`.",
        "",
        "| configuration | agent | success | return | turns |",
        "|---|---|---:|---:|---:|",
    ]
    for r in scores:
        config = ", ".join(f"{k}={v!r}" for k, v in r["config"].items()) or "default"
        lines.append(
            f"| {config} | {r['agent']} | {r['success_rate']:.1%} ± {r['success_stderr']:.1%} "
            f"| {r['mean_return']:.3f} ± {r['return_stderr']:.3f} | {r['mean_turns']:.1f} |"
        )
    lines += trained_section(env_id)
    return "\n".join(lines) + "\n"


#: The LLM tiers (baselines/llm_eval.py): their rows get a section of their own.
_LLM_TIERS = ("llm", "llm-sft", "llm-rl")


def _ci_table(rows: list[dict[str, Any]], *, format_errors: bool = False) -> list[str]:
    head = "| configuration | agent | episodes | success [95 % CI] | return [95 % CI] |"
    rule = "|---|---|---:|---:|---:|"
    if format_errors:
        head, rule = head + " format errors/turn |", rule + "---:|"
    lines = ["", head, rule]
    for r in rows:
        config = ", ".join(f"{k}={v!r}" for k, v in r["config"].items()) or "default"
        (slo, shi), (rlo, rhi) = r["success_ci95"], r["return_ci95"]
        line = (
            f"| {config} | {r['agent']} | {episodes_label(r)} | {r['success_rate']:.1%} "
            f"[{slo:.0%}, {shi:.0%}] | {r['mean_return']:+.3f} [{rlo:+.2f}, {rhi:+.2f}] |"
        )
        if format_errors:
            line += f" {r.get('format_error_rate', 0.0):.3f} |"
        lines.append(line)
    return lines


def trained_section(env_id: str) -> list[str]:
    """The trained reference agent's and the LLM tiers' scores from
    ``baselines/results.json``, where they cover ``env_id``."""
    path = ROOT / "baselines" / "results.json"
    if not path.is_file():
        return []
    results = json.loads(path.read_text())
    rows = [r for r in results["scores"] if r["env_id"] == env_id]
    small = [r for r in rows if r["agent"] not in _LLM_TIERS]
    llm = [r for r in rows if r["agent"] in _LLM_TIERS]
    lines: list[str] = []
    if small:
        lines += [
            "",
            _TRAINED_HEADING,
            "",
            "A small transformer trained from scratch (behaviour cloning on oracle "
            "trajectories, then multi-turn RL), shipped in `mtenvs/assets/baselines/` and "
            "played with `--agent trained`; all four tiers on the same episodes, 95 % "
            "intervals. Details and learning curves: [Baselines](../baselines.md); "
            "regenerate with `make baselines`.",
        ]
        retired = results["training"].get(env_id, {}).get("retired")
        if retired:
            lines += [
                "",
                "**Retired** (it does not beat `random` beyond the 95 % intervals, so no "
                f"weights ship and `--agent trained` skips this env): {retired}. The scores "
                "that retired it:",
            ]
        lines += _ci_table(small)
    if llm:
        lines += [
            "",
            _LLM_HEADING,
            "",
            "SmolLM2-135M-Instruct: `llm` zero-shot, `llm-sft` and `llm-rl` with this env's "
            "LoRA adapter (`--agent llm`, `llm-sft`, `llm-rl`), on the reference "
            "configuration, 95 % intervals; a reply the env cannot parse is a format error. "
            "Details: [Baselines](../baselines.md); regenerate with `make baselines-llm`.",
            *_ci_table(llm, format_errors=True),
        ]
    return lines


def rewrite_docs_only() -> None:
    """Regenerate each existing card's head from the docstring, keeping its score sections."""
    for env_id in mtenvs.list_envs(suite=True):
        path = OUT / f"{_slug(env_id)}.md"
        if not path.is_file():
            continue
        old = path.read_text()
        tail = old[old.index(_SCORES_HEADING) :] if _SCORES_HEADING in old else ""
        # The sections from baselines/results.json are rewritten (no episodes played).
        cuts = [tail.index(h) for h in (_TRAINED_HEADING, _LLM_HEADING) if h in tail]
        if cuts:
            tail = tail[: min(cuts)].rstrip("\n") + "\n"
        extra = trained_section(env_id)
        if extra:
            tail += "\n".join(extra) + "\n"
        cls = type(gym.make(env_id).unwrapped)
        path.write_text("\n".join(card_head(env_id, cls)) + "\n" + tail)
        print(f"wrote docs/envs/{path.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument(
        "--slow-episodes",
        type=int,
        default=10,
        help="episodes per row for envs whose steps take > 20 ms (browsers)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated env ids: rewrite only their cards"
    )
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="rewrite the docstring part of every card, keep its scores (runs no episode)",
    )
    args = parser.parse_args()
    if args.docs_only:
        rewrite_docs_only()
        return
    only = {e for e in args.only.split(",") if e}
    OUT.mkdir(exist_ok=True)
    index = ["# Environments", "", "| id | description |", "|---|---|"]
    all_scores: dict[str, Any] = {}
    previous = OUT / "reference_scores.json"
    if only and previous.is_file():
        all_scores = json.loads(previous.read_text())
    for env_id in mtenvs.list_envs(suite=True):
        cls = type(gym.make(env_id).unwrapped)
        if only and env_id not in only:
            index.append(f"| [`{env_id}`]({_slug(env_id)}.md) | {summary(cls)} |")
            continue
        episodes = args.slow_episodes if _slow(env_id) else args.episodes
        scores = reference_scores(env_id, cls, episodes)
        all_scores[env_id] = scores
        slug = _slug(env_id)
        (OUT / f"{slug}.md").write_text(card(env_id, cls, scores, episodes))
        index.append(f"| [`{env_id}`]({slug}.md) | {summary(cls)} |")
        print(f"wrote docs/envs/{slug}.md")
    (OUT / "index.md").write_text("\n".join(index) + "\n")
    (OUT / "reference_scores.json").write_text(json.dumps(all_scores, indent=2))


if __name__ == "__main__":
    main()
