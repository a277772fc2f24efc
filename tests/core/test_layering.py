"""The layers: env packages stand on the core alone, the core on nothing above it.

``mtenvs/envs/*`` may import ``mtenvs.core``, ``mtenvs.sandbox``, ``mtenvs.error`` and
their own family, never the drivers and tools built on top of them (agents, wrappers,
rollouts, eval, trainer integrations, the CLI). Every import counts, function-local ones
included: a lazy import is still a dependency.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._imports import ROOT, imported_modules, imports_in, is_under, module_name

#: Packages built on top of the envs: no env module imports them.
ABOVE_THE_ENVS = (
    "mtenvs.agents",
    "mtenvs.wrappers",
    "mtenvs.rollout",
    "mtenvs.eval",
    "mtenvs.integrations",
    "mtenvs.cli",
)
#: What an env module may import from mtenvs, besides its own family.
ENVS_MAY_IMPORT = ("mtenvs.core", "mtenvs.sandbox", "mtenvs.error")
#: What the core itself may import from mtenvs.
CORE_MAY_IMPORT = ("mtenvs.core", "mtenvs.error", "mtenvs._version")


def env_modules() -> list[Path]:
    return sorted((ROOT / "envs").rglob("*.py"))


@pytest.mark.parametrize("path", env_modules(), ids=lambda p: module_name(p))
def test_env_modules_import_nothing_above_the_envs(path: Path) -> None:
    offending = sorted(m for m in imported_modules(path) if is_under(m, ABOVE_THE_ENVS))
    assert offending == [], f"{module_name(path)} imports {offending}"


def family(module: str) -> str:
    """``mtenvs.envs.grid.maze`` → ``mtenvs.envs.grid`` (``mtenvs.envs`` for the package)."""
    return ".".join(module.split(".")[:3])


@pytest.mark.parametrize("path", env_modules(), ids=lambda p: module_name(p))
def test_env_modules_import_only_the_core_the_sandbox_and_their_family(path: Path) -> None:
    allowed = (*ENVS_MAY_IMPORT, family(module_name(path)))
    offending = sorted(
        m for m in imported_modules(path) if is_under(m, ("mtenvs",)) and not is_under(m, allowed)
    )
    assert offending == [], f"{module_name(path)} imports {offending}"


@pytest.mark.parametrize("path", sorted((ROOT / "core").glob("*.py")), ids=lambda p: p.stem)
def test_the_core_imports_only_itself(path: Path) -> None:
    offending = sorted(
        m
        for m in imported_modules(path)
        if is_under(m, ("mtenvs",)) and not is_under(m, CORE_MAY_IMPORT)
    )
    assert offending == [], f"{module_name(path)} imports {offending}"


def test_the_import_walk_sees_local_relative_and_from_package_imports() -> None:
    source = (
        "import os\n"
        "from . import maze_rules\n"
        "from ..code import base\n"
        "def f():\n"
        "    from mtenvs import agents\n"
        "    import mtenvs.rollout.engine\n"
    )
    found = imports_in(source, "mtenvs.envs.grid.probe")
    assert {
        "os",
        "mtenvs.envs.grid.maze_rules",
        "mtenvs.envs.code.base",
        "mtenvs.agents",
        "mtenvs.rollout.engine",
    } <= found
    assert sorted(m for m in found if is_under(m, ABOVE_THE_ENVS)) == [
        "mtenvs.agents",
        "mtenvs.rollout.engine",
    ]
    assert "mtenvs.envs.grid.maze_rules" in imports_in(
        "from .maze_rules import x", "mtenvs.envs.grid", is_package=True
    )
