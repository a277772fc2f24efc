"""Hidden-test verification of a submitted solution: the sandbox computes, the host judges.

A test is a Python *expression* that calls the candidate (``candidate(3, [1, 2])``) and,
kept on the host only, the value it must produce; or, for benchmark asserts whose expected
value is not a literal, an ``assert`` statement. Verification runs in the *judge* of a
sandbox of its own (the *verifier*: nothing the agent ran or wrote in its interpreter is in
it, and nothing from it reaches the agent); sandboxes/runtime/judge.py has the details:

1. the REPL server (which never runs user code) hands the answer to processes forked ahead
   of use from a judge template started with ``exec`` (so holding nothing the server ever
   received), before any request reached them: the *solution* process closes every
   descriptor but its channel, runs the submitted source and serves calls: arguments go
   down pickled, each return value comes back as JSON of a plain value, encoded with exact
   type checks (``type(v) is int``, …): only ``None``, ``bool``, ``int``, ``float``,
   ``str``, ``list``, ``tuple``, ``dict``, ``set`` and ``frozenset`` survive, so an object
   with a forged ``__eq__`` cannot pass;
2. when every test only calls the candidate with literal arguments, the server sends the
   calls itself and reads one verdict item per call under each test's time limit; otherwise
   a *judge* receives all the tests and evaluates them one at a time with ``candidate``
   bound to a proxy of the solution process, under a per-test alarm; ``assert`` tests run
   there too, on the decoded plain values. No solution process ever holds a test it is not
   called with: one restarted after a crash or a timeout is another spare or a fresh
   interpreter, not a copy of the judge;
3. the verdict items travel judge → server → host over descriptors the solution cannot
   reach (not inherited, not in its /proc, the judge and the server not dumpable); the
   server and the host check every frame; the host compares value tests with the expected
   values, which never enter the sandbox;
4. once the reply is out, the server kills everything the answer started before it has
   the next spare judges forked: no state or process of one answer reaches the next
   (docs/sandbox.md, "Each answer starts clean, fast").

So the solution can lie only about its own return values, and lying right is solving the
task: exiting early, printing "PASSED", patching builtins, ``assert``, ``json`` or ``repr``
(that happens in the solution process), writing frames to any descriptor it finds, or
searching files and memory gives nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Literal

from mtenvs.envs.code.code_values import decode_value, encode_value, value_digest, values_match
from mtenvs.sandbox import JudgeRequest, Sandbox

__all__ = [
    "CodeTest",
    "TestOutcome",
    "Verdict",
    "decode_value",
    "encode_value",
    "extract_solution",
    "judge_request",
    "parse_untrusted",
    "precheck",
    "run_tests",
    "values_match",
]

TestKind = Literal["equal", "close", "truthy", "falsy", "assert"]
#: Seconds one test may run (inside the harness, by SIGALRM).
PER_TEST_TIMEOUT_S = 2.0
_MAX_SHOWN = 300
_CANDIDATE = re.compile(r"\bcandidate\(")


@dataclass(frozen=True)
class CodeTest:
    """One hidden test: ``call`` runs in the sandbox, ``expected`` stays on the host."""

    #: A Python expression calling ``candidate`` (or the entry point), or an ``assert``
    #: statement for ``kind="assert"``.
    call: str
    #: The value the call must return (plain builtins; ignored for truthy/falsy/assert).
    expected: Any = None
    kind: TestKind = "equal"
    #: Absolute and relative tolerance for ``kind="close"``.
    tolerance: float = 1e-6


@dataclass(frozen=True)
class TestOutcome:
    test: CodeTest
    passed: bool
    #: What the candidate produced, for the feedback (``repr`` or the error).
    got: str


@dataclass(frozen=True)
class Verdict:
    outcomes: tuple[TestOutcome, ...]
    #: Why no test could run (load error, lost sandbox), else "".
    problem: str = ""
    #: The function's name, shown in place of ``candidate`` in the feedback.
    entry: str = "candidate"

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def score(self) -> float:
        return self.passed / len(self.outcomes) if self.outcomes else 0.0

    @property
    def correct(self) -> bool:
        return bool(self.outcomes) and self.passed == len(self.outcomes)

    def feedback(self, max_shown: int = 3) -> str:
        """MINT-style feedback: how many tests passed and the first failures."""
        total = len(self.outcomes)
        head = f"{self.passed} of {total} hidden tests passed."
        if self.problem:
            head += f" {self.problem}"
        failed = [o for o in self.outcomes if not o.passed]
        lines = [head]
        for o in failed[:max_shown]:
            call = _short(_CANDIDATE.sub(self.entry + "(", o.test.call))
            if o.test.kind == "assert":
                lines.append(f"Failed: {call} -> {o.got}")
            elif o.test.kind in ("truthy", "falsy"):
                want = "a true value" if o.test.kind == "truthy" else "a false value"
                lines.append(f"Failed: {call}: expected {want}, got {o.got}")
            else:
                lines.append(
                    f"Failed: {call}: expected {_short(repr(o.test.expected))}, got {o.got}"
                )
        if len(failed) > max_shown:
            lines.append(f"({len(failed) - max_shown} more failing tests not shown)")
        return "\n".join(lines)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


# --------------------------------------------------------------------------- judge


def judge_request(tests: tuple[CodeTest, ...]) -> tuple[tuple[str, str], ...]:
    """What the sandbox's judge receives of ``tests``: kinds and calls, never the expected
    values (they stay on the host)."""
    return tuple((t.kind if t.kind == "assert" else "value", t.call) for t in tests)


def _judge(test: CodeTest, item: Any, lenient: bool) -> TestOutcome:
    if not (isinstance(item, list) and len(item) == 2 and item[0] in ("ok", "digest", "error")):
        return TestOutcome(test, False, "no result")
    status, body = item
    if status == "error":
        return TestOutcome(test, False, f"error {_short(str(body))}")
    if test.kind == "assert":
        return TestOutcome(test, status == "ok", "assertion held")
    if status == "digest":
        want = value_digest(encode_value(test.expected, lenient))
        return TestOutcome(
            test, body == want, "a large value" + ("" if body == want else " that differs")
        )
    try:
        got = decode_value(body)
    except (ValueError, TypeError) as e:
        return TestOutcome(test, False, f"an undecodable value ({e})")
    shown = _short(repr(got))
    if test.kind == "truthy":
        return TestOutcome(test, bool(got), shown)
    if test.kind == "falsy":
        return TestOutcome(test, not got, shown)
    if test.kind == "close":
        ok = (
            isinstance(got, (int, float))
            and not isinstance(got, bool)
            and isinstance(test.expected, (int, float))
            and abs(got - test.expected) <= test.tolerance
        )
        return TestOutcome(test, ok, shown)
    try:
        ok = values_match(got, test.expected, lenient)
    except (TypeError, ValueError, RecursionError):
        ok = False
    return TestOutcome(test, ok, shown)


def run_tests(
    sandbox: Sandbox,
    source: str,
    entry: str,
    tests: tuple[CodeTest, ...],
    *,
    setup: str = "",
    test_setup: str = "",
    lenient: bool = False,
    timeout_s: float = 10.0,
) -> Verdict:
    """Judge ``source`` on ``tests`` in the judge of ``sandbox`` (see the module doc);
    ``test_setup`` runs in the tests' namespace only (trusted helpers they call)."""
    cap = max(200, sandbox.limits.max_output_bytes // (2 * max(1, len(tests))))
    budget = min(600.0, timeout_s + PER_TEST_TIMEOUT_S * len(tests))
    report = sandbox.judge(
        JudgeRequest(
            source,
            entry,
            judge_request(tests),
            setup=setup,
            test_setup=test_setup,
            per_test_s=PER_TEST_TIMEOUT_S,
            lenient=lenient,
            cap=cap,
            timeout=budget,
        )
    )
    failed = tuple(TestOutcome(t, False, "not run") for t in tests)
    if report.load_error is not None:
        return Verdict(failed, f"The solution failed to load: {_short(report.load_error)}", entry)
    if report.results is None:
        why = (
            "The tests timed out."
            if "timed out" in (report.problem or "")
            else "The solution stopped the test harness (exit, crash or tampering)."
        )
        return Verdict(failed, why, entry)
    return Verdict(
        tuple(_judge(t, list(r), lenient) for t, r in zip(tests, report.results)), "", entry
    )


# --------------------------------------------------------------------------- host checks


def extract_solution(answer: str) -> str:
    """The solution source of an answer: its fenced python blocks joined, or the text."""
    from mtenvs.core.parsing import extract_code_blocks

    blocks = extract_code_blocks(answer)
    return "\n\n".join(blocks) if blocks else answer


def parse_untrusted(source: str, filename: str) -> ast.Module | str:
    """The syntax tree of agent code (parsed on the host, never run), or why there is none.

    Besides ``SyntaxError``, deep nesting raises ``RecursionError``/``MemoryError``, and
    CPython 3.11 before 3.11.8 can raise ``SystemError`` ("AST constructor recursion depth
    mismatch", gh-106905) on a reply after such an error: every one is a bad reply, never an
    exception out of ``step``."""
    try:
        return ast.parse(source, filename, "exec")
    except SyntaxError as e:
        return f"SyntaxError: {e.msg} (line {e.lineno})"
    except (ValueError, RecursionError, MemoryError, OverflowError, SystemError) as e:
        return f"{type(e).__name__}: the code cannot be compiled ({str(e)[:200]})"


def precheck(source: str, entry: str) -> str | None:
    """Why ``source`` cannot be a solution (checked on the host: no sandbox for garbage)."""
    tree = parse_untrusted(source, "<solution>")
    if isinstance(tree, str):
        what = "has a syntax error" if tree.startswith("SyntaxError") else "cannot be compiled"
        return f"The solution {what}: {tree.removeprefix('SyntaxError: ')}."
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry:
            return None
        if isinstance(node, (ast.Name, ast.alias)) and entry in (
            getattr(node, "id", None),
            getattr(node, "asname", None),
        ):
            return None
    return f"The solution does not define the function `{entry}`."
