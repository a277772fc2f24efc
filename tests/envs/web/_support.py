"""Browser test support: skip without Chromium, unless ``CI`` is set (then fail); find an
element's id in an outline; take one action that must parse and not end the episode; play
the oracle to the end; split a long test into parts that both xdist workers share."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from mtenvs.envs.web.browser import chromium_path
from tests._support import require


def require_browser() -> None:
    """Skip (or fail under ``CI``) when Playwright or Chromium is missing."""
    problem = None
    if importlib.util.find_spec("playwright") is None:
        problem = 'Playwright is not installed (pip install "mtenvs[web]")'
    elif chromium_path() is None:
        problem = "Chromium is not installed (apt-get install -y chromium)"
    require(problem, "the browser tests")


def element_id(obs: str, kind: str, name: str, *, prefix: bool = False) -> int:
    """The id of the first ``[id] kind "name"`` in the outline (``prefix``: a name that
    starts with ``name``)."""
    quote = "" if prefix else '"'
    match = re.search(rf'\[(\d+)\] {kind} "{re.escape(name)}{quote}', obs)
    assert match, f"no {kind} {name!r} in:\n{obs}"
    return int(match.group(1))


def act(env: Any, action: str) -> tuple[str, dict[str, Any]]:
    """Step ``<action>action</action>``: it must parse, and the episode must go on."""
    obs, _, terminated, truncated, info = env.step(f"<action>{action}</action>")
    assert info["parse_error"] is None and not terminated and not truncated
    return obs, info


def solve(env: Any) -> tuple[dict[str, Any], float, bool]:
    """Play the env's oracle from the current state to the episode's end: the last info,
    the summed reward and whether it terminated."""
    total, terminated, info = 0.0, False, {}
    for _ in range(env.max_turns):
        _, reward, terminated, truncated, info = env.step(env.oracle_action())
        total += reward
        if terminated or truncated:
            break
    return info, total, terminated


#: The whole-eval-set oracle tests (minutes each) run in this many parts, each part its own
#: xdist group, so both workers share them.
PARTS = 3


def parts(name: str) -> list[Any]:
    """``PARTS`` parameters for a test that plays ``items[part::PARTS]``, each part marked
    with its own xdist group (``name-0``, ``name-1``, ...)."""
    return [
        pytest.param(p, marks=pytest.mark.xdist_group(f"{name}-{p}"), id=f"part{p}")
        for p in range(PARTS)
    ]
