"""PythonCode speed: a code turn, an answer turn, answer grading, oracle episodes/s.

    .venv/bin/python benchmarks/bench_code.py [--steps 200] [--episodes 160] [--answers 225]
        [--old-judge REV] [--exec-answers 10] [--quick]

Measured for DockerSandbox and LocalSandbox (Docker is skipped when unusable):
* ``env.step`` of a code turn (one ```python cell, the observation rendered), warm sandbox;
* ``env.step`` of an answer turn (host precheck, grading in the verifier, feedback);
* **answer grading**: ``run_tests`` of the oracle answer of each eval-set task, back to back
  on one verifier sandbox (the hidden tests of :mod:`mtenvs.envs.code.code_verify`), on
  - this checkout's runtime: the eval set's tests are literal calls, which the REPL server
    sends to a spare solution process itself (the *calls* path), and the same tests
    rewritten ``candidate(*(…))`` so that a spare judge runs them (the *judge* path, which
    ``assert`` tests and computing tests take),
  - the runtime of ``--old-judge`` (default: the last one before the spare judges; a judge
    forked per answer, tests one at a time), extracted with ``git show``: for Docker an image
    ``FROM mtenvs/python`` with those files copied in, for LocalSandbox ``MTENVS_RUNTIME``;
  - and, for Docker, one ``docker exec python3 -c …`` per test into the same container (the
    solution, its setup and one test, the value encoded as the judge does), summed per
    answer;
  in blocks of 15 answers taking turns, so that both runtimes see the same load;
* episodes per second of the oracle on 16 envs in parallel,
  ``mtenvs.rollout.rollout(..., num_envs=16, executor="thread")`` on the eval set, sandbox
  start-up included (each env starts its agent sandbox lazily and its verifier at the
  first answer: the oracle never runs code, so only verifiers start).
The load average before and after is recorded: on a shared machine the numbers are those of
a loaded machine. Writes benchmarks/results/bench_code.json (bench_code_quick.json with
--quick).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

RESULTS = Path(__file__).resolve().parent / "results" / "bench_code.json"
QUICK_RESULTS = RESULTS.with_name("bench_code_quick.json")
CELL = "```python\nx = sum(i * i for i in range(1000))\nprint(x)\n```"
ROOT = Path(__file__).resolve().parents[1]
#: The last sandbox runtime before the spare judges (issue 21, item 3): a judge forked per
#: answer from the template, the tests sent to it one at a time.
OLD_JUDGE_REV = "498f6e1"
#: Answers graded in a row by one runtime before the other takes its turn.
BLOCK = 15
#: One test by ``docker exec``: the solution, its setup and the test in a fresh interpreter,
#: the value encoded by the runtime's own plain_values (as the judge does).
EXEC_SCRIPT = """
import json, sys
sys.path.insert(0, "/opt/mtenvs")
from plain_values import encode_value
spec = json.loads(sys.argv[1])
ns = {"__name__": "__solution__"}
exec(spec["source"], ns)
exec(spec["setup"], ns)
exec(spec["test_setup"], ns)
ns["candidate"] = ns[spec["entry"]]
if spec["kind"] == "assert":
    exec(spec["code"], ns)
    print(json.dumps(["ok", None]))
else:
    print(json.dumps(["ok", encode_value(eval(spec["code"], ns), spec["lenient"])]))
"""


def docker_usable() -> bool:
    from mtenvs.sandbox import resolve_backend

    return resolve_backend("auto").backend == "docker"


def step_latencies(backend: str, steps: int) -> dict[str, dict[str, float]]:
    from mtenvs.envs.code.code_env import PythonCodeEnv

    env = PythonCodeEnv(sandbox=backend, eval_set=True, max_turns=steps + 10, feedback="tests")
    env.reset(seed=0)
    env.step(CELL)  # start the sandbox
    code_ns = []
    for _ in range(steps):
        t = time.perf_counter_ns()
        env.step(CELL)
        code_ns.append(time.perf_counter_ns() - t)
    answer_ns = []
    for i in range(max(10, steps // 4)):
        env.reset(seed=i)
        t = time.perf_counter_ns()
        env.step(env.oracle_action())
        answer_ns.append(time.perf_counter_ns() - t)
    env.close()
    return {
        "code_turn": common.summarize_ns(code_ns),
        "answer_turn": common.summarize_ns(answer_ns),
    }


def oracle_throughput(backend: str, episodes: int) -> dict[str, float]:
    from mtenvs.agents import OracleAgent
    from mtenvs.rollout import rollout

    start = time.perf_counter()
    first = None
    n = wins = 0
    for traj in rollout(
        "mtenvs/PythonCode-v0",
        OracleAgent(),
        episodes,
        num_envs=16,
        executor="thread",
        env_kwargs={"sandbox": backend, "eval_set": True},
    ):
        first = first or time.perf_counter() - start
        n += 1
        wins += bool(traj.success)
    wall = time.perf_counter() - start
    return {
        "episodes": n,
        "wall_s": wall,
        "episodes_per_s": n / wall,
        "first_episode_s": first or 0.0,
        "success_rate": wins / n,
    }


def _oracle_source(task: Any) -> str:
    return f"{task.prelude}\n{task.solution}" if task.prelude else task.solution


def _not_literal(code: str) -> str:
    """``candidate(3, [1, 2])`` as ``candidate(*(3, [1, 2]))``: the same call, but not a
    literal call, so it is judged by a spare judge instead of the server itself."""
    node = ast.parse(code, mode="eval").body
    if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
        return code
    star = ast.Starred(ast.Tuple(list(node.args), ast.Load()), ast.Load())
    return ast.unparse(ast.Call(node.func, [star], node.keywords))


def _grade(sandbox: Any, task: Any, judge_path: bool = False) -> bool:
    from mtenvs.envs.code.code_verify import run_tests

    tests = task.tests
    if judge_path:
        tests = tuple(dataclasses.replace(t, call=_not_literal(t.call)) for t in tests)
    verdict = run_tests(
        sandbox,
        _oracle_source(task),
        task.entry_point,
        tests,
        setup=task.setup,
        test_setup=task.prelude,
        lenient=task.lenient,
    )
    return verdict.correct


def _exec_grade(client: Any, container: str, task: Any) -> bool:
    """The oracle answer judged with one ``docker exec`` per test; whether all passed."""
    from mtenvs.envs.code.code_values import decode_value, values_match

    passed = True
    for test in task.tests:
        spec = {
            "source": _oracle_source(task),
            "setup": task.setup,
            "test_setup": task.prelude,
            "entry": task.entry_point,
            "kind": test.kind,
            "code": test.call,
            "lenient": task.lenient,
        }
        cmd = ["python3", "-I", "-c", EXEC_SCRIPT, json.dumps(spec)]
        out = client.api.exec_start(client.api.exec_create(container, cmd)).decode()
        status, body = json.loads(out.strip().splitlines()[-1])
        got = decode_value(body)
        if test.kind == "equal":
            passed &= values_match(got, test.expected, task.lenient)
        elif test.kind == "close":
            passed &= abs(got - test.expected) <= test.tolerance
        elif test.kind in ("truthy", "falsy"):
            passed &= bool(got) == (test.kind == "truthy")
        else:
            passed &= status == "ok"
    return passed


@contextlib.contextmanager
def old_runtime(rev: str) -> Iterator[Path]:
    """The sandbox runtime files of ``rev`` in a world-readable temporary folder."""
    names = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", rev, "sandboxes/runtime/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    with tempfile.TemporaryDirectory(prefix="mtenvs-bench-runtime-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        for name in names:
            if name.endswith(".py"):
                data = subprocess.run(
                    ["git", "-C", str(ROOT), "show", f"{rev}:{name}"],
                    check=True,
                    capture_output=True,
                ).stdout
                path = folder / Path(name).name
                path.write_bytes(data)
                path.chmod(0o644)
        yield folder


@contextlib.contextmanager
def old_image(client: Any, runtime: Path, rev: str) -> Iterator[str]:
    """An image of ``mtenvs/python`` with the runtime files of ``rev`` copied in."""
    from mtenvs.sandbox.images import image_tag

    tag = f"mtenvs/python:bench-judge-{rev}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dockerfile = f"FROM {image_tag('python')}\nCOPY *.py /opt/mtenvs/\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        for path in sorted(runtime.glob("*.py")):
            tar.add(path, arcname=path.name)
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True)
    try:
        yield tag
    finally:
        with contextlib.suppress(Exception):
            client.images.remove(tag, force=True)


def _timed_block(fn: Callable[[Any], bool], tasks: list[Any], into: list[int]) -> int:
    """Time ``fn`` on each task; the number that did not pass."""
    failed = 0
    for task in tasks:
        t = time.perf_counter_ns()
        ok = fn(task)
        into.append(time.perf_counter_ns() - t)
        failed += not ok
    return failed


def answer_grading(
    backend: str, answers: int, old_rev: str | None, exec_answers: int
) -> dict[str, Any]:
    """``run_tests`` of oracle answers back to back: this runtime, ``old_rev``'s, and
    (Docker) a ``docker exec`` per test."""
    from mtenvs.envs.code.code_tasks import eval_set
    from mtenvs.sandbox import LocalSandbox, SandboxLimits

    tasks = list(eval_set())
    order = [tasks[i % len(tasks)] for i in range(answers)]
    limits = SandboxLimits(timeout_s=10.0)
    paths: dict[str, list[int]] = {"new": [], "judge": []}
    failures = {"new": 0, "judge": 0}
    out: dict[str, Any] = {
        "answers": answers,
        "tests_per_answer": sum(len(t.tests) for t in order) / len(order),
    }
    with contextlib.ExitStack() as stack:
        client = None
        if backend == "docker":
            from mtenvs.sandbox.docker_sandbox import DockerSandbox
            from mtenvs.sandbox.engine import docker_client

            client = docker_client()
            new: Any = stack.enter_context(contextlib.closing(DockerSandbox(limits=limits)))
        else:
            new = stack.enter_context(contextlib.closing(LocalSandbox(limits=limits)))
        sandboxes = {"new": new}
        if old_rev:
            runtime = stack.enter_context(old_runtime(old_rev))
            if client is not None:
                tag = stack.enter_context(old_image(client, runtime, old_rev))
                old: Any = DockerSandbox(image=tag, limits=limits)
            else:
                os.environ["MTENVS_RUNTIME"] = str(runtime / "repl_server.py")
                try:
                    old = LocalSandbox(limits=limits)
                finally:
                    del os.environ["MTENVS_RUNTIME"]
            sandboxes["old"] = stack.enter_context(contextlib.closing(old))
            paths["old"], failures["old"] = [], 0
            out["old_runtime_rev"] = old_rev
        for sb in sandboxes.values():  # start the judge templates
            _grade(sb, tasks[0])
        for start in range(0, answers, BLOCK):
            block = order[start : start + BLOCK]
            for name, sb in sandboxes.items():
                failures[name] += _timed_block(functools.partial(_grade, sb), block, paths[name])
            failures["judge"] += _timed_block(
                functools.partial(_grade, new, judge_path=True), block, paths["judge"]
            )
        if client is not None and exec_answers > 0:
            container = new.container_id
            paths["docker_exec"], failures["docker_exec"] = [], 0
            client_ = client

            def by_exec(task: Any) -> bool:
                return _exec_grade(client_, container, task)

            failures["docker_exec"] += _timed_block(
                by_exec, order[:exec_answers], paths["docker_exec"]
            )
    labels = {
        "new": "this_runtime",
        "judge": "this_runtime_judge_path",
        "old": "judge_per_answer",
        "docker_exec": "docker_exec_per_test",
    }
    for name, samples in paths.items():
        out[labels[name]] = {**common.summarize_ns(samples), "failed": failures[name]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=160)
    parser.add_argument("--answers", type=int, default=225, help="answers graded per runtime")
    parser.add_argument(
        "--old-judge",
        default=OLD_JUDGE_REV,
        help="git revision whose sandbox runtime is the old grading path ('' to skip)",
    )
    parser.add_argument(
        "--exec-answers", type=int, default=10, help="answers graded by docker exec per test"
    )
    parser.add_argument("--quick", action="store_true", help="40 steps, 48 episodes, 30 answers")
    args = parser.parse_args()
    steps, episodes = (40, 48) if args.quick else (args.steps, args.episodes)
    answers = 30 if args.quick else args.answers
    backends = ["docker", "local"] if docker_usable() else ["local"]
    results: dict[str, Any] = {
        "benchmark": "bench_code",
        "timestamp": common.utc_timestamp(),
        "machine": common.machine_info(),
        "load_average_before": os.getloadavg(),
        "note": "2-core machine shared with other jobs: numbers of a loaded machine",
        "versions": common.package_versions(["mtenvs", "gymnasium", "docker"]),
        "config": {
            "steps": steps,
            "episodes": episodes,
            "answers": answers,
            "old_judge": args.old_judge,
            "exec_answers": args.exec_answers,
            "num_envs": 16,
            "executor": "thread",
            "cell": CELL,
        },
        "backends": {},
    }
    rows, grading_rows = [], []
    for backend in backends:
        lat = step_latencies(backend, steps)
        grading = answer_grading(backend, answers, args.old_judge or None, args.exec_answers)
        thr = oracle_throughput(backend, episodes)
        results["backends"][backend] = {**lat, "answer_grading": grading, "oracle_rollout": thr}
        rows.append(
            [
                backend,
                common.fmt_us(lat["code_turn"]["median_us"]),
                common.fmt_us(lat["code_turn"]["p90_us"]),
                common.fmt_us(lat["answer_turn"]["median_us"]),
                f"{thr['episodes_per_s']:.1f}",
                f"{thr['success_rate']:.0%}",
            ]
        )
        new_median = grading["this_runtime"]["median_us"]
        for key, label in (
            ("this_runtime", "this runtime (calls path)"),
            ("this_runtime_judge_path", "this runtime, judge path"),
            ("judge_per_answer", f"judge per answer ({args.old_judge})"),
            ("docker_exec_per_test", "docker exec per test"),
        ):
            if key in grading:
                row = grading[key]
                grading_rows.append(
                    [
                        backend,
                        label,
                        common.fmt_us(row["median_us"]),
                        common.fmt_us(row["p90_us"]),
                        f"{row['median_us'] / new_median:.1f}x",
                        str(row["n"] - row["failed"]) + f"/{row['n']}",
                    ]
                )
    results["load_average_after"] = os.getloadavg()
    out = QUICK_RESULTS if args.quick else RESULTS
    common.write_json(out, results)
    common.print_table(
        "PythonCode-v0 step latency and oracle throughput (16 envs, threads)",
        [
            ("sandbox", "left"),
            ("code turn median", "right"),
            ("code turn p90", "right"),
            ("answer turn median", "right"),
            ("oracle episodes/s", "right"),
            ("success", "right"),
        ],
        rows,
    )
    common.print_table(
        "Answer grading: run_tests of the oracle answer, eval set, back to back (us)",
        [
            ("sandbox", "left"),
            ("path", "left"),
            ("median", "right"),
            ("p90", "right"),
            ("vs this runtime", "right"),
            ("passed", "right"),
        ],
        grading_rows,
    )
    print(
        f"wrote {out} (load average {results['load_average_before']} before, "
        f"{results['load_average_after']} after)"
    )


if __name__ == "__main__":
    main()
