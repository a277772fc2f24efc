"""Environment families. Importing this package registers every id."""

from __future__ import annotations

from mtenvs.envs import (
    clinical,  # noqa: F401
    code,  # noqa: F401
    games,  # noqa: F401
    grid,  # noqa: F401
    puzzles,  # noqa: F401
    search,  # noqa: F401
    sql,  # noqa: F401
    web,  # noqa: F401
)
