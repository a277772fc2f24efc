"""The ``mtenvs`` command: list envs, play one in the terminal, evaluate agents, check setup."""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import gymnasium as gym
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import mtenvs
from mtenvs.agents import AGENT_SPECS, make_agent
from mtenvs.core.envdoc import parse_env_doc
from mtenvs.core.registry import env_class, env_spec, list_envs
from mtenvs.core.spaces import obs_text
from mtenvs.error import Error, InvalidArgumentError
from mtenvs.eval import EpisodeResult, evaluate, write_report
from mtenvs.eval.report import (
    compare_table,
    load_run_summaries,
    skipped_line,
    write_comparison,
)
from mtenvs.eval.runner import agent_for
from mtenvs.rollout.sources import check_wrapper_args, resolve_wrapper
from mtenvs.rollout.workers import as_executor
from mtenvs.sandbox.cli import doctor_rows as sandbox_doctor_rows
from mtenvs.sandbox.cli import images_app, sandbox_app

app = typer.Typer(
    help="mtenvs: multi-turn environments for LLM agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
app.add_typer(images_app, name="images")
app.add_typer(sandbox_app, name="sandbox")


def _parse_args(pairs: list[str] | None, option: str = "--arg") -> dict[str, Any]:
    """``["difficulty=hard", "max_turns=10"]`` → ``{"difficulty": "hard", "max_turns": 10}``."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgumentError(f"{option} expects KEY=VALUE, got {pair!r}.")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _parse_wrapper(spec: str, *, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """``"TurnLimit:max_turns=8,remind=true"`` → ``("TurnLimit", {"max_turns": 8,
    "remind": True})``: a public name of :mod:`mtenvs.wrappers` and its arguments, parsed
    like ``--arg`` values. ContextSummary's ``summarizer`` is an agent spec (``random``)."""
    name, _, rest = spec.partition(":")
    wrapper = resolve_wrapper(name.strip())
    # Split at commas that start the next KEY=, so a value may hold commas ("a, b").
    pairs = [p for p in re.split(r",(?=\s*[A-Za-z_]\w*=)", rest) if p.strip()]
    kwargs = _parse_args(pairs, option=f"--wrapper {name.strip()}")
    check_wrapper_args(wrapper, kwargs)
    if isinstance(kwargs.get("summarizer"), str):
        kwargs["summarizer"] = make_agent(kwargs["summarizer"], seed=seed)
    return name.strip(), kwargs


def _summary_line(env_id: str) -> str:
    return parse_env_doc(env_class(env_id)).one_line


def _fail(err: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {err}")
    return typer.Exit(code=2)


@app.command("list")
def list_cmd(
    every: Annotated[
        bool, typer.Option("--all", help="Also list every MiniWoB++ page id, not a few.")
    ] = False,
) -> None:
    """List the registered environment ids (the suite; --all adds every adapter id)."""
    ids = list_envs(suite=not every)
    extra = len(list_envs()) - len(ids)
    more = f" (+{extra} adapter ids: --all)" if extra else ""
    table = Table(title=f"mtenvs {mtenvs.__version__}: {len(ids)} environments{more}")
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("description")
    for env_id in ids:
        table.add_row(env_id, _summary_line(env_id))
    console.print(table)


@app.command()
def play(
    env_id: Annotated[str, typer.Argument(help="Environment id, e.g. mtenvs/Sokoban-v0.")],
    seed: Annotated[int, typer.Option(help="Seed of the first episode.")] = 0,
    arg: Annotated[list[str] | None, typer.Option(help="Env argument KEY=VALUE (repeat).")] = None,
) -> None:
    """Play an environment in the terminal: type a reply, ':hint' for the oracle, ':q' to quit."""
    try:
        env = mtenvs.make(env_id, **_parse_args(arg))
    except Error as e:
        raise _fail(e) from e
    obs, info = env.reset(seed=seed)
    console.rule(f"[bold]{env_id}[/] — task {info['task_id']}")
    console.print(info["system_prompt"], markup=False, highlight=False)
    max_turns = info["max_turns"]
    total = 0.0
    while True:
        console.rule()
        console.print(obs_text(obs), markup=False, highlight=False)
        try:
            reply = input("> ")
        except EOFError:
            break
        if reply.strip() in (":q", ":quit", "quit", "exit"):
            break
        if reply.strip() == ":hint":
            if not getattr(env.unwrapped, "has_oracle", True):
                console.print("this env has no oracle", markup=False)
                continue
            hint = env.unwrapped.oracle_action()  # type: ignore[attr-defined]
            console.print(f"oracle: {hint}", markup=False, highlight=False)
            continue
        obs, reward, terminated, truncated, info = env.step(reply)
        total += float(reward)
        console.print(
            f"[dim]reward {float(reward):+.3f} {info['reward_components']} · "
            f"turn {info['turn']}/{max_turns} · return {total:+.3f}[/]"
        )
        if terminated or truncated:
            console.print(obs_text(obs), markup=False, highlight=False)
            verdict = "[bold green]solved" if info["success"] else "[bold red]not solved"
            end = "terminated" if terminated else "truncated"
            console.print(f"{verdict}[/] ({end} after {info['turn']} turns, return {total:+.3f})")
            break
    env.close()


@app.command("eval")
def eval_cmd(
    env: Annotated[
        str, typer.Option(help="Env ids, comma-separated, or 'all' (the suite: `mtenvs list`).")
    ] = "all",
    agent: Annotated[
        str, typer.Option(help=f"Agents, comma-separated: {', '.join(AGENT_SPECS)}.")
    ] = "oracle",
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per env and agent.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the first episode.")] = 0,
    eval_set: Annotated[
        bool, typer.Option(help="Use the fixed eval sets where an env has them.")
    ] = True,
    name: Annotated[str | None, typer.Option(help="Run name (folder under --out).")] = None,
    out: Annotated[Path, typer.Option(help="Where run folders go.")] = Path("runs"),
    plots: Annotated[bool, typer.Option(help="Write PNG plots.")] = True,
    arg: Annotated[list[str] | None, typer.Option(help="Env argument KEY=VALUE (repeat).")] = None,
    wrapper: Annotated[
        list[str] | None,
        typer.Option(
            help="Wrap every env: NAME[:KEY=VALUE,KEY=VALUE] with NAME a wrapper of "
            "mtenvs.wrappers (TryAgain, TurnLimit, ContextSummary, ...), values parsed like "
            "--arg; repeat to stack them, the first innermost."
        ),
    ] = None,
    num_envs: Annotated[int, typer.Option(min=1, help="Episodes in flight at once.")] = 8,
    executor: Annotated[
        str, typer.Option(help="How env steps run: auto, sync, thread, process or ray.")
    ] = "auto",
    reference_config: Annotated[
        bool,
        typer.Option(
            help="Play each env's headline reference configuration (the one its trained "
            "agent was trained on; --arg values override it) instead of its defaults."
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run OUT/NAME from its journal (episodes.jsonl): keep the "
            "episodes it finished, play only the missing ones. Needs --name."
        ),
    ] = False,
) -> None:
    """Evaluate agents on envs; writes report.json, report.md and plots to OUT/NAME/.

    Every finished episode is appended to OUT/NAME/episodes.jsonl as it finishes, so a run
    that is stopped continues with ``--resume`` (same settings, same --name)."""
    try:
        env_ids = (
            list_envs(suite=True)
            if env == "all"
            else [e.strip() for e in env.split(",") if e.strip()]
        )
        for env_id in env_ids:
            env_spec(env_id)
        agents = [make_agent(a.strip(), seed=seed) for a in agent.split(",") if a.strip()]
        env_kwargs = _parse_args(arg)
        wrappers = [_parse_wrapper(w, seed=seed) for w in wrapper or []]
        executor_kind = as_executor(executor)
        if resume and name is None:
            raise InvalidArgumentError(
                "--resume continues a named run: pass --name NAME (the folder under --out)."
            )
    except Error as e:
        raise _fail(e) from e
    run_name = name or time.strftime("eval-%Y%m%d-%H%M%S")
    total = sum(agent_for(a, e) is not None for e in env_ids for a in agents) * episodes
    stats = {"done": 0, "success": 0, "turns": 0, "start": time.perf_counter()}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("success {task.fields[rate]}"),
        TextColumn("{task.fields[tps]} turns/s"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("episodes", total=total, rate="-", tps="-")

        def on_episode(result: EpisodeResult) -> None:
            stats["done"] += 1
            stats["success"] += result.success
            stats["turns"] += result.turns
            elapsed = time.perf_counter() - stats["start"]
            progress.update(
                bar,
                advance=1,
                description=f"{result.env_id.removeprefix('mtenvs/')} · {result.agent}",
                rate=f"{stats['success'] / stats['done']:.0%}",
                tps=f"{stats['turns'] / max(elapsed, 1e-9):,.0f}",
            )

        with warnings.catch_warnings(record=True) as caught:
            # Warnings (an agent shortening long prompts, ...) would break the progress bar
            # and show our source lines: each is said once, after the table (the filters
            # are left as they are).
            try:
                run = evaluate(
                    env_ids,
                    agents,
                    episodes,
                    seed=seed,
                    eval_set=eval_set,
                    env_kwargs=env_kwargs,
                    name=run_name,
                    on_episode=on_episode,
                    num_envs=num_envs,
                    executor=executor_kind,
                    reference_config=reference_config,
                    wrappers=wrappers,
                    journal=out / run_name / "episodes.jsonl",
                    resume=resume,
                )
            except Error as e:
                raise _fail(e) from e
    paths = write_report(run, out / run_name, plots=plots)
    table = Table(title=f"{run_name} (standard errors in report.md)")
    # numbers are never cut: on a narrow terminal (or a pipe: 80 columns) long env ids wrap
    table.add_column("env", overflow="fold", min_width=12)
    table.add_column("agent", no_wrap=True)
    for col in ("episodes", "success", "return", "turns", "fmt err/turn"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for s in run.summaries():
        table.add_row(
            s.env_id.removeprefix("mtenvs/"),
            s.agent,
            str(s.episodes),
            f"{s.success_rate:.1%}",
            f"{s.mean_return:+.3f}",
            f"{s.mean_turns:.1f}",
            f"{s.format_error_rate:.3f}",
        )
    console.print(table)
    if skipped := skipped_line(run.config):
        console.print(f"{skipped} (listed in report.md)")
    for message in dict.fromkeys(str(w.message) for w in caught):
        console.print(Text.assemble(("warning: ", "yellow"), message))
    console.print(f"[green]wrote[/] {', '.join(str(p) for p in paths)}")


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or report.json files).")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also write comparison.html and the plots (success.png, returns.png) here."
        ),
    ] = None,
) -> None:
    """Compare evaluation runs side by side: success rate / mean return per env and agent;
    with ``--out``, the same heatmap and per-family plots as one run's report."""
    try:
        loaded = [load_run_summaries(r) for r in runs]
    except (OSError, KeyError, ValueError) as e:
        raise _fail(InvalidArgumentError(f"cannot read run: {e}")) from e
    header, rows = compare_table(loaded)
    table = Table(title="success rate / mean return")
    for col in header:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if out is not None:
        paths = write_comparison(loaded, out)
        console.print(f"wrote {', '.join(str(p) for p in paths)}")


@app.command()
def doctor() -> None:
    """Report versions and which optional components (Docker, Chromium) are usable."""
    table = Table(title="mtenvs doctor", show_header=False)
    table.add_row("mtenvs", mtenvs.__version__)
    table.add_row("python", f"{platform.python_version()} ({sys.executable})")
    table.add_row("gymnasium", gym.__version__)
    table.add_row("registered envs", str(len(list_envs())))
    table.add_row("docker client", shutil.which("docker") or "not installed")
    for key, value in sandbox_doctor_rows():
        table.add_row(key, value)
    table.add_row("chromium", shutil.which("chromium") or "not installed (needed by web envs)")
    console.print(table)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
