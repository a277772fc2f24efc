"""Environment families. Importing this package registers every id."""

from __future__ import annotations

from mtenvs.envs import grid  # noqa: F401
