"""Browser test support: skip without Chromium, unless ``CI`` is set (then fail)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from mtenvs.envs.web.browser import chromium_path


def require_browser() -> None:
    """Skip (or fail under ``CI``) when Playwright or Chromium is missing."""
    problem = None
    if importlib.util.find_spec("playwright") is None:
        problem = 'Playwright is not installed (pip install "mtenvs[web]")'
    elif chromium_path() is None:
        problem = "Chromium is not installed (apt-get install -y chromium)"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {problem}")
        pytest.skip(problem)
