"""Hidden-test verification of a submitted solution: the sandbox computes, the host judges.

A test is a Python *expression* that calls the candidate (``candidate(3, [1, 2])``) and,
kept on the host only, the value it must produce; or, for benchmark asserts whose expected
value is not a literal, an ``assert`` statement. Verification runs one harness cell in a
fresh interpreter of a sandbox of its own (the *verifier*, reset before every answer, so
nothing the agent ran or wrote in its interpreter is in it, and nothing from it reaches the
agent):

1. the harness (a process that never runs the solution) forks a child that executes the
   submitted source and then serves calls over a pipe: arguments go down pickled, each
   return value comes back as JSON of a plain value, encoded with exact type checks
   (``type(v) is int``, …): only ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``,
   ``tuple``, ``dict``, ``set`` and ``frozenset`` survive, so an object with a forged
   ``__eq__`` cannot pass;
2. the harness evaluates the tests with ``candidate`` bound to that proxy, under a per-test
   alarm (a hung or crashed child is killed and restarted for the next test); ``assert``
   tests run here too, on the decoded plain values;
3. the harness's JSON comes back as the cell's *value* (not stdout, not the exit status);
   the host decodes it and compares value tests with the expected values, which never enter
   the sandbox.

So the solution can lie only about its own return values, and lying right is solving the
task: exiting early, printing "PASSED", patching builtins, ``assert``, ``json`` or ``repr``
(that happens in the child), or searching files and memory gives nothing.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from mtenvs.envs.code.code_values import decode_value, encode_value, value_digest, values_match
from mtenvs.sandbox import ExecResult, Sandbox

__all__ = [
    "CodeTest",
    "TestOutcome",
    "Verdict",
    "decode_value",
    "encode_value",
    "extract_solution",
    "harness_source",
    "precheck",
    "run_tests",
    "values_match",
]

TestKind = Literal["equal", "close", "truthy", "falsy", "assert"]
#: Seconds one test may run (inside the harness, by SIGALRM).
PER_TEST_TIMEOUT_S = 2.0
_MAX_SHOWN = 300
_HARNESS_NAME = "__mtenvs_verify__"
_CANDIDATE = re.compile(r"\bcandidate\(")
#: Largest reply the solution process may send for one call (bytes of JSON).
_MAX_MESSAGE = 64 * 1024 * 1024


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


# --------------------------------------------------------------------------- harness


_HARNESS = """
def {name}():
    import ctypes, hashlib, json, os, pickle, signal
    # This process (a fresh interpreter) never runs the solution: a forked child does, and
    # answers each call with the JSON of a plain value. The tests, the comparisons and the
    # result below run here, so the solution can lie only about its own return values.
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<pid>/mem
    except (OSError, AttributeError):
        pass
{encode}
{decode}
    class _Timeout(BaseException):
        pass
    def _alarm(signum, frame):
        raise _Timeout()
    signal.signal(signal.SIGALRM, _alarm)
    def _send(fd, data):
        view = memoryview(len(data).to_bytes(4, "big") + data)
        while view:
            view = view[os.write(fd, view):]
    def _read(fd, n):
        buf = b""
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError("the solution process ended")
            buf += chunk
        return buf
    def _recv(fd):
        size = int.from_bytes(_read(fd, 4), "big")
        if size > {max_msg!r}:
            raise ValueError("the solution sent an oversized message")
        return _read(fd, size)
    state = {{"pid": None}}
    def _child(rfd, wfd):
        try:
            ns = {{"__name__": "__solution__"}}
            try:
                exec(compile({source!r}, "<solution>", "exec"), ns)
                exec(compile({setup!r}, "<test setup>", "exec"), ns)
                fn = ns.get({entry!r})
                if not callable(fn):
                    raise NameError("the solution does not define a function {entry}")
            except BaseException as e:
                _send(wfd, json.dumps(["load_error", type(e).__name__ + ": " + str(e)[:300]])
                      .encode())
                return
            _send(wfd, b'["ready"]')
            while True:
                args, kwargs = pickle.loads(_recv(rfd))
                try:
                    out = ["ok", _encode(fn(*args, **kwargs), False)]
                except BaseException as e:
                    out = ["error", type(e).__name__ + ": " + str(e)[:200]]
                try:
                    _send(wfd, json.dumps(out).encode())
                except BaseException as e:
                    _send(wfd, json.dumps(["error", "unsendable result: " + str(e)[:100]])
                          .encode())
        finally:
            os._exit(0)
    def _kill():
        if state["pid"] is not None:
            try:
                os.kill(state["pid"], signal.SIGKILL)
                os.waitpid(state["pid"], 0)
            except OSError:
                pass
            for fd in (state["r"], state["w"]):
                os.close(fd)
            state["pid"] = None
    def _start():
        child_r, parent_w = os.pipe()
        parent_r, child_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(parent_w)
            os.close(parent_r)
            _child(child_r, child_w)
        os.close(child_r)
        os.close(child_w)
        state.update(pid=pid, r=parent_r, w=parent_w)
        first = json.loads(_recv(parent_r))
        if first[0] == "load_error":
            _kill()
            raise _LoadError(first[1])
    class _LoadError(Exception):
        pass
    class _SolutionError(Exception):
        pass
    def candidate(*args, **kwargs):
        payload = pickle.dumps((args, kwargs))
        if state["pid"] is None:
            _start()
        try:
            _send(state["w"], payload)
            reply = json.loads(_recv(state["r"]))
        except BaseException:
            _kill()
            raise
        if reply[0] == "error":
            raise _SolutionError(str(reply[1]))
        if reply[0] != "ok":
            _kill()
            raise ValueError("the solution sent a malformed reply")
        return _decode(reply[1])
    try:
        _start()
    except _LoadError as e:
        return json.dumps({{"load_error": str(e)}})
    except BaseException as e:
        return json.dumps({{"load_error": type(e).__name__ + ": " + str(e)[:300]}})
    test_ns = {{"__name__": "__test__"}}
    exec(compile({setup!r}, "<test setup>", "exec"), test_ns)
    test_ns["candidate"] = test_ns[{entry!r}] = candidate
    out = []
    for kind, code in {calls!r}:
        try:
            signal.setitimer(signal.ITIMER_REAL, {per_test!r})
            try:
                if kind == "assert":
                    exec(compile(code, "<test>", "exec"), dict(test_ns))
                    item = ["ok", None]
                else:
                    value = eval(compile(code, "<test>", "eval"), dict(test_ns))
                    enc = _encode(value, {lenient!r})
                    text = json.dumps(enc, sort_keys=True)
                    item = ["ok", enc] if len(text) <= {cap!r} else [
                        "digest", hashlib.sha256(text.encode()).hexdigest()]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout:
            _kill()
            item = ["error", "timed out after {per_test:g} s"]
        except _SolutionError as e:
            item = ["error", str(e)]
        except BaseException as e:
            item = ["error", type(e).__name__ + ": " + str(e)[:200]]
        out.append(item)
    _kill()
    return json.dumps({{"results": out}})
{name}()
"""


def _indented_source(func: Any, new_name: str) -> str:
    src = inspect.getsource(func).replace(func.__name__, new_name)
    return "\n".join("    " + line for line in src.splitlines())


def harness_source(
    source: str,
    entry: str,
    tests: tuple[CodeTest, ...],
    *,
    setup: str = "",
    lenient: bool = False,
    cap: int = 2000,
) -> str:
    """The cell that runs ``tests`` against ``source`` (expected values are not in it)."""
    encode = _indented_source(encode_value, "_encode")
    decode = _indented_source(decode_value, "_decode")
    return _HARNESS.format(
        name=_HARNESS_NAME,
        encode=encode,
        decode=decode,
        source=source,
        setup=setup,
        entry=entry,
        calls=[(t.kind if t.kind == "assert" else "value", t.call) for t in tests],
        per_test=PER_TEST_TIMEOUT_S,
        lenient=lenient,
        cap=cap,
        max_msg=_MAX_MESSAGE,
    )


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
    lenient: bool = False,
    timeout_s: float = 10.0,
) -> Verdict:
    """Reset ``sandbox`` (a fresh interpreter) and judge ``source`` on ``tests``."""
    sandbox.reset()
    cap = max(200, sandbox.limits.max_output_bytes // (2 * max(1, len(tests))))
    cell = harness_source(source, entry, tests, setup=setup, lenient=lenient, cap=cap)
    budget = min(600.0, timeout_s + PER_TEST_TIMEOUT_S * len(tests))
    result = sandbox.run(cell, timeout=budget)
    failed = tuple(TestOutcome(t, False, "not run") for t in tests)
    payload = _payload(result)
    if payload is None:
        why = (
            "The tests timed out."
            if result.timed_out
            else "The solution stopped the test harness (exit, crash or tampering)."
        )
        return Verdict(failed, why, entry)
    if "load_error" in payload:
        return Verdict(
            failed, f"The solution failed to load: {_short(str(payload['load_error']))}", entry
        )
    results = payload.get("results")
    if not isinstance(results, list) or len(results) != len(tests):
        return Verdict(failed, "The test harness returned a malformed result.", entry)
    return Verdict(tuple(_judge(t, r, lenient) for t, r in zip(tests, results)), "", entry)


def _payload(result: ExecResult) -> dict[str, Any] | None:
    if result.value is None:
        return None
    try:
        text = ast.literal_eval(result.value)
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- host checks


def extract_solution(answer: str) -> str:
    """The solution source of an answer: its fenced python blocks joined, or the text."""
    from mtenvs.core.parsing import extract_code_blocks

    blocks = extract_code_blocks(answer)
    return "\n\n".join(blocks) if blocks else answer


def precheck(source: str, entry: str) -> str | None:
    """Why ``source`` cannot be a solution (checked on the host: no sandbox for garbage)."""
    try:
        tree = ast.parse(source, "<solution>", "exec")
    except SyntaxError as e:
        return f"The solution has a syntax error: {e.msg} (line {e.lineno})."
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        return f"The solution cannot be compiled ({type(e).__name__})."
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry:
            return None
        if isinstance(node, (ast.Name, ast.alias)) and entry in (
            getattr(node, "id", None),
            getattr(node, "asname", None),
        ):
            return None
    return f"The solution does not define the function `{entry}`."
