"""mtenvs.envs.code has no import circle (function-local imports included): the task
record is :mod:`~mtenvs.envs.code.code_task`, which the catalogue (``code_tasks``) and
the variants both build on."""

from __future__ import annotations

from tests._imports import find_cycle, package_graph

PACKAGE = "mtenvs.envs.code"


def test_no_import_circle_in_the_code_package() -> None:
    graph = package_graph(PACKAGE)
    assert f"{PACKAGE}.code_variants" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_variants_build_on_the_record_not_the_catalogue() -> None:
    graph = package_graph(PACKAGE)
    assert f"{PACKAGE}.code_task" in graph[f"{PACKAGE}.code_variants"]
    assert f"{PACKAGE}.code_tasks" not in graph[f"{PACKAGE}.code_variants"]
