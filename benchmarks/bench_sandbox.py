"""Sandbox speed and scale: warm round trips, pooled acquire vs cold start, memory, capacity.

Standalone (needs only mtenvs, the docker SDK and a built image; `make bench` or
`.venv/bin/python benchmarks/bench_sandbox.py`). Prints a rich table with medians and
ratios and writes benchmarks/results/bench_sandbox.json.

Measured:
* round trip of ``print(1+1)``: DockerSandbox (attached socket), LocalSandbox (pipes),
  one ``docker exec python3 -c 'print(1+1)'`` into the same container, in-process ``exec``;
* ``SandboxPool.acquire()`` (+ release) vs a cold DockerSandbox start vs ``docker run --rm``;
* idle memory per sandbox (container cgroup usage, and host MemAvailable drop / N);
* the most concurrent sandboxes this machine holds (stops at --max-sandboxes, when
  MemAvailable < --min-free-gib, or after --capacity-time-s; everything is removed after).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "bench_sandbox.json"


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def med_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def container_memory(client, cid: str) -> int | None:
    for path in (
        f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current",
        f"/sys/fs/cgroup/docker/{cid}/memory.current",
    ):
        with contextlib.suppress(OSError):
            return int(Path(path).read_text())
    stats = client.api.stats(cid, stream=False)
    return stats.get("memory_stats", {}).get("usage")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="round trips per backend")
    ap.add_argument("--max-sandboxes", type=int, default=200)
    ap.add_argument("--min-free-gib", type=float, default=4.0)
    ap.add_argument("--capacity-time-s", type=float, default=240.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    import mtenvs
    from mtenvs.sandbox import LocalSandbox, SandboxPool
    from mtenvs.sandbox.docker_sandbox import DockerSandbox
    from mtenvs.sandbox.engine import docker_client
    from mtenvs.sandbox.images import image_tag
    from mtenvs.sandbox.reaper import reap

    console = Console()
    client = docker_client()
    image = image_tag("python")
    rows: dict[str, dict] = {}

    def add(name: str, xs: list[float], note: str = "") -> None:
        rows[name] = {
            "median_ms": med_ms(xs),
            "p90_ms": sorted(xs)[int(len(xs) * 0.9)] * 1000,
            "n": len(xs),
            "note": note,
        }

    console.print("[bold]round trips[/] ...")
    ns: dict = {}
    sink = io.StringIO()
    code = compile("print(1+1)", "<bench>", "exec")

    def in_process() -> None:
        with contextlib.redirect_stdout(sink):
            exec(code, ns)

    add("in-process exec", timed(in_process, args.n))
    with DockerSandbox() as sb:
        sb.run("1")
        add("DockerSandbox.run (warm)", timed(lambda: sb.run("print(1+1)"), args.n))
        exec_n = max(20, args.n // 10)
        add(
            "docker exec python3 -c (same container)",
            timed(
                lambda: client.api.exec_start(
                    client.api.exec_create(sb.container_id, ["python3", "-c", "print(1+1)"])
                ),
                exec_n,
            ),
        )
        add(
            "docker exec true (same container)",
            timed(
                lambda: client.api.exec_start(client.api.exec_create(sb.container_id, ["true"])),
                exec_n,
            ),
        )
    with LocalSandbox() as lsb:
        lsb.run("1")
        add("LocalSandbox.run (warm)", timed(lambda: lsb.run("print(1+1)"), args.n))

    console.print("[bold]acquire vs cold start[/] ...")
    with SandboxPool(2, backend="docker") as pool:

        def acquire_release() -> None:
            pool.acquire().close()
            pool.wait_ready()  # let the background reset finish outside the timing

        xs = []
        for _ in range(50):
            t = time.perf_counter()
            lease = pool.acquire()
            xs.append(time.perf_counter() - t)
            lease.run("print(1+1)")
            lease.close()
            pool.wait_ready()
        add("SandboxPool.acquire (docker)", xs, f"cold acquires: {pool.stats['cold_acquires']}")
    cold = []
    for _ in range(10):
        t = time.perf_counter()
        s = DockerSandbox()
        s.run("print(1+1)")
        cold.append(time.perf_counter() - t)
        s.close()
    add("cold DockerSandbox start + run", cold)
    add(
        "cold docker run --rm python3 -c",
        timed(
            lambda: client.containers.run(
                image, entrypoint=["python3", "-c", "print(1+1)"], remove=True, network_mode="none"
            ),
            10,
        ),
    )

    console.print("[bold]idle memory and capacity[/] ...")
    reap()
    base_free = mem_available()
    boxes: list[DockerSandbox] = []
    stop_reason = f"reached --max-sandboxes {args.max_sandboxes}"
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(4) as ex:
            while len(boxes) < args.max_sandboxes:
                if mem_available() < args.min_free_gib * 2**30:
                    stop_reason = f"MemAvailable below {args.min_free_gib} GiB"
                    break
                if time.monotonic() - start > args.capacity_time_s:
                    stop_reason = f"time cap {args.capacity_time_s:.0f} s"
                    break
                batch = min(8, args.max_sandboxes - len(boxes))
                try:
                    new = list(ex.map(lambda _: DockerSandbox(), range(batch)))
                except Exception as e:  # the machine said no: that is the capacity
                    stop_reason = f"start failed: {type(e).__name__}: {e}"[:120]
                    break
                boxes += new
        alive = sum(1 for b in boxes if b.run("1+1").value == "2")
        time.sleep(2)
        used = base_free - mem_available()
        sample = [container_memory(client, b.container_id) for b in boxes[:20]]
        sample = [m for m in sample if m]
    finally:
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda b: b.close(), boxes))
        reap(everything=False)
    capacity = {
        "sandboxes": alive,
        "stop_reason": stop_reason,
        "seconds": time.monotonic() - start,
        "host_mem_per_sandbox_mib": used / max(len(boxes), 1) / 2**20,
        "cgroup_mem_per_sandbox_mib": (statistics.median(sample) / 2**20) if sample else None,
    }

    rt = rows["DockerSandbox.run (warm)"]["median_ms"]
    ratios = {
        "docker exec / DockerSandbox.run": rows["docker exec python3 -c (same container)"][
            "median_ms"
        ]
        / rt,
        "docker exec true / DockerSandbox.run": rows["docker exec true (same container)"][
            "median_ms"
        ]
        / rt,
        "cold start / pooled acquire": rows["cold DockerSandbox start + run"]["median_ms"]
        / rows["SandboxPool.acquire (docker)"]["median_ms"],
        "docker run --rm / pooled acquire": rows["cold docker run --rm python3 -c"]["median_ms"]
        / rows["SandboxPool.acquire (docker)"]["median_ms"],
    }
    table = Table(
        title=f"mtenvs {mtenvs.__version__} sandbox benchmark "
        f"({os.cpu_count()} CPUs, {platform.python_version()})"
    )
    for col in ("measurement", "median", "p90", "n", "note"):
        table.add_column(col, justify="right" if col in ("median", "p90", "n") else "left")
    for name, r in rows.items():
        table.add_row(
            name, f"{r['median_ms']:.3f} ms", f"{r['p90_ms']:.3f} ms", str(r["n"]), r["note"]
        )
    for name, value in ratios.items():
        target = (
            " (target ≥ 10×)"
            if name in ("docker exec / DockerSandbox.run", "cold start / pooled acquire")
            else ""
        )
        table.add_row(f"ratio: {name}", f"{value:,.0f}×", "", "", target)
    table.add_row(
        "idle memory / sandbox (cgroup)",
        f"{capacity['cgroup_mem_per_sandbox_mib']:.1f} MiB"
        if capacity["cgroup_mem_per_sandbox_mib"]
        else "n/a",
        "",
        "",
        "",
    )
    table.add_row(
        "idle memory / sandbox (host)",
        f"{capacity['host_mem_per_sandbox_mib']:.1f} MiB",
        "",
        "",
        "MemAvailable drop / N (incl. shim)",
    )
    table.add_row(
        "concurrent sandboxes held",
        str(capacity["sandboxes"]),
        "",
        "",
        f"stopped: {capacity['stop_reason']} after {capacity['seconds']:.0f} s",
    )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "version": mtenvs.__version__,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "mem_total_gib": os.sysconf("SC_PAGE_SIZE")
                    * os.sysconf("SC_PHYS_PAGES")
                    / 2**30,
                },
                "round_trips": rows,
                "ratios": ratios,
                "capacity": capacity,
            },
            indent=2,
        )
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
