"""mtenvs.sandbox has no import circle (function-local imports included), and its modules
do not import the ``mtenvs`` package itself (which registers every env family)."""

from __future__ import annotations

import ast
from pathlib import Path

import mtenvs.sandbox

PACKAGE = "mtenvs.sandbox"
FOLDER = Path(mtenvs.sandbox.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        PACKAGE if p.stem == "__init__" else f"{PACKAGE}.{p.stem}": p for p in FOLDER.glob("*.py")
    }
    return {m: (_imports(p) & set(modules)) - {m} for m, p in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or ``None``."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_no_import_circle_in_the_sandbox_package() -> None:
    graph = _graph()
    assert f"{PACKAGE}.engine" in graph and graph[f"{PACKAGE}.engine"] <= {f"{PACKAGE}.base"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_sandbox_module_imports_the_whole_package() -> None:
    offenders = sorted(p.name for p in FOLDER.glob("*.py") if "mtenvs" in _imports(p))
    assert offenders == []
