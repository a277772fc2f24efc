"""MiniWoB++ benchmark: our ``MiniWob-<task>-v0`` env against bare Playwright and BrowserGym.

Run from the repository root::

    benchmarks/setup_peers.sh                    # once: .venv-bench, BrowserGym included
    .venv/bin/python benchmarks/bench_miniwob.py [--quick]

On one task page (``click-checkboxes`` by default; a click on a checkbox toggles it and
never ends the episode, so every step is the same work):

* **reset**: ``env.reset(seed)`` (closes the last context, opens a fresh one on the page,
  seeds and starts the episode, reads the utterance, renders the outline) against the bare
  Playwright calls it wraps: ``new_context`` + ``new_page`` + ``goto`` +
  ``Math.seedrandom`` / ``core.startEpisodeReal()`` / ``core.getUtterance()``.
* **step**: ``env.step(click(id))``, the click plus the new observation (the outline and the
  page's reward state; plus the screenshot in ``text+image``), against bare
  ``locator.click`` + ``wait_for_load_state`` (+ ``screenshot``).
* **observation only**: our text observation of the open page (outline + page state) against
  BrowserGym's ``_get_obs()`` (DOM snapshot + AXTree + extra properties + screenshot) and
  against its AXTree flattened to text (``flatten_axtree_to_str``), the nearest thing to ours.
* **BrowserGym** (``browsergym-miniwob`` in ``.venv-bench``, run by this file with
  ``--worker browsergym``): ``reset`` and ``step(click(bid))`` as shipped (it launches a
  new browser plus a chat browser every reset, runs MiniWoB with ``slow_mo=100`` ms and waits
  ``pre_observation_delay=0.5`` s after each action) and with ``slow_mo=0`` and no delay.
  Its pages come from the same ``miniwob`` html folder (``MINIWOB_URL`` on a loopback
  server); Playwright's ``launch`` is pointed at Debian's Chromium (``/usr/bin/chromium``)
  instead of a downloaded browser. If BrowserGym cannot run, the JSON and the table say why,
  with the exact error.

Ours and bare Playwright alternate in rounds, so a slow spell of a shared machine hits both;
the load average is recorded. Results: ``benchmarks/results/bench_miniwob.json``
(``bench_miniwob_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    fmt_ratio,
    machine_info,
    package_versions,
    print_table,
    summarize_ns,
    utc_timestamp,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
RESULTS = REPO / "benchmarks" / "results"
CHROMIUM = "/usr/bin/chromium"
_START_JS = """(seed) => { Math.seedrandom(seed); core.startEpisodeReal();
  return core.getUtterance(); }"""

Samples = dict[str, list[int]]


def _timed(samples: Samples, name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter_ns()
    out = fn()
    samples.setdefault(name, []).append(time.perf_counter_ns() - start)
    return out


# --------------------------------------------------------------------------- ours (.venv)


def measure_ours(task: str, rounds: int, resets: int, steps: int) -> Samples:
    """Our env and the bare Playwright calls it wraps, alternating in rounds."""
    from mtenvs.envs.web.browser import on_browser_thread, shared_browser
    from mtenvs.envs.web.miniwob import MINIWOB_VIEWPORT, MiniWobEnv
    from mtenvs.envs.web.miniwob_page import shared_server

    envs = {
        mode: MiniWobEnv(task=task, obs_mode=mode, max_turns=1_000_000)
        for mode in ("text", "text+image")
    }
    for env in envs.values():
        env.reset(seed=0)
    server = shared_server()
    browser = shared_browser()
    url = f"{server.origin}/miniwob/{task}.html"
    viewport = {"width": MINIWOB_VIEWPORT[0], "height": MINIWOB_VIEWPORT[1]}
    samples: Samples = {}

    def bare_round() -> None:  # on the browser thread, which owns Playwright
        contexts: list[Any] = []

        def start(seed: int) -> None:
            for old in contexts:
                old.close()
            contexts.clear()
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.evaluate(_START_JS, seed)
            contexts.append(context)

        for seed in range(resets):
            _timed(samples, "bare reset", functools.partial(start, seed))
        page = contexts[0].pages[0]
        for shot in (False, True):

            def click(shot: bool = shot) -> None:
                page.locator("input[type=checkbox]").first.click()
                page.wait_for_load_state("domcontentloaded")
                if shot:
                    page.screenshot(type="png")

            for _ in range(steps):
                _timed(samples, "bare click" + (" + screenshot" if shot else ""), click)
        for old in contexts:
            old.close()

    for _ in range(rounds):
        for mode, env in envs.items():
            if mode == "text":
                for seed in range(resets):
                    _timed(samples, "ours reset [text]", functools.partial(env.reset, seed=seed))
            obs, _ = env.reset(seed=0)
            text = obs if isinstance(obs, str) else obs["text"]
            box = re.search(r"\[(\d+)\] checkbox", text)
            if box is None:
                raise RuntimeError(f"{task} has no checkbox to click:\n{text}")
            action = f"<action>click({box[1]})</action>"
            for _ in range(steps):
                _timed(samples, f"ours step [{mode}]", functools.partial(env.step, action))
            if mode == "text":
                for _ in range(steps):
                    # the outline, page state and text of the open page, without an action
                    _timed(samples, "ours observation only [text]", env._render_observation)
        on_browser_thread(bare_round)
    for env in envs.values():
        env.close()
    return samples


# --------------------------------------------------------------------------- BrowserGym


def run_worker(args: argparse.Namespace) -> None:
    """``--worker browsergym`` (in ``.venv-bench``): measure BrowserGym, write JSON."""
    out: dict[str, Any] = {"samples_ns": {}, "error": None}
    try:
        out["versions"] = package_versions(
            ["browsergym-core", "browsergym-miniwob", "playwright", "gymnasium"]
        )
        out["samples_ns"] = _measure_browsergym(args)
    except BaseException as e:  # reported, not raised: the orchestrator shows it
        out["error"] = f"{type(e).__name__}: {str(e).strip()[:2000]}"
    Path(args.json_out).write_text(json.dumps(out), encoding="utf-8")


def _measure_browsergym(args: argparse.Namespace) -> Samples:
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=args.html_dir))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ["MINIWOB_URL"] = f"http://127.0.0.1:{httpd.server_address[1]}/miniwob/"

    # BrowserGym launches Playwright's downloaded Chromium (task and chat browsers); use
    # Debian's instead (`playwright install` is never run here).
    from playwright.sync_api._generated import BrowserType

    launch = BrowserType.launch

    def launch_debian_chromium(self: Any, *a: Any, **kw: Any) -> Any:
        kw.setdefault("executable_path", CHROMIUM)
        return launch(self, *a, **kw)

    BrowserType.launch = launch_debian_chromium  # type: ignore[method-assign]

    import browsergym.miniwob  # noqa: F401  (registers browsergym/miniwob.*)
    import gymnasium as gym
    from browsergym.core.observation import _post_extract, _pre_extract, extract_merged_axtree
    from browsergym.utils.obs import flatten_axtree_to_str

    samples: Samples = {}
    env_id = f"browsergym/miniwob.{args.task}"

    def bid_of(obs: dict[str, Any]) -> str:
        text = flatten_axtree_to_str(obs["axtree_object"])
        match = re.search(r"\[([^\]]+)\] checkbox", text)
        if match is None:
            raise RuntimeError(f"no checkbox in BrowserGym's AXTree:\n{text}")
        return match[1]

    shipped = gym.make(env_id)
    try:
        obs = None
        for seed in range(args.bg_resets):
            obs, _ = _timed(
                samples, "browsergym reset (as shipped)", lambda s=seed: shipped.reset(seed=s)
            )
        action = f"click('{bid_of(obs)}')"
        for _ in range(args.bg_steps):
            _timed(samples, "browsergym step (as shipped)", lambda: shipped.step(action))
    finally:
        shipped.close()
    tuned = gym.make(env_id, slow_mo=0, pre_observation_delay=0.0)
    try:
        obs, _ = tuned.reset(seed=0)
        action = f"click('{bid_of(obs)}')"
        for _ in range(args.steps):
            _timed(samples, "browsergym step (slow_mo=0, no delay)", lambda: tuned.step(action))
        inner = tuned.unwrapped
        for _ in range(args.steps):
            _timed(samples, "browsergym observation only (_get_obs)", inner._get_obs)

        def axtree_text() -> str:
            _pre_extract(inner.page, tags_to_mark="standard_html")
            try:
                return str(flatten_axtree_to_str(extract_merged_axtree(inner.page)))
            finally:
                _post_extract(inner.page)

        for _ in range(args.steps):
            _timed(samples, "browsergym observation only (AXTree text)", axtree_text)
    finally:
        tuned.close()
    return samples


def measure_browsergym(args: argparse.Namespace, html_dir: Path) -> dict[str, Any]:
    """Run the BrowserGym worker in ``--bench-python``; its samples, or why it failed."""
    python = Path(args.bench_python)
    if not python.exists():
        return {
            "samples_ns": {},
            "error": f"{python} does not exist; run benchmarks/setup_peers.sh first.",
        }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "browsergym.json"
        cmd = [
            str(python),
            str(Path(__file__).resolve()),
            "--worker",
            "browsergym",
            "--json-out",
            str(out),
            "--html-dir",
            str(html_dir),
            "--task",
            args.task,
            "--steps",
            str(args.steps),
            "--bg-resets",
            str(args.bg_resets),
            "--bg-steps",
            str(args.bg_steps),
        ]
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=args.peer_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"samples_ns": {}, "error": f"worker ran past {args.peer_timeout} s"}
        if not out.exists():
            return {
                "samples_ns": {},
                "error": f"worker exited {proc.returncode}: {proc.stdout[-1500:].strip()}",
            }
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


# --------------------------------------------------------------------------- report


def _ratio(results: dict[str, dict[str, float]], a: str, b: str) -> float | None:
    if a not in results or b not in results:
        return None
    return round(results[a]["median_us"] / results[b]["median_us"], 3)


def main(args: argparse.Namespace) -> None:
    from mtenvs.envs.web.miniwob_tasks import html_dir

    load_before = os.getloadavg()
    ours = measure_ours(args.task, args.rounds, args.resets, args.steps)
    browsergym = measure_browsergym(args, html_dir())
    samples = {**ours, **browsergym.get("samples_ns", {})}
    results = {name: summarize_ns(values) for name, values in samples.items()}
    ratios = {
        "reset_vs_bare": _ratio(results, "ours reset [text]", "bare reset"),
        "step_text_vs_bare": _ratio(results, "ours step [text]", "bare click"),
        "step_image_vs_bare": _ratio(results, "ours step [text+image]", "bare click + screenshot"),
        "reset_vs_browsergym_shipped": _ratio(
            results, "ours reset [text]", "browsergym reset (as shipped)"
        ),
        "step_text_vs_browsergym_shipped": _ratio(
            results, "ours step [text]", "browsergym step (as shipped)"
        ),
        "step_text_vs_browsergym_tuned": _ratio(
            results, "ours step [text]", "browsergym step (slow_mo=0, no delay)"
        ),
        "step_image_vs_browsergym_tuned": _ratio(
            results, "ours step [text+image]", "browsergym step (slow_mo=0, no delay)"
        ),
        "observation_vs_browsergym_get_obs": _ratio(
            results, "ours observation only [text]", "browsergym observation only (_get_obs)"
        ),
        "observation_vs_browsergym_axtree_text": _ratio(
            results, "ours observation only [text]", "browsergym observation only (AXTree text)"
        ),
    }
    report = {
        "benchmark": "bench_miniwob",
        "timestamp": utc_timestamp(),
        "task": args.task,
        "config": {
            "rounds": args.rounds,
            "resets_per_round": args.resets,
            "steps_per_round": args.steps,
            "browsergym_resets": args.bg_resets,
            "browsergym_shipped_steps": args.bg_steps,
        },
        "machine": machine_info(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "versions": package_versions(["mtenvs", "miniwob", "playwright", "gymnasium"]),
        "browsergym": {
            "ran": not browsergym.get("error"),
            "error": browsergym.get("error"),
            "versions": browsergym.get("versions"),
        },
        "results": results,
        "ratios": ratios,
    }
    out = RESULTS / f"bench_miniwob{'_quick' if args.quick else ''}.json"
    write_json(out, report)
    reference = {
        "ours reset [text]": "bare reset",
        "ours step [text]": "bare click",
        "ours step [text+image]": "bare click + screenshot",
        "ours observation only [text]": "browsergym observation only (AXTree text)",
    }
    rows = []
    for name, row in results.items():
        ref = reference.get(name)
        rows.append(
            [
                name,
                f"{row['median_us'] / 1000:,.1f}",
                f"{row['p90_us'] / 1000:,.1f}",
                str(row["n"]),
                f"{fmt_ratio(_ratio(results, name, ref))} of {ref}" if ref else "",
            ]
        )
    print_table(
        f"MiniWoB++ {args.task}: medians in ms (load average {load_before[0]:.1f})",
        [
            ("row", "left"),
            ("median ms", "right"),
            ("p90 ms", "right"),
            ("n", "right"),
            ("ratio", "left"),
        ],
        rows,
    )
    print("ratios:", json.dumps(ratios))
    if browsergym.get("error"):
        print(f"BrowserGym did not run: {browsergym['error']}")
    print(f"wrote {out.relative_to(REPO)}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    p.add_argument("--task", default="click-checkboxes", help="a page with checkboxes")
    p.add_argument("--bench-python", default=str(DEFAULT_BENCH_PYTHON))
    p.add_argument("--peer-timeout", type=float, default=900.0)
    p.add_argument("--worker", choices=["browsergym"], help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    p.add_argument("--html-dir", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    p.add_argument("--resets", type=int, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--bg-resets", type=int, help=argparse.SUPPRESS)
    p.add_argument("--bg-steps", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    quick = {"rounds": 2, "resets": 3, "steps": 5, "bg_resets": 2, "bg_steps": 3}
    full = {"rounds": 4, "resets": 5, "steps": 10, "bg_resets": 4, "bg_steps": 8}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.worker and not (args.json_out and args.html_dir):
        p.error("--worker needs --json-out and --html-dir")
    return args


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.worker:
        run_worker(parsed)
    else:
        main(parsed)
