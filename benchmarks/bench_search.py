"""Search engines for ``mtenvs/Search-v0``: index build time, query latency, memory, disk.

Ours (:class:`mtenvs.envs.search.engine.BM25Engine`, a Tantivy index on disk) side by side
in one run with SQLite FTS5 (stdlib ``sqlite3``, ``bm25()`` ranking), bm25s and rank_bm25,
at 10 k, 100 k and 1 M documents of the generated world
(``World.generate(WorldSpec(seed, n)).documents()``), plus the env's step overhead over a
bare ``engine.search``.

Every engine and size runs in a fresh worker process (so memory is its own): ours and FTS5
in the project's ``.venv``, bm25s and rank_bm25 in ``.venv-bench``
(``benchmarks/setup_peers.sh``). The corpus is written once per size to a JSONL file that
every worker reads before anything is timed.

Measured per row: **build** (index from the documents in memory to a searchable index;
ours and FTS5 write it to disk), **open** (a fresh handle on the built index, what each
new process pays), **query** p50/p99/mean over ``--queries`` queries (one at a time, top 5,
after up to 20 warm-up queries; an engine still answering when ``--query-budget`` seconds
are up stops there, after at least 50 queries: the row's ``n``), **peak** and **retained**
memory over the worker's size with the corpus loaded (``VmHWM`` after resetting it,
``VmRSS``), **disk**, and two quality checks: **self@5** (queries are a document's title
plus three words of its text; the share whose document is in the top 5) and **agree@5**
(mean overlap of the top 5 with ours). Sizes above an engine's cap (``--caps``; rank_bm25
scores every document in Python for each query) are skipped and say so.

    .venv/bin/python benchmarks/bench_search.py            # 10k, 100k, 1M: ~25 min, 2 cores
    .venv/bin/python benchmarks/bench_search.py --quick    # 2k and 10k, ~1 min
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_BENCH_PYTHON,
    fmt_ratio,
    fmt_us,
    machine_info,
    print_table,
    results_path,
    run_peer_worker,
    summarize_ns,
    utc_timestamp,
    write_json,
)

ENGINES = ("ours", "fts5", "bm25s", "rank_bm25")
#: Engines that run in .venv-bench.
PEER_ENGINES = ("bm25s", "rank_bm25")
DEFAULT_CAPS = {"rank_bm25": 100_000}
TOP_K = 5
WARMUP = 20
MIN_QUERIES = 50
_TOKEN = re.compile(r"[^\W_]+")


# -- worker side (stdlib + the engine's package only) ---------------------------------------


def _proc_kib(field: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _dir_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _terms(text: str) -> list[str]:
    return list(dict.fromkeys(_TOKEN.findall(text.lower())))[:32]


class _Ours:
    def __init__(self, docs: list[tuple[str, str, str]], tmp: Path) -> None:
        from mtenvs.envs.search.engine import BM25Engine
        from mtenvs.envs.search.types import Document

        self.path = tmp / "ours"
        BM25Engine.build((Document(*d) for d in docs), self.path)

    def open(self) -> None:
        from mtenvs.envs.search.engine import BM25Engine

        self.engine = BM25Engine.open(self.path)

    def search(self, query: str) -> list[str]:
        return [h.doc_id for h in self.engine.search(query, TOP_K)]

    def disk_mib(self) -> float | None:
        return _dir_mib(self.path)


class _Fts5:
    def __init__(self, docs: list[tuple[str, str, str]], tmp: Path) -> None:
        import sqlite3

        self.path = tmp / "fts5.sqlite"
        db = sqlite3.connect(self.path)
        db.execute("CREATE VIRTUAL TABLE d USING fts5(id UNINDEXED, body)")
        db.executemany("INSERT INTO d VALUES (?, ?)", ((i, f"{t} {x}") for i, t, x in docs))
        db.execute("INSERT INTO d(d) VALUES ('optimize')")
        db.commit()
        db.close()

    def open(self) -> None:
        import sqlite3

        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def search(self, query: str) -> list[str]:
        terms = _terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = "SELECT id FROM d WHERE d MATCH ? ORDER BY rank LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (match, TOP_K))]

    def disk_mib(self) -> float | None:
        return self.path.stat().st_size / 2**20


class _Bm25s:
    def __init__(self, docs: list[tuple[str, str, str]], tmp: Path) -> None:
        import bm25s

        self.bm25s = bm25s
        self.ids = [d[0] for d in docs]
        tokens = bm25s.tokenize(
            [f"{t} {x}" for _, t, x in docs], stopwords=None, show_progress=False
        )
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)

    def open(self) -> None:
        pass

    def search(self, query: str) -> list[str]:
        tokens = self.bm25s.tokenize([query], stopwords=None, show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(TOP_K, len(self.ids))
        rows, _ = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [self.ids[int(r)] for r in rows[0]]

    def disk_mib(self) -> float | None:
        return None


class _RankBm25:
    def __init__(self, docs: list[tuple[str, str, str]], tmp: Path) -> None:
        import numpy as np
        from rank_bm25 import BM25Okapi

        self.np = np
        self.ids = [d[0] for d in docs]
        self.bm25 = BM25Okapi([_TOKEN.findall(f"{t} {x}".lower()) for _, t, x in docs])

    def open(self) -> None:
        pass

    def search(self, query: str) -> list[str]:
        terms = _terms(query)
        if not terms:
            return []
        scores = self.bm25.get_scores(terms)
        top = self.np.argpartition(-scores, TOP_K)[:TOP_K]
        top = top[self.np.argsort(-scores[top])]
        return [self.ids[int(i)] for i in top if scores[i] > 0]

    def disk_mib(self) -> float | None:
        return None


_WORKERS: dict[str, Any] = {
    "ours": _Ours,
    "fts5": _Fts5,
    "bm25s": _Bm25s,
    "rank_bm25": _RankBm25,
}
_IMPORTS = {
    "ours": ["mtenvs.envs.search.engine", "tantivy"],
    "fts5": ["sqlite3"],
    "bm25s": ["bm25s", "numpy"],
    "rank_bm25": ["rank_bm25", "numpy"],
}
_PACKAGES = {
    "ours": ["tantivy"],
    "fts5": [],
    "bm25s": ["bm25s", "numpy"],
    "rank_bm25": ["rank-bm25", "numpy"],
}


def _fresh_process(args: argparse.Namespace, engine: Any, n_queries: int) -> dict[str, Any]:
    """Open the built index in a new process and run the same queries there: what one more
    env process pays (its private memory, and the index's file pages it maps and shares
    with every other process through the page cache)."""
    import subprocess

    out = Path(args.tmp) / f"probe-{args.worker}-{os.getpid()}.json"
    cmd = [sys.executable, "-W", "ignore", __file__, "--probe", args.worker]
    cmd += ["--index", str(engine.path), "--queries-file", args.queries_file]
    cmd += ["--probe-queries", str(n_queries), "--json-out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.query_budget * 3)
    if proc.returncode != 0 or not out.exists():
        return {"error": proc.stderr[-500:]}
    probe: dict[str, Any] = json.loads(out.read_text("utf-8"))
    out.unlink()
    return probe


def probe(args: argparse.Namespace) -> None:
    """``--probe ENGINE``: open an index built by a worker, run its queries, report memory."""
    queries = json.loads(Path(args.queries_file).read_text("utf-8"))[: args.probe_queries]
    for module in _IMPORTS[args.probe]:
        importlib.import_module(module)
    anon, file = _proc_kib("RssAnon"), _proc_kib("RssFile") + _proc_kib("RssShmem")
    engine = _WORKERS[args.probe].__new__(_WORKERS[args.probe])
    engine.path = Path(args.index)
    start = time.perf_counter()
    engine.open()
    open_ms = (time.perf_counter() - start) * 1000
    for q in queries:
        engine.search(q["query"])
    record = {
        "open_ms": open_ms,
        "queries": len(queries),
        "private_mib": (_proc_kib("RssAnon") - anon) / 1024,
        "shared_file_mib": (_proc_kib("RssFile") + _proc_kib("RssShmem") - file) / 1024,
    }
    Path(args.json_out).write_text(json.dumps(record), "utf-8")


def worker(args: argparse.Namespace) -> None:
    """Build, open and query one engine over the corpus file; write the payload JSON."""
    from importlib import metadata

    docs = []
    with open(args.corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs.append((d["id"], d["title"], d["text"]))
    queries = json.loads(Path(args.queries_file).read_text("utf-8"))
    # Imported before the memory baseline: a library's code is not its index's memory.
    for module in _IMPORTS[args.worker]:
        importlib.import_module(module)
    base_kib = _proc_kib("VmRSS")
    peak_ok = _reset_peak()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        start = time.perf_counter()
        engine = _WORKERS[args.worker](docs, Path(tmp))
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        engine.open()
        open_ms = (time.perf_counter() - start) * 1000
        warm_until = time.perf_counter() + args.query_budget / 10
        for q in queries[:WARMUP]:
            engine.search(q["query"])
            if time.perf_counter() > warm_until:
                break
        samples, results = [], []
        stop_at = time.perf_counter() + args.query_budget
        for q in queries:
            start_ns = time.perf_counter_ns()
            ids = engine.search(q["query"])
            samples.append(time.perf_counter_ns() - start_ns)
            results.append(ids)
            # A slow engine answers fewer queries (at least MIN_QUERIES), not for an hour.
            if len(results) >= MIN_QUERIES and time.perf_counter() > stop_at:
                break
        queries = queries[: len(results)]
        disk = engine.disk_mib()
        fresh = _fresh_process(args, engine, len(results)) if disk is not None else None
        row = {
            "engine": args.worker,
            "documents": len(docs),
            "build_s": build_s,
            "open_ms": open_ms,
            "query": summarize_ns(samples),
            "peak_mib": (_proc_kib("VmHWM") - base_kib) / 1024 if peak_ok else None,
            "retained_mib": (_proc_kib("VmRSS") - base_kib) / 1024,
            "disk_mib": disk,
            "self_at_5": sum(q["doc_id"] in r for q, r in zip(queries, results)) / len(queries),
            "fresh_process": fresh,
            "results": results,
        }
    versions = {}
    for name in _PACKAGES[args.worker]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    payload = {"row": row, "versions": versions, "python": sys.version.split()[0]}
    Path(args.json_out).write_text(json.dumps(payload), "utf-8")


# -- orchestrator -----------------------------------------------------------------------------


def _write_corpus(n: int, seed: int, folder: Path, n_queries: int) -> tuple[Path, Path, str, float]:
    """The world's first ``n`` documents as JSONL, and queries drawn from them."""
    start = time.perf_counter()
    try:
        from mtenvs.envs.search.world import World, WorldSpec

        documents = World.generate(WorldSpec(seed=seed, n_entities=n)).documents()
        source = f"World.generate(WorldSpec(seed={seed}, n_entities={n})).documents()"
    except ImportError:  # the world generator is missing: say so in the results
        documents = iter(())
        source = "unavailable"
    rng = random.Random(seed)
    picks = set(rng.sample(range(n), min(n, n_queries)))
    corpus = folder / f"corpus-{n}.jsonl"
    queries = []
    count = 0
    with corpus.open("w", encoding="utf-8") as f:
        for i, doc in enumerate(documents):
            if i >= n:
                break
            f.write(json.dumps({"id": doc.id, "title": doc.title, "text": doc.text}) + "\n")
            count += 1
            if i in picks:
                words = [w for w in _TOKEN.findall(doc.text) if len(w) > 3 and w not in doc.title]
                query = " ".join([doc.title, *rng.sample(words, min(3, len(words)))])
                queries.append({"doc_id": doc.id, "query": query})
    if count < n:
        raise SystemExit(f"the world gave {count} documents, {n} asked ({source})")
    rng.shuffle(queries)
    qfile = folder / f"queries-{n}.json"
    qfile.write_text(json.dumps(queries), "utf-8")
    return corpus, qfile, source, time.perf_counter() - start


def _env_overhead(n_steps: int, world: str) -> dict[str, Any]:
    """A search step through ``gym.make("mtenvs/Search-v0")`` against a bare
    ``engine.search`` of the same query on the env's engine (and search + snippets, what
    the step renders)."""
    try:
        import gymnasium as gym

        import mtenvs  # noqa: F401  (registers the ids)
        from mtenvs.envs.search.engine import snippet

        env = gym.make("mtenvs/Search-v0", world=world)
        env.reset(seed=0)
    except Exception as e:  # the env is not importable yet: report it, keep the rest
        return {"error": f"{type(e).__name__}: {e}"}
    base = env.unwrapped
    engine = base.engine
    rng = random.Random(0)
    doc_ids = [h.doc_id for h in engine.search("the of and a", 100)]
    titles = [d.title for d in (engine.get(i) for i in doc_ids) if d is not None] or ["river"]
    queries = [f"{rng.choice(titles)} born" for _ in range(n_steps)]
    step_ns, bare_ns, render_ns = [], [], []
    seed = 1
    for q in queries:
        call = json.dumps({"name": "search", "arguments": {"query": q}})
        reply = f"<tool_call>{call}</tool_call>"
        start = time.perf_counter_ns()
        _, _, terminated, truncated, info = env.step(reply)
        step_ns.append(time.perf_counter_ns() - start)
        if info.get("parse_error"):
            return {"error": f"the env rejected the search call: {info['parse_error']}"}
        if terminated or truncated:
            env.reset(seed=seed)
            seed += 1
        start = time.perf_counter_ns()
        hits = engine.search(q, base.top_k)
        bare_ns.append(time.perf_counter_ns() - start)
        start = time.perf_counter_ns()
        hits = engine.search(q, base.top_k)
        for h in hits:
            doc = engine.get(h.doc_id)
            if doc is not None:
                snippet(doc.text, q)
        render_ns.append(time.perf_counter_ns() - start)
    env.close()
    step, bare, render = summarize_ns(step_ns), summarize_ns(bare_ns), summarize_ns(render_ns)
    return {
        "world": world,
        "documents": len(engine),
        "step": step,
        "bare_search": bare,
        "search_get_snippet": render,
        "overhead_us": step["median_us"] - bare["median_us"],
        "ratio": step["median_us"] / bare["median_us"],
    }


def orchestrate(args: argparse.Namespace) -> int:
    caps = dict(DEFAULT_CAPS)
    for item in filter(None, args.caps.split(",")):
        name, _, value = item.partition("=")
        caps[name] = int(value)
    here = Path(__file__).resolve()
    ours_python = Path(sys.executable)
    started = time.perf_counter()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    corpora: list[dict[str, Any]] = []
    peer_meta: dict[str, Any] = {}
    tmp_root = Path(tempfile.mkdtemp(prefix="bench_search-", dir=args.tmp))
    try:
        for n in args.sizes:
            corpus, qfile, source, gen_s = _write_corpus(n, args.seed, tmp_root, args.queries)
            corpora.append(
                {
                    "documents": n,
                    "source": source,
                    "generate_write_s": gen_s,
                    "jsonl_mib": corpus.stat().st_size / 2**20,
                }
            )
            print(f"{n:,} documents: corpus written in {gen_s:.1f}s", file=sys.stderr, flush=True)
            results: dict[str, list[list[str]]] = {}
            for name in args.engines:
                if n > caps.get(name, 10**12):
                    rows.append(
                        {
                            "engine": name,
                            "documents": n,
                            "skipped": f"over its cap of {caps[name]:,} documents (--caps)",
                        }
                    )
                    continue
                python = args.bench_python if name in PEER_ENGINES else ours_python
                payload, error = run_peer_worker(
                    here,
                    python,
                    name,
                    [
                        *("--corpus", str(corpus), "--queries-file", str(qfile)),
                        *("--tmp", str(tmp_root), "--query-budget", str(args.query_budget)),
                    ],
                    timeout=args.peer_timeout,
                )
                if payload is None:
                    rows.append({"engine": name, "documents": n, "error": error})
                    print(f"  {name}: {error}", file=sys.stderr, flush=True)
                    continue
                row = payload["row"]
                results[name] = row.pop("results")
                peer_meta[name] = {"versions": payload["versions"], "python": payload["python"]}
                rows.append(row)
                print(
                    f"  {name}: build {row['build_s']:.1f}s, "
                    f"query p50 {row['query']['median_us']:.0f} us",
                    file=sys.stderr,
                    flush=True,
                )
            ours = results.get("ours")
            for row in rows:
                if row["documents"] == n and ours and row["engine"] in results:
                    theirs = results[row["engine"]]
                    overlaps = [
                        len(set(a) & set(b)) / max(1, min(len(a), TOP_K))
                        for a, b in zip(ours, theirs)
                        if a
                    ]
                    row["agree_at_5"] = sum(overlaps) / len(overlaps) if overlaps else None
            corpus.unlink()
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    env = _env_overhead(args.env_steps, args.env_world) if args.env_steps else {"skipped": True}
    _print(rows, env, args.queries)
    record = {
        "benchmark": "bench_search",
        "timestamp": utc_timestamp(),
        "note": "loaded machine: 2 cores shared with other jobs; compare rows of one run",
        "settings": {k: v for k, v in vars(args).items() if k not in ("worker", "json_out")},
        "caps": caps,
        "machine": machine_info(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "versions": peer_meta,
        "corpora": corpora,
        "rows": rows,
        "env_step_overhead": env,
        "wall_s": time.perf_counter() - started,
    }
    out = results_path("bench_search", quick=args.quick, out=args.out)
    write_json(out, record)
    print(f"wrote {out}")
    failed = any("error" in r for r in rows) or "error" in env
    return 1 if args.strict and failed else 0


def _fresh_cell(fresh: dict[str, Any] | None) -> str:
    if not fresh:
        return "–"
    if "error" in fresh:
        return "error"
    return f"{fresh['private_mib']:.0f} + {fresh['shared_file_mib']:.0f}"


def _print(rows: list[dict[str, Any]], env: dict[str, Any], n_queries: int) -> None:
    ours_p50 = {
        r["documents"]: r["query"]["median_us"]
        for r in rows
        if r["engine"] == "ours" and "query" in r
    }
    table = []
    sections = []
    last_n = None
    for r in rows:
        if last_n is not None and r["documents"] != last_n:
            sections.append(len(table))
        last_n = r["documents"]
        if "query" not in r:
            table.append(
                [
                    f"{r['documents']:,}",
                    r["engine"],
                    *["–"] * 10,
                    r.get("skipped") or r.get("error", ""),
                ]
            )
            continue
        q = r["query"]
        base = ours_p50.get(r["documents"])
        table.append(
            [
                f"{r['documents']:,}",
                r["engine"],
                f"{r['build_s']:.2f}",
                f"{r['open_ms']:.1f}",
                fmt_us(q["median_us"]),
                fmt_us(q["p99_us"]),
                fmt_ratio(q["median_us"] / base) if base else "n/a",
                "n/a" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}",
                f"{r['retained_mib']:.0f}",
                "–" if r["disk_mib"] is None else f"{r['disk_mib']:.0f}",
                _fresh_cell(r.get("fresh_process")),
                f"{r['self_at_5']:.2f}",
                "n/a" if r.get("agree_at_5") is None else f"{r['agree_at_5']:.2f}",
                f"{q['n']} queries (--query-budget)" if q["n"] < n_queries else "",
            ]
        )
    columns = [
        ("docs", "right"),
        ("engine", "left"),
        ("build s", "right"),
        ("open ms", "right"),
        ("query p50 µs", "right"),
        ("p99 µs", "right"),
        ("p50 vs ours", "right"),
        ("peak MiB", "right"),
        ("kept MiB", "right"),
        ("disk MiB", "right"),
        ("new process: private + shared MiB", "right"),
        ("self@5", "right"),
        ("agree@5", "right"),
        ("note", "left"),
    ]
    print_table("Search engines (loaded machine)", columns, table, sections)
    if "step" in env:
        print(
            f"env step overhead ({env['world']} world, {env['documents']:,} documents): "
            f"step p50 {fmt_us(env['step']['median_us'])} µs vs bare search "
            f"{fmt_us(env['bare_search']['median_us'])} µs ({fmt_ratio(env['ratio'])}; "
            f"search + get + snippets {fmt_us(env['search_get_snippet']['median_us'])} µs)"
        )
    else:
        print(f"env step overhead: {env}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2k and 10k documents, 100 queries")
    parser.add_argument(
        "--sizes", help="comma-separated corpus sizes (default 10000,100000,1000000)"
    )
    parser.add_argument("--queries", type=int, help="queries per row (default 500, quick 100)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"default {','.join(ENGINES)}")
    parser.add_argument(
        "--caps", default="", help="per-engine size caps, e.g. rank_bm25=100000,bm25s=100000"
    )
    parser.add_argument(
        "--query-budget",
        type=float,
        default=120.0,
        help="seconds of timed queries per row; a slower engine stops after at least "
        f"{MIN_QUERIES} queries (default 120)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--env-steps",
        type=int,
        help="search steps timed through the env (default 300, quick 100; 0: skip)",
    )
    parser.add_argument("--env-world", default="small", help="the env's world size (default small)")
    parser.add_argument("--bench-python", default=str(DEFAULT_BENCH_PYTHON))
    parser.add_argument("--peer-timeout", type=float, default=3600.0)
    parser.add_argument("--tmp", help="folder for corpora and indexes (default: the system's)")
    parser.add_argument("--out")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a row failed")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    parser.add_argument("--probe", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--probe-queries", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args)
        return 0
    if args.worker:
        worker(args)
        return 0
    args.sizes = [
        int(s)
        for s in (args.sizes or ("2000,10000" if args.quick else "10000,100000,1000000")).split(",")
    ]
    args.queries = args.queries or (100 if args.quick else 500)
    if args.env_steps is None:
        args.env_steps = 100 if args.quick else 300
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in args.engines:
        if e not in ENGINES:
            parser.error(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
