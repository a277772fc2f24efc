"""Environment families. Importing this package registers every id."""

from __future__ import annotations

from mtenvs.envs import (
    code,  # noqa: F401
    games,  # noqa: F401
    grid,  # noqa: F401
)
