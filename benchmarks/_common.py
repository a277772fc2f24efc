"""Shared helpers for the speed benchmarks: timing statistics, machine facts, versions,
JSON output and the rich table.

Imported both by the orchestrator (the project's ``.venv``) and by peer workers (the
``.venv-bench`` venv, which has neither ``mtenvs`` nor ``gymnasium``): only the standard
library at module level; ``rich`` is imported where the table is printed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "THREAD_ENV_VARS",
    "fmt_ratio",
    "fmt_us",
    "machine_info",
    "package_versions",
    "percentile",
    "print_table",
    "summarize_ns",
    "utc_timestamp",
    "write_json",
]

#: Variables that change numeric libraries' speed; recorded in the results, never changed.
THREAD_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_ns(samples_ns: Iterable[int]) -> dict[str, float]:
    """Median, p10, p90, p99, mean, min and max in microseconds, plus the count ``n``."""
    values = sorted(s / 1000.0 for s in samples_ns)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_us": percentile(values, 50),
        "p10_us": percentile(values, 10),
        "p90_us": percentile(values, 90),
        "p99_us": percentile(values, 99),
        "mean_us": sum(values) / len(values),
        "min_us": values[0],
        "max_us": values[-1],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Facts about the machine and interpreter that a timing depends on."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else None,
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
    }


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def utc_timestamp() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", "utf-8")


def fmt_us(value: float | None) -> str:
    """A microsecond figure for the table: 3 significant digits, thousands separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio for the table, e.g. ``12.3×``."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.1f}×" if value >= 10 else f"{value:.2f}×"


def print_table(
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[str]],
    sections: Sequence[int] = (),
) -> None:
    """Print a table with rich; ``columns`` are ``(header, justify)``; only the last column
    wraps; a rule is drawn before each row index in ``sections``."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for i, (header, justify) in enumerate(columns):
        table.add_column(
            escape(header),
            justify=justify,
            no_wrap=i < len(columns) - 1,  # type: ignore[arg-type]
        )
    for i, row in enumerate(rows):
        # Cells are plain text: "[up]" is a TextArena reply, not rich markup.
        table.add_row(*(escape(cell) for cell in row), end_section=(i + 1) in sections)
    console = Console()
    # Piped output (make, CI logs) defaults to 80 columns; the table needs about 190.
    Console(width=None if console.is_terminal else 190).print(table)
