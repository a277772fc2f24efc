"""``python -m baselines.llm_eval``: the LLM tiers (``llm`` zero-shot, ``llm-sft``, ``llm-rl``)
on suite envs' fixed eval sets (issue 20, items 2 and 3), resumable across sessions.

Each env plays its reference configuration (the card's headline config, the one the other
tiers' rows in ``baselines/results.json`` use) for the size of its fixed eval set (every
task once: :func:`eval_set_size`), or for ``--episodes`` seeds ``0 … N-1`` where it has none
(the games: 200, Kuhn poker 1,000, as the other tiers at the ``cpu`` scale). Every finished
episode is appended to a journal (``<out>/<agent>/<env slug>/episodes.jsonl``, committed
under ``baselines/journals/`` so that a later session continues it): a stopped run started
again plays only the missing episodes. ``<out>/<agent>/rows.json`` holds one row per
finished env in the shape of ``baselines/results.json``'s scores (success rate with a Wilson
95 % interval, mean return with a normal 95 % interval, mean turns, format-error rate) with
its wall time; ``--merge`` puts them into ``baselines/results.json`` and rewrites
``baselines/RESULTS.md``.

    .venv/bin/python -m baselines.llm_eval                                  # llm, all envs
    .venv/bin/python -m baselines.llm_eval --agent llm-sft                  # envs with adapters
    .venv/bin/python -m baselines.llm_eval --envs mtenvs/Maze-v0 --limit 5  # a probe

``llm`` plays on llama.cpp on a CPU when installed (``--num-envs`` 16 episodes in flight:
its sequences); the tuned tiers on transformers with their adapter merged.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from baselines.report import summary_row
from mtenvs import list_envs
from mtenvs.core.agent import Agent
from mtenvs.eval.runner import accepts_argument, evaluate

__all__ = [
    "JOURNALS",
    "LLM_AGENTS",
    "episodes_for",
    "eval_set_size",
    "evaluate_llm",
    "merge_results",
]

LLM_AGENTS: tuple[str, ...] = ("llm", "llm-sft", "llm-rl")
#: Where the journals of the published rows are kept (committed).
JOURNALS = Path(__file__).resolve().parent / "journals"
#: Episodes of an env without a fixed eval set (the other tiers' count at the cpu scale).
DEFAULT_EPISODES = 200


def eval_set_size(env_id: str) -> int | None:
    """Tasks in ``env_id``'s fixed eval set (its task list with ``eval_set=True``), or
    ``None`` for an env without one."""
    if not accepts_argument(env_id, "eval_set"):
        return None
    import gymnasium as gym

    from mtenvs.core.task_source import TaskList

    env = gym.make(env_id, eval_set=True)
    try:
        source = env.unwrapped.task_source()  # type: ignore[attr-defined]
        return len(source) if isinstance(source, TaskList) else None
    finally:
        env.close()


def episodes_for(env_id: str, default: int = DEFAULT_EPISODES) -> int:
    """Episodes of ``env_id``: its eval set's size, else ``default`` times the env's
    ``eval_multiplier`` in ``SPECS`` (Kuhn poker's 1,000, as the other tiers: one hand is
    mostly the cards' luck)."""
    from baselines.specs import SPECS

    size = eval_set_size(env_id)
    if size is not None:
        return size
    spec = SPECS.get(env_id)
    return default * (spec.eval_multiplier if spec is not None else 1)


def _forget_other_adapter(agent_name: str, env_id: str, journal: Path, root: Path | None) -> None:
    """A tuned tier's journal holds the episodes of one adapter: when the shipped adapter
    changed (trained again), the old episodes go."""
    if agent_name == "llm":
        return
    import hashlib

    from mtenvs.agents.tuned import adapter_path

    path = adapter_path(env_id, agent_name, root)
    if path is None:
        return
    digest = hashlib.sha256((path / "adapter_model.safetensors").read_bytes()).hexdigest()
    mark = journal.with_name("adapter.sha256")
    if mark.is_file() and mark.read_text().strip() != digest:
        journal.unlink(missing_ok=True)
    mark.write_text(digest + "\n")


def _make(agent_name: str, root: Path | None) -> Agent:
    if agent_name == "llm":
        from mtenvs.agents.llm import LLMAgent

        return LLMAgent(seed=0)
    from mtenvs.agents.tuned import TunedLLMAgent

    return TunedLLMAgent(agent_name, seed=0, root=root)


def evaluate_llm(
    agent_name: str,
    env_ids: list[str],
    *,
    out: Path = JOURNALS,
    episodes: int = DEFAULT_EPISODES,
    limit: int | None = None,
    num_envs: int = 16,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Play ``agent_name`` on ``env_ids`` (see the module doc); the rows of ``rows.json``.
    ``root``: where the tuned tiers' adapters are (default: the packaged ones)."""
    if agent_name not in LLM_AGENTS:
        raise typer.BadParameter(
            f"agent must be one of {', '.join(LLM_AGENTS)}, got {agent_name!r}."
        )
    agent = _make(agent_name, root)
    base = out / agent_name
    rows_path = base / "rows.json"
    rows: dict[str, dict[str, Any]] = {}
    if rows_path.is_file():
        rows = {r["env_id"]: r for r in json.loads(rows_path.read_text())}
    for env_id in env_ids:
        planned = n = episodes_for(env_id, episodes)
        if limit is not None:
            n = min(n, limit)
        slug = env_id.removeprefix("mtenvs/").lower()
        journal = base / slug / "episodes.jsonl"
        journal.parent.mkdir(parents=True, exist_ok=True)
        _forget_other_adapter(agent_name, env_id, journal, root)
        resumed = journal.is_file()
        typer.echo(f"{agent_name} on {env_id}: {n} episodes (journal {journal})")
        began = time.perf_counter()
        with warnings.catch_warnings():
            # Long conversations are shortened on purpose (max_prompt_tokens).
            warnings.filterwarnings("ignore", message=".*was shortened to max_prompt_tokens")
            run = evaluate(
                [env_id],
                [agent],
                n,
                eval_set=True,
                reference_config=True,
                num_envs=min(num_envs, n),
                name=f"{agent_name}-{slug}",
                journal=journal,
                resume=resumed,
            )
        wall = time.perf_counter() - began
        summaries = run.summaries()
        if not summaries:
            reasons = [s["reason"] for s in run.config.get("skipped", [])]
            typer.echo(f"  skipped: {'; '.join(reasons) or 'no policy'}")
            continue
        (s,) = summaries
        played = run.config["env_configs"][env_id]
        config = {k: v for k, v in played.items() if k != "eval_set"}
        previous = rows.get(env_id, {}).get("wall_s", 0.0) if resumed else 0.0
        row = {
            **summary_row(s, config),
            "planned_episodes": planned,
            "wall_s": round(wall + previous, 1),
        }
        rows[env_id] = row
        rows_path.write_text(json.dumps(list(rows.values()), indent=1) + "\n")
        lo, hi = row["success_ci95"]
        typer.echo(
            f"  success {row['success_rate']:.1%} [{lo:.0%}, {hi:.0%}]  return "
            f"{row['mean_return']:+.3f}  turns {row['mean_turns']:.1f}  format errors/turn "
            f"{row['format_error_rate']:.3f}  ({wall:.0f} s)"
        )
    close = getattr(agent, "close", None)
    if close is not None:
        close()
    return list(rows.values())


def merge_results(
    out: Path = JOURNALS, results_dir: Path | None = None, root: Path | None = None
) -> Path:
    """Put every LLM tier's ``rows.json`` under ``out`` into ``results.json`` (replacing
    the same env and agent) and rewrite ``RESULTS.md``; the path of ``RESULTS.md``."""
    from baselines.report import llm_trainings, merge_rows, sort_rows, write_results
    from baselines.run import CURVES_PNG, RESULTS_DIR
    from baselines.specs import SPECS

    target = results_dir or RESULTS_DIR
    old = json.loads((target / "results.json").read_text())
    rows = old["scores"]
    for name in LLM_AGENTS:
        path = out / name / "rows.json"
        if path.is_file():
            rows = merge_rows(rows, json.loads(path.read_text()))
    order = [*SPECS, *list_envs(suite=True)]
    plot = CURVES_PNG if results_dir is None else target / "img" / CURVES_PNG.name
    return write_results(sort_rows(rows, order), old["training"], target, plot, llm_trainings(root))


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    agent: Annotated[str, typer.Option(help="llm, llm-sft or llm-rl.")] = "llm",
    envs: Annotated[
        str,
        typer.Option(help="Comma-separated env ids, 'all' (tuned tiers: theirs) or 'none'."),
    ] = "all",
    episodes: Annotated[
        int, typer.Option(help="Episodes of envs without an eval set.")
    ] = DEFAULT_EPISODES,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes per env.")] = None,
    num_envs: Annotated[int, typer.Option(help="Episodes in flight at once.")] = 16,
    out: Annotated[Path, typer.Option(help="Journal root.")] = JOURNALS,
    root: Annotated[
        Path | None,
        typer.Option(help="Adapter root of the tuned tiers (default: the packaged one)."),
    ] = None,
    merge: Annotated[
        bool, typer.Option(help="Then put the rows into results.json and RESULTS.md.")
    ] = False,
) -> None:
    """Play an LLM tier on each env's eval set, continuing any journal in ``out``."""
    if envs == "none":
        env_ids = []
    elif envs != "all":
        env_ids = [e.strip() for e in envs.split(",")]
    elif agent == "llm":
        env_ids = list_envs(suite=True)
    else:
        from mtenvs.agents.tuned import tuned_envs

        env_ids = tuned_envs(agent)
    if env_ids:
        evaluate_llm(
            agent, env_ids, out=out, episodes=episodes, limit=limit, num_envs=num_envs, root=root
        )
    if merge:
        typer.echo(f"wrote {merge_results(out, root=root)}")


if __name__ == "__main__":
    app()
