"""Support shared by the test packages: a component a test needs but this machine lacks."""

from __future__ import annotations

import os

import pytest


def require(problem: str | None, what: str) -> None:
    """Skip the test when ``problem`` (why ``what`` cannot run here) is set, but fail under
    ``CI``: CI must exercise every real component (``make test`` sets them up)."""
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {what} cannot run: {problem}")
    pytest.skip(f"{what} cannot run: {problem}")
