"""Read an env class docstring written in the STYLE.md format (MiniGrid-style sections).

The docs' env cards are generated from these docstrings, and a test checks the documented
info keys, arguments and ids against what the code really returns, so the two cannot drift
apart. An env's docstring lists only its own arguments (and a common one where it means
something more there); the rows of the common arguments it takes
(:mod:`mtenvs.core.args`) are generated here, from the base class's defaults and the env
class's observation and render modes.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from enum import Enum

from mtenvs.core.args import ARGUMENT_DOCS, constructor_arguments
from mtenvs.core.env import MultiTurnEnv

__all__ = ["EnvDoc", "common_argument_rows", "parse_env_doc"]

_HEADING = re.compile(r"^#{2,3}\s+(.+?)\s*$", re.MULTILINE)
_FIRST_CELL_KEY = re.compile(r"^\|\s*`([^`]+)`")
_ENV_ID = re.compile(r"`(mtenvs/[A-Za-z0-9][A-Za-z0-9-]*-v\d+)`")


@dataclass(frozen=True)
class EnvDoc:
    """The parts of an env docstring: its summary line and ``## Section`` bodies (the
    common arguments' rows included); ``text`` is the whole, as the env card shows it."""

    summary: str
    sections: dict[str, str]
    text: str

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
    """Parse ``cls.__doc__`` into an :class:`EnvDoc`, adding the rows of the common
    arguments that an env class takes and does not document itself."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    if issubclass(cls, MultiTurnEnv):
        doc = _with_common_arguments(doc, common_argument_rows(cls))
    parts = _HEADING.split(doc)
    summary = parts[0].strip()
    sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return EnvDoc(summary=summary, sections=sections, text=doc)


def common_argument_rows(cls: type[MultiTurnEnv]) -> dict[str, str]:
    """The Markdown table row of each common argument ``cls`` takes, by name, in the order
    of :data:`~mtenvs.core.args.ARGUMENT_DOCS`."""
    takes = constructor_arguments(cls)
    base = inspect.signature(MultiTurnEnv.__init__).parameters
    rows = {}
    for name, description in ARGUMENT_DOCS.items():
        if name not in takes:
            continue
        default = _literal(base[name].default)
        if name == "max_turns":
            default = _literal(cls.default_max_turns)
        elif name == "split":
            default = '`"train"`' + (' (`"test"` with `eval_set`)' if "eval_set" in takes else "")
        text = description.format(
            obs_modes=_obs_modes(cls.supported_obs_modes()),
            render_modes=_render_modes(cls.metadata.get("render_modes", [])),
        )
        rows[name] = f"| `{name}` | {default} | {text} |"
    return rows


_RENDERED = {"ansi": "the text picture", "rgb_array": "the image"}


def _literal(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    return f'`"{value}"`' if isinstance(value, str) else f"`{value!r}`"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _obs_modes(modes: tuple[str, ...]) -> str:
    return "only `text`" if tuple(modes) == ("text",) else _either([f"`{m}`" for m in modes])


def _render_modes(modes: list[str]) -> str:
    return _either([f"`{m}` ({_RENDERED[m]})" for m in modes if m in _RENDERED])


def _with_common_arguments(doc: str, rows: dict[str, str]) -> str:
    """``doc`` with ``rows`` added to its ``## Arguments`` table, leaving out the arguments
    the table already has (a row an env writes itself overrides the generated one)."""
    headings = list(_HEADING.finditer(doc))
    for i, heading in enumerate(headings):
        if heading.group(1).lower().startswith("argument"):
            end = headings[i + 1].start() if i + 1 < len(headings) else len(doc)
            lines = doc[heading.end() : end].split("\n")
            documented = {m.group(1) for m in map(_FIRST_CELL_KEY.match, lines) if m}
            added = [row for name, row in rows.items() if name not in documented]
            last = max((j for j, line in enumerate(lines) if line.startswith("|")), default=0)
            lines[last + 1 : last + 1] = added
            return doc[: heading.end()] + "\n".join(lines) + doc[end:]
    if not rows:
        return doc
    table = ["| Argument | Default | Description |", "|---|---|---|", *rows.values()]
    return doc + "\n\n## Arguments\n" + "\n".join(table)
