"""The whole package's import graph: no circle anywhere, each part imports only the floors
below it, and docs/architecture.md, which draws the same floors, names every package.

Imports are read with ``ast`` (:mod:`tests._imports`): function-local ones count, since a
lazy import still ties two modules together. Importing ``a.b`` does not count as importing
``a``'s ``__init__`` (as in import-linter).
"""

from __future__ import annotations

import re

from tests._imports import ROOT, find_cycle, imported_modules, imports_in, is_under, module_name

ARCHITECTURE = ROOT.parent / "docs" / "architecture.md"

#: What each part of the package may import besides itself, floor by floor from the
#: bottom. ``envs.*`` is every env family (each imports its own package only); ``mtenvs``
#: is the package's ``__init__`` (importing it registers every env id).
FLOORS: dict[str, frozenset[str]] = {
    "error": frozenset(),
    "_version": frozenset(),
    "core": frozenset({"error"}),
    "sandbox": frozenset({"error", "_version"}),
    "envs.*": frozenset({"core", "sandbox", "error"}),
    "envs": frozenset({"envs.*"}),
    "games": frozenset({"envs.games"}),
    "mtenvs": frozenset({"core", "envs", "_version", "error"}),
    "wrappers": frozenset({"core", "error"}),
    "agents": frozenset({"core", "error"}),
    "rollout": frozenset({"core", "error", "agents", "wrappers", "mtenvs", "envs.games"}),
    "eval": frozenset({"core", "error", "agents", "rollout", "wrappers", "mtenvs"}),
    "integrations": frozenset({"core", "error", "agents", "rollout", "wrappers", "mtenvs"}),
    "cli": frozenset(
        {"core", "error", "agents", "rollout", "eval", "sandbox", "wrappers", "mtenvs"}
    ),
}


def graph() -> dict[str, set[str]]:
    """Every module of the package and the package's modules it imports."""
    paths = {module_name(p): p for p in ROOT.rglob("*.py") if "_sandboxes" not in p.parts}
    return {m: (imported_modules(p) & set(paths)) - {m} for m, p in paths.items()}


def part(module: str) -> str:
    """``envs.<family>`` for an env family's modules, ``envs`` for that package itself,
    else the name under ``mtenvs`` (``mtenvs`` for the package's ``__init__``)."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "envs":
        return f"envs.{parts[2]}"
    return parts[1] if len(parts) > 1 else "mtenvs"


def may_import(source: str, target: str) -> bool:
    floor = FLOORS["envs.*" if source.startswith("envs.") else source]
    return target in floor or (target.startswith("envs.") and "envs.*" in floor)


def floors_in_the_picture(text: str) -> set[str]:
    """The part names drawn on the floor lines of the page's picture."""
    lines = re.findall(r"^ floor \d +(.*)$|^ {11}(\S.*)$", text, flags=re.MULTILINE)
    return set(re.findall(r"[a-z_]+", " ".join(a or b for a, b in lines)))


def test_no_import_circle_anywhere_in_the_package() -> None:
    found = find_cycle(graph())
    assert found is None, " -> ".join(found or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_part_has_a_floor() -> None:
    parts = {part(m) for m in graph()}
    missing = sorted(p for p in parts if p not in FLOORS and not p.startswith("envs."))
    assert missing == [], f"add {missing} to FLOORS (and to docs/architecture.md)"


def test_every_part_imports_only_the_floors_below_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if part(module) != part(target) and not may_import(part(module), part(target))
    )
    assert wrong == []


def test_the_floor_rules_refuse_what_they_should() -> None:
    assert may_import("envs.grid", "core") and may_import("envs", "envs.web")
    assert not may_import("envs.grid", "agents")
    assert not may_import("envs.grid", "envs.web")  # a family stands on its own
    assert not may_import("core", "envs.grid") and not may_import("agents", "rollout")
    assert part("mtenvs.envs.web.miniwob") == "envs.web" and part("mtenvs.envs") == "envs"


def packages() -> list[str]:
    """Every package folder under ``mtenvs/``, as ``envs/web/``."""
    return sorted(
        f"{p.parent.relative_to(ROOT).as_posix()}/"
        for p in ROOT.rglob("__init__.py")
        if p.parent != ROOT and "_sandboxes" not in p.parts
    )


def unnamed(text: str) -> list[str]:
    """The packages ``text`` names neither by path (``envs/web/``) nor as a folder of the
    tree (``web/``)."""

    def named(package: str) -> bool:
        last = package.split("/")[-2]
        return any(re.search(rf"(?<![\w/]){re.escape(n)}", text) for n in (package, f"{last}/"))

    return [p for p in packages() if not named(p)]


def test_docs_architecture_names_every_package() -> None:
    text = ARCHITECTURE.read_text()
    assert unnamed(text) == [], f"docs/architecture.md does not name {unnamed(text)}"
    assert unnamed(text.replace("puzzles/", "puzzles")) == ["envs/puzzles/"]


def test_docs_architecture_draws_every_floor() -> None:
    drawn = floors_in_the_picture(ARCHITECTURE.read_text())
    assert {"core", "envs", "rollout"} <= drawn
    assert sorted(set(FLOORS) - drawn - {"envs.*", "mtenvs"}) == []


#: Packages above the envs (for the walker's test).
ABOVE = ("mtenvs.agents", "mtenvs.rollout")


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
    assert sorted(m for m in found if is_under(m, ABOVE)) == [
        "mtenvs.agents",
        "mtenvs.rollout.engine",
    ]
    assert "mtenvs.envs.grid.maze_rules" in imports_in(
        "from .maze_rules import x", "mtenvs.envs.grid", is_package=True
    )
