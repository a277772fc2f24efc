"""Environment families. Importing this package registers every id."""

from __future__ import annotations

from mtenvs.envs import (
    games,  # noqa: F401
    grid,  # noqa: F401
)
