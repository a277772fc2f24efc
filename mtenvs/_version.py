"""The package version, read without importing the rest of ``mtenvs``.

Modules low in the tree (the image tags of :mod:`mtenvs.sandbox.images`) need the version;
``import mtenvs`` for it would register every env family first.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mtenvs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
