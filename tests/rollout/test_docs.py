"""docs/rollouts.md's Python examples run: every block, in order, in one namespace (later
blocks may use what earlier ones defined), in a scratch folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rollouts.md"


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown page (indented ones de-indented)."""
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.M | re.S):
        indent = len(match.group(1))
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return blocks


def test_the_page_has_the_examples():
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) >= 6
    text = "\n".join(blocks)
    needed_examples = ("TryAgain(", 'obs_mode": "text+image"', "ContextSummary(", "Branching(")
    for needed in (*needed_examples, "to_hf_dataset"):
        assert needed in text


@pytest.mark.timeout(300)
def test_every_python_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_rollouts"}
    for i, block in enumerate(python_blocks(PAGE.read_text())):
        code = compile(block, f"{PAGE.name} block {i}", "exec")
        exec(code, namespace)
