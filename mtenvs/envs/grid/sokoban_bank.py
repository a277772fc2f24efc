"""The shipped bank of Sokoban training levels: a cache of the generator's own output.

Generating a level (carve, reverse-play, prove optimal with the solver) costs milliseconds;
a reset should not. For each difficulty the bank holds the train-split levels that
``reset(seed=s)`` plays for the first :data:`BANK_SEEDS` seeds ``s``, exactly as
:func:`~mtenvs.envs.grid.sokoban_tasks.generate_task` makes them (same index, rows and
optimal solution), so a banked reset plays the same level as a generated one. Any other
index is generated as before.

Files: ``mtenvs/assets/grid/sokoban_bank_<difficulty>.txt.gz``, one level a line,
``index<TAB>rows joined by '/'<TAB>solution`` (LURD; its length is the optimal length),
after one ``#`` header line. Written and checked by ``scripts/build_sokoban_bank.py``.

Lines of the difficulties in :data:`TABLE_DIFFICULTIES` carry a fourth field: the level's
full solver table (:meth:`~mtenvs.envs.grid.sokoban_solver.SokobanSolver.pack_table`,
base64), the solver's own output for that level too. Building it is most of a reset onto a
new level (a backward search over every state, about 100 µs for an easy level); reading it
costs a fifth of that. Harder levels' tables are thousands of states each: not shipped.
"""

from __future__ import annotations

import base64
import gzip
from functools import cache
from importlib import resources
from typing import Final

import numpy as np

__all__ = [
    "BANK_SEEDS",
    "BANK_SPLIT",
    "TABLE_DIFFICULTIES",
    "bank_header",
    "banked_level",
    "banked_table",
    "load_bank",
    "seed_index",
]

#: Seeds ``0 .. BANK_SEEDS - 1`` of each difficulty are banked.
BANK_SEEDS: Final = 2048
#: Only training levels are banked (the test split has its fixed eval sets).
BANK_SPLIT: Final = "train"
BANK_VERSION: Final = 1
#: Difficulties whose bank lines carry the level's packed solver table.
TABLE_DIFFICULTIES: Final = ("easy",)
_ROW_SEP: Final = "/"


def seed_index(seed: int) -> int:
    """The level index ``reset(seed=seed)`` draws: the first draw of the env's
    ``np_random`` seeded with ``seed`` (Gymnasium's seeding, see ``task_source``)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    return int(rng.integers(2**31))


def bank_header(difficulty: str, seeds: int = BANK_SEEDS) -> str:
    return (
        f"# mtenvs sokoban bank v{BANK_VERSION} difficulty={difficulty} split={BANK_SPLIT} "
        f"seeds=0-{seeds - 1}"
    )


def format_entry(
    index: int, rows: tuple[str, ...], solution: str, table: bytes | None = None
) -> str:
    """One line of a bank file (``table``: the packed solver table, if shipped)."""
    line = f"{index}\t{_ROW_SEP.join(rows)}\t{solution}"
    return line if table is None else f"{line}\t{base64.b64encode(table).decode('ascii')}"


def bank_resource(difficulty: str) -> resources.abc.Traversable:
    return resources.files("mtenvs").joinpath(f"assets/grid/sokoban_bank_{difficulty}.txt.gz")


@cache
def load_bank(difficulty: str) -> dict[int, str]:
    """``index -> line`` of the bank of ``difficulty`` (empty when no bank ships); lines are
    parsed one at a time, when played."""
    try:
        data = bank_resource(difficulty).read_bytes()
    except FileNotFoundError:
        return {}
    lines = gzip.decompress(data).decode("ascii").splitlines()
    if not lines or not lines[0].startswith(f"# mtenvs sokoban bank v{BANK_VERSION} "):
        raise ValueError(f"unreadable Sokoban bank for {difficulty!r}: bad header")
    return {int(line[: line.index("\t")]): line for line in lines[1:]}


def banked_level(difficulty: str, index: int) -> tuple[tuple[str, ...], str] | None:
    """``(rows, solution)`` of train level ``index`` if banked, else ``None``."""
    line = load_bank(difficulty).get(index)
    if line is None:
        return None
    _, rows, solution, *_ = line.split("\t")
    return tuple(rows.split(_ROW_SEP)), solution


def banked_table(difficulty: str, index: int, rows: tuple[str, ...]) -> bytes | None:
    """The packed solver table of train level ``index`` if the bank ships one for a level
    with these ``rows`` (see :meth:`SokobanSolver.load_table`), else ``None``."""
    line = load_bank(difficulty).get(index)
    if line is None:
        return None
    fields = line.split("\t")
    if len(fields) < 4 or fields[1] != _ROW_SEP.join(rows):
        return None
    return base64.b64decode(fields[3])
