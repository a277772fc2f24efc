"""Write or check the shipped bank of Sokoban training levels (mtenvs/envs/grid/sokoban_bank.py).

    .venv/bin/python scripts/build_sokoban_bank.py                 # write all three banks
    .venv/bin/python scripts/build_sokoban_bank.py --check         # regenerate every entry, compare
    .venv/bin/python scripts/build_sokoban_bank.py --check --sample 50

Each entry is the generator's own output (``run_generator``: carved, reverse-played and
solved optimally by the solver) for the level index that ``reset(seed=s)`` draws, for the
first ``--seeds`` seeds; for the difficulties in ``TABLE_DIFFICULTIES`` also the level's
full solver table, packed. The files are gzip'd with a fixed mtime, so a rebuild of an
unchanged generator writes identical bytes.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mtenvs.envs.grid.sokoban_bank import (
    BANK_SEEDS,
    BANK_SPLIT,
    TABLE_DIFFICULTIES,
    bank_header,
    format_entry,
    load_bank,
    seed_index,
)
from mtenvs.envs.grid.sokoban_solver import SokobanSolver
from mtenvs.envs.grid.sokoban_tasks import DIFFICULTIES, run_generator

OUT = Path(__file__).resolve().parent.parent / "mtenvs" / "assets" / "grid"


def entry(job: tuple[str, int]) -> str:
    difficulty, index = job
    task = run_generator(difficulty, BANK_SPLIT, index)
    assert task.optimal_length == len(task.solution)
    table = None
    if difficulty in TABLE_DIFFICULTIES:
        solver = SokobanSolver(task.parsed[0])  # a fresh one: the table as a reset builds it
        if solver.use_full_table:
            table = solver.pack_table()
    return format_entry(index, task.rows, task.solution, table)


def indices(seeds: int) -> list[int]:
    """The level indices of seeds ``0 .. seeds - 1``, first occurrence kept."""
    return list(dict.fromkeys(seed_index(s) for s in range(seeds)))


def write(difficulty: str, seeds: int, jobs: int) -> None:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        lines = list(pool.map(entry, [(difficulty, i) for i in indices(seeds)], chunksize=16))
    text = "\n".join([bank_header(difficulty, seeds), *lines]) + "\n"
    path = OUT / f"sokoban_bank_{difficulty}.txt.gz"
    path.write_bytes(gzip.compress(text.encode("ascii"), compresslevel=9, mtime=0))
    print(
        f"{path}: {len(lines)} levels, {path.stat().st_size / 1024:.1f} KiB "
        f"({time.perf_counter() - t0:.0f} s)"
    )


def check(difficulty: str, seeds: int, sample: int | None, jobs: int) -> bool:
    """Regenerate the bank's entries (all, or ``sample`` at random) and compare."""
    bank = load_bank(difficulty)
    expected = indices(seeds)
    ok = sorted(bank) == sorted(expected)
    if not ok:
        print(f"{difficulty}: the bank's indices are not those of seeds 0-{seeds - 1}")
    chosen = expected if sample is None else random.Random(0).sample(expected, sample)
    with ProcessPoolExecutor(jobs) as pool:
        fresh = list(pool.map(entry, [(difficulty, i) for i in chosen], chunksize=16))
    bad = [i for i, line in zip(chosen, fresh) if bank.get(i) != line]
    print(f"{difficulty}: {len(chosen) - len(bad)}/{len(chosen)} entries match the generator")
    return ok and not bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--sample", type=int, help="with --check: entries checked per bank")
    parser.add_argument("--seeds", type=int, default=BANK_SEEDS)
    parser.add_argument("--difficulty", choices=list(DIFFICULTIES), action="append")
    parser.add_argument("--jobs", type=int, default=2, help="generator processes")
    args = parser.parse_args(argv)
    ok = True
    for difficulty in args.difficulty or list(DIFFICULTIES):
        if args.check:
            ok &= check(difficulty, args.seeds, args.sample, args.jobs)
        else:
            write(difficulty, args.seeds, args.jobs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
