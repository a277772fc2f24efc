"""Read an env class docstring written in the STYLE.md format (MiniGrid-style sections).

The docs' env cards are generated from these docstrings, and a test checks the documented
info keys and ids against what the code really returns, so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

__all__ = ["EnvDoc", "parse_env_doc"]

_HEADING = re.compile(r"^#{2,3}\s+(.+?)\s*$", re.MULTILINE)
_FIRST_CELL_KEY = re.compile(r"^\|\s*`([^`]+)`")
_ENV_ID = re.compile(r"`(mtenvs/[A-Za-z0-9][A-Za-z0-9-]*-v\d+)`")


@dataclass(frozen=True)
class EnvDoc:
    """The parts of an env docstring: its summary line and ``## Section`` bodies."""

    summary: str
    sections: dict[str, str]

    def section(self, prefix: str) -> str:
        """Body of the first section whose title starts with ``prefix`` (case-insensitive)."""
        for title, body in self.sections.items():
            if title.lower().startswith(prefix.lower()):
                return body
        return ""

    def table_keys(self, prefix: str) -> list[str]:
        """Backticked names in the first column of the section's Markdown table."""
        keys = []
        for line in self.section(prefix).splitlines():
            match = _FIRST_CELL_KEY.match(line.strip())
            if match:
                keys.append(match.group(1))
        return keys

    @property
    def one_line(self) -> str:
        """The summary's first paragraph on one line."""
        return " ".join(self.summary.split("\n\n", 1)[0].split())

    @property
    def info_keys(self) -> list[str]:
        return self.table_keys("Info")

    @property
    def registered_ids(self) -> list[str]:
        return _ENV_ID.findall(self.section("Registered"))


def parse_env_doc(cls: type) -> EnvDoc:
    """Parse ``cls.__doc__`` into an :class:`EnvDoc`."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    parts = _HEADING.split(doc)
    summary = parts[0].strip()
    sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return EnvDoc(summary=summary, sections=sections)
