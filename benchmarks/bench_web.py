"""Web benchmark: WebShop-v0 reset and step latency against the bare Playwright calls.

Run from the repository root: ``.venv/bin/python benchmarks/bench_web.py [--quick]``.

* **episode start**: ``env.reset`` plus opening the episode's fresh browser context on the
  start page (the env opens it lazily at the first browser action, so it is forced here),
  against bare Playwright ``new_context`` + ``new_page`` + ``goto`` on the same page.
* **step**: one ``click`` on a product link of a search results page and the new
  observation (outline; plus the screenshot in ``text+image``), against bare Playwright
  ``locator.click`` + ``wait_for_load_state`` (+ ``page.screenshot``, Playwright's own
  screenshot call; ``bare_click+cdp_screenshot`` is the DevTools ``Page.captureScreenshot``
  call the env makes instead, without decoding). The page is reset to the results page
  outside the timed region.
* Rounds interleave the rows, so a slow spell of a shared machine hits all alike; the whole
  measurement is repeated ``--runs`` times (default 3) and the report gives each run's
  medians and ratios and, as ``results``/``ratios``, the median over the runs.

* **site reset**: the per-episode state reset of the site server (``POST /__reset``),
  with the server as a local process and in a ``mtenvs/web`` container (through the
  loopback forwarder; when Docker is usable), plus each one's start time.

Results go to ``benchmarks/results/bench_web.json`` (``bench_web_quick.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from mtenvs.envs.web.browser import on_browser_thread, shared_browser
from mtenvs.envs.web.env import VIEWPORT
from mtenvs.envs.web.shop import WebShopEnv
from mtenvs.envs.web.site import SiteProcess, docker_site_available, start_site

_SEARCH = "/search?q=mouse"
_LINK = "a[href^='/product/']"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
        "n": len(ordered),
    }


def measure(rounds: int, per_round: int) -> dict[str, Any]:
    """One run: per-row latency summaries and the env/bare ratios."""
    # local site servers: the bare rows talk to a local one too
    envs = {
        mode: WebShopEnv(obs_mode=mode, site_backend="local") for mode in ("text", "text+image")
    }
    for env in envs.values():
        env.reset(seed=0)
    site = SiteProcess("shop", WebShopEnv.site_data)
    browser = shared_browser()  # the same Chromium the envs use (one per thread)
    samples: dict[str, list[float]] = {}

    def timed(name: str, fn: Any) -> None:
        start = time.perf_counter()
        fn()
        samples.setdefault(name, []).append(time.perf_counter() - start)

    def env_start(env: WebShopEnv) -> None:
        env.reset(seed=0)
        env._ensure_page()  # force the lazily opened context

    def bare_start() -> Any:
        context = browser.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
        page = context.new_page()
        page.goto(site.origin + "/", wait_until="domcontentloaded")
        return context

    def bare_round(n: int) -> None:
        contexts = []
        for _ in range(n):
            timed("bare_episode_start", lambda: contexts.append(bare_start()))
        page = contexts[-1].pages[0]
        cdp = contexts[-1].new_cdp_session(page)
        for shot in ("", "+screenshot", "+cdp_screenshot"):
            for _ in range(n):
                page.goto(site.origin + _SEARCH, wait_until="domcontentloaded")

                def click(page: Any = page, shot: str = shot) -> None:
                    page.locator(_LINK).first.click()
                    page.wait_for_load_state("domcontentloaded")
                    if shot == "+screenshot":
                        page.screenshot(type="png")
                    elif shot == "+cdp_screenshot":
                        try:
                            cdp.send("Page.captureScreenshot", {"format": "png"})
                        except PlaywrightError:  # no frame yet: as the env does
                            page.screenshot(type="png")

                timed(f"bare_click{shot}", click)
        for context in contexts:
            context.close()

    for _ in range(rounds):
        for mode, env in envs.items():
            for _ in range(per_round):
                timed(f"env_episode_start[{mode}]", lambda env=env: env_start(env))
                env.step(f"<action>goto({_SEARCH})</action>")
                view = env._view
                assert view is not None, "the search page gave no outline"
                link = next(
                    e.id for e in view.elements.values() if e.kind == "link" and "Mouse" in e.name
                )
                timed(
                    f"env_step_click[{mode}]",
                    lambda env=env, link=link: env.step(f"<action>click({link})</action>"),
                )
        # Bare Playwright runs (and is timed) on the browser thread that owns it.
        on_browser_thread(lambda: bare_round(per_round))
    for env in envs.values():
        env.close()
    site.close()
    results = {name: _ms(values) for name, values in samples.items()}
    return {"results": results, "ratios": _ratios(results)}


def _ratios(results: dict[str, dict[str, float]]) -> dict[str, float]:
    def ratio(env_row: str, bare_row: str) -> float:
        return round(results[env_row]["median_ms"] / results[bare_row]["median_ms"], 2)

    return {
        "step_text_vs_bare": ratio("env_step_click[text]", "bare_click"),
        "step_image_vs_bare": ratio("env_step_click[text+image]", "bare_click+screenshot"),
        "step_image_vs_bare_cdp": ratio("env_step_click[text+image]", "bare_click+cdp_screenshot"),
        "start_vs_bare": ratio("env_episode_start[text]", "bare_episode_start"),
    }


def measure_site(backend: str, n: int) -> dict[str, Any]:
    """Site server start and per-episode state reset (``POST /__reset``) on ``backend``."""
    start = time.perf_counter()
    site = start_site("shop", WebShopEnv.site_data, backend)
    started = time.perf_counter() - start
    resets = []
    for _ in range(n):
        t = time.perf_counter()
        site.reset()
        resets.append(time.perf_counter() - t)
    site.close()
    return {"start_ms": round(started * 1000, 1), "reset": _ms(resets)}


def site_resets(n: int) -> dict[str, Any]:
    """Reset latency per backend (Docker only when usable: engine up, image built)."""
    out: dict[str, Any] = {"local": measure_site("local", n)}
    usable, why = docker_site_available()
    out["docker"] = measure_site("docker", n) if usable else {"skipped": why}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--site-reset-only",
        action="store_true",
        help="only measure site start/reset per backend, into the existing report",
    )
    args = parser.parse_args()
    rounds, per_round = (2, 5) if args.quick else (5, 10)
    out = Path(__file__).parent / "results" / f"bench_web{'_quick' if args.quick else ''}.json"
    if args.site_reset_only:
        report = json.loads(out.read_text(encoding="utf-8"))
        report["site_reset"] = site_resets(50)
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print("site reset:", json.dumps(report["site_reset"]))
        return
    runs = []
    for n in range(args.runs):
        runs.append(measure(rounds, per_round))
        print(f"run {n + 1}: {runs[-1]['ratios']}", flush=True)
    rows = runs[0]["results"]
    results = {
        name: {
            "median_ms": round(statistics.median(r["results"][name]["median_ms"] for r in runs), 2),
            "p90_ms": round(statistics.median(r["results"][name]["p90_ms"] for r in runs), 2),
            "n": sum(r["results"][name]["n"] for r in runs),
        }
        for name in rows
    }
    ratios = {
        key: round(statistics.median(r["ratios"][key] for r in runs), 2)
        for key in runs[0]["ratios"]
    }
    report = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": len(runs),
        "results": results,
        "ratios": ratios,
        "site_reset": site_resets(50),
        "per_run": runs,
    }
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for name, row in results.items():
        print(f"{name:32s} median {row['median_ms']:8.1f} ms  p90 {row['p90_ms']:8.1f} ms")
    print("ratios (median of runs):", ratios)


if __name__ == "__main__":
    main()
