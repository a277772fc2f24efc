"""Shared helpers for the speed benchmarks: timing statistics, machine facts, versions,
JSON output and the rich table.

Imported both by the orchestrator (the project's ``.venv``) and by peer workers (the
``.venv-bench`` venv, which has neither ``mtenvs`` nor ``gymnasium``): only the standard
library at module level; ``rich`` is imported where the table is printed.

Peer workers: an orchestrator runs its own script again as
``.venv-bench/bin/python -W ignore SCRIPT --worker PEER --json-out FILE …`` through
:func:`run_peer_worker`; the worker measures and ends with :func:`write_worker_payload`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BENCH_PYTHON",
    "PEER_WORKER_ENV",
    "RESULTS_DIR",
    "THREAD_ENV_VARS",
    "add_peer_options",
    "check_peer_options",
    "cli_flags",
    "fmt_ratio",
    "fmt_us",
    "machine_info",
    "package_versions",
    "percentile",
    "print_table",
    "results_path",
    "run_main",
    "run_peer_worker",
    "summarize_ns",
    "utc_timestamp",
    "versions_record",
    "write_json",
    "write_worker_payload",
]

#: Where the benchmarks write their JSON (``benchmarks/results``).
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: The peers' interpreter (``benchmarks/setup_peers.sh`` builds its venv).
DEFAULT_BENCH_PYTHON = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "python"

#: Environment additions for a peer worker: pygame (pulled in by some peers) stays quiet
#: and headless, and peers' deprecation warnings stay out of the captured output.
PEER_WORKER_ENV = {
    "SDL_VIDEODRIVER": "dummy",
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
    "PYTHONWARNINGS": "ignore",
}

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


def results_path(benchmark: str, *, quick: bool, out: str | None = None) -> Path:
    """``out`` when given, else ``RESULTS_DIR/<benchmark>.json`` (``<benchmark>_quick.json``
    for a ``--quick`` run)."""
    if out:
        return Path(out)
    return RESULTS_DIR / (f"{benchmark}_quick.json" if quick else f"{benchmark}.json")


def versions_record(ours: Iterable[str], peer_meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON's ``versions``: our distributions' versions, and the peers' venv as its
    worker reported it (see :func:`write_worker_payload`; ``None``s when no worker ran)."""
    return {
        "ours": package_versions(ours),
        "peers": peer_meta.get("versions"),
        "peer_python": peer_meta.get("python"),
        "peer_executable": peer_meta.get("executable"),
    }


def write_worker_payload(
    path: str | Path, peer: str, rows: Iterable[Any], packages: Iterable[str]
) -> None:
    """Worker side: write the measured ``rows`` (dataclasses) and the worker's interpreter
    and package versions to ``path`` as JSON, for :func:`run_peer_worker` to read."""
    payload = {
        "peer": peer,
        "rows": [asdict(r) for r in rows],
        "versions": package_versions(packages),
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }
    Path(path).write_text(json.dumps(payload), "utf-8")


def add_peer_options(
    parser: argparse.ArgumentParser, benchmark: str, peers: Sequence[str], *, peer_timeout: float
) -> None:
    """The options of a benchmark that runs peers in their own venv: ``--peers``,
    ``--bench-python``, ``--peer-timeout``, ``--out``, ``--strict``, and the internal
    ``--worker PEER`` and ``--json-out`` of a worker run; see :func:`check_peer_options`."""
    parser.add_argument(
        "--peers",
        default=",".join(peers),
        help=f"comma-separated peers to run, '' for none (default {','.join(peers)})",
    )
    parser.add_argument(
        "--bench-python",
        default=str(DEFAULT_BENCH_PYTHON),
        help="interpreter of the peers' venv (default .venv-bench/bin/python)",
    )
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=peer_timeout,
        help=f"seconds one peer worker may run (default {peer_timeout:g})",
    )
    parser.add_argument("--out", help=f"JSON path (default benchmarks/results/{benchmark}.json)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any row failed")
    parser.add_argument("--worker", choices=peers, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)


def check_peer_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, peers: Sequence[str]
) -> None:
    """Turn ``args.peers`` into a list, each one of ``peers`` (else exit naming them), and
    make sure a ``--worker`` run has its ``--json-out``."""
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    for peer in args.peers:
        if peer not in peers:
            parser.error(f"unknown peer {peer!r}; choose from {', '.join(peers)}")
    if args.worker and not args.json_out:
        parser.error("--worker needs --json-out")


def run_main(
    args: argparse.Namespace,
    worker: Callable[[argparse.Namespace], None],
    orchestrator: Callable[[argparse.Namespace], int],
) -> int:
    """A peer benchmark's entry point: with ``--worker``, ``worker(args)`` (exit status 0),
    else the exit status of ``orchestrator(args)``."""
    if args.worker:
        worker(args)
        return 0
    return orchestrator(args)


def cli_flags(**options: object) -> list[str]:
    """Command-line flags for a worker: ``cli_flags(max_turns=10, dim_room=(6, 6))`` is
    ``["--max-turns", "10", "--dim-room", "6", "6"]`` (a tuple or list: one value each)."""
    argv: list[str] = []
    for name, value in options.items():
        values = value if isinstance(value, (tuple, list)) else (value,)
        argv += [f"--{name.replace('_', '-')}", *(str(v) for v in values)]
    return argv


def run_peer_worker(
    script: str | Path,
    python: str | Path,
    peer: str,
    worker_args: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    echo_prefix: str | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Run ``python -W ignore script --worker peer --json-out FILE *worker_args`` (with
    :data:`PEER_WORKER_ENV`) and read the payload it wrote with :func:`write_worker_payload`.

    Returns ``(payload, None)``, or ``(None, reason)`` when the interpreter is missing, the
    worker fails or runs past ``timeout`` seconds: ``reason`` is the error text for the
    peer's rows. The worker's output lines starting with ``echo_prefix`` (its progress
    lines; its stdout also catches the peers' prints) are echoed to stderr.
    """
    python = Path(python)
    if not python.exists():
        return None, f"{python} not found; run benchmarks/setup_peers.sh first."
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{peer}.json"
        cmd = [
            str(python),
            "-W",
            "ignore",
            str(script),
            "--worker",
            peer,
            "--json-out",
            str(out),
            *worker_args,
        ]
        print(f"peer {peer}: {python}", file=sys.stderr, flush=True)
        try:
            proc = subprocess.run(
                cmd,
                env={**os.environ, **PEER_WORKER_ENV},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None, f"worker ran past --peer-timeout {timeout:g}s"
        if proc.returncode != 0 or not out.exists():
            return None, f"worker exited {proc.returncode}: {proc.stdout[-600:].strip()}"
        if echo_prefix is not None:
            for line in proc.stdout.splitlines():
                if line.startswith(echo_prefix):
                    print(line, file=sys.stderr)
        payload: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return payload, None


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
