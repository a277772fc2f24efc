"""How mtenvs.envs.code hangs together (tests/test_import_graph.py checks that it has
no import circle): the task record is :mod:`~mtenvs.envs.code.code_task`, which the
catalogue (``code_tasks``) and the variants both build on."""

from __future__ import annotations

from tests._imports import package_graph

PACKAGE = "mtenvs.envs.code"


def test_the_variants_build_on_the_record_not_the_catalogue() -> None:
    graph = package_graph(PACKAGE)
    assert f"{PACKAGE}.code_task" in graph[f"{PACKAGE}.code_variants"]
    assert f"{PACKAGE}.code_tasks" not in graph[f"{PACKAGE}.code_variants"]
