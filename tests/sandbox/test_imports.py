"""mtenvs.sandbox has no import circle (function-local imports included), and its modules
do not import the ``mtenvs`` package itself (which registers every env family)."""

from __future__ import annotations

from tests._imports import ROOT, find_cycle, imported_modules, package_graph

PACKAGE = "mtenvs.sandbox"


def test_no_import_circle_in_the_sandbox_package() -> None:
    graph = package_graph(PACKAGE)
    assert f"{PACKAGE}.engine" in graph and graph[f"{PACKAGE}.engine"] <= {f"{PACKAGE}.base"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_sandbox_module_imports_the_whole_package() -> None:
    folder = ROOT / "sandbox"
    offenders = sorted(p.name for p in folder.glob("*.py") if "mtenvs" in imported_modules(p))
    assert offenders == []
