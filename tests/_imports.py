"""Import graphs read from the source with ``ast``: every import counts, function-local
and relative ones included (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import mtenvs

#: The ``mtenvs`` package folder.
ROOT = Path(mtenvs.__file__).parent


def module_name(path: Path) -> str:
    """``mtenvs/envs/grid/maze.py`` → ``mtenvs.envs.grid.maze`` (a package is its folder)."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module the file at ``path`` imports (see :func:`imports_in`)."""
    return imports_in(path.read_text(), module_name(path), is_package=path.stem == "__init__")


def imports_in(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, anywhere in the file;
    ``from m import x`` gives ``m`` and ``m.x`` (``x`` may be a submodule), relative
    imports resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def is_under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def package_graph(package: str) -> dict[str, set[str]]:
    """The modules of ``package`` (one folder, e.g. ``"mtenvs.agents"``) and, for each,
    the other modules of the package it imports."""
    folder = ROOT.parent.joinpath(*package.split("."))
    modules = {module_name(p): p for p in folder.glob("*.py")}
    return {m: (imported_modules(p) & set(modules)) - {m} for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (``[a, b, a]``), or ``None``."""
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
