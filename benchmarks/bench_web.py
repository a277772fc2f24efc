"""Web benchmark: WebShop-v0 reset and step latency against the bare Playwright calls.

Run from the repository root: ``.venv/bin/python benchmarks/bench_web.py [--quick]``.

* **episode start**: ``env.reset`` plus opening the episode's fresh browser context on the
  start page (the env opens it lazily at the first browser action, so it is forced here),
  against bare Playwright ``new_context`` + ``new_page`` + ``goto`` on the same page.
* **step**: one ``click`` on a product link of a search results page and the new
  observation (outline; plus the screenshot in ``text+image``), against bare Playwright
  ``locator.click`` + ``wait_for_load_state`` (+ ``screenshot``). The page is reset to the
  results page outside the timed region.
* Rounds interleave the rows, so a slow spell of a shared machine hits all alike.

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

from mtenvs.envs.web.browser import on_browser_thread, shared_browser
from mtenvs.envs.web.env import VIEWPORT
from mtenvs.envs.web.shop import WebShopEnv
from mtenvs.envs.web.site import SiteProcess

_SEARCH = "/search?q=mouse"
_LINK = "a[href^='/product/']"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
        "n": len(ordered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round = (2, 5) if args.quick else (5, 10)
    envs = {mode: WebShopEnv(obs_mode=mode) for mode in ("text", "text+image")}
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
        for shot in (False, True):
            for _ in range(n):
                page.goto(site.origin + _SEARCH, wait_until="domcontentloaded")

                def click(page: Any = page, shot: bool = shot) -> None:
                    page.locator(_LINK).first.click()
                    page.wait_for_load_state("domcontentloaded")
                    if shot:
                        page.screenshot(type="png")

                timed(f"bare_click{'+screenshot' if shot else ''}", click)
        for context in contexts:
            context.close()

    for _ in range(rounds):
        for mode, env in envs.items():
            for _ in range(per_round):
                timed(f"env_episode_start[{mode}]", lambda env=env: env_start(env))
                env.step(f"<action>goto({_SEARCH})</action>")
                link = next(
                    e.id
                    for e in env._view.elements.values()
                    if e.kind == "link" and "Mouse" in e.name
                )
                timed(
                    f"env_step_click[{mode}]",
                    lambda env=env, link=link: env.step(f"<action>click({link})</action>"),
                )
        # Bare Playwright runs (and is timed) on the browser thread that owns it.
        on_browser_thread(lambda: bare_round(per_round))
    results = {name: _ms(values) for name, values in samples.items()}
    ratios = {
        "step_text_vs_bare": results["env_step_click[text]"]["median_ms"]
        / results["bare_click"]["median_ms"],
        "step_image_vs_bare": results["env_step_click[text+image]"]["median_ms"]
        / results["bare_click+screenshot"]["median_ms"],
        "start_vs_bare": results["env_episode_start[text]"]["median_ms"]
        / results["bare_episode_start"]["median_ms"],
    }
    report = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
        "ratios": {k: round(v, 2) for k, v in ratios.items()},
    }
    out = Path(__file__).parent / "results" / f"bench_web{'_quick' if args.quick else ''}.json"
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for name, row in results.items():
        print(f"{name:32s} median {row['median_ms']:8.1f} ms  p90 {row['p90_ms']:8.1f} ms")
    print("ratios:", report["ratios"])
    for env in envs.values():
        env.close()
    site.close()


if __name__ == "__main__":
    main()
