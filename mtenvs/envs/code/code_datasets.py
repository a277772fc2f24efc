"""Programming benchmarks from local JSONL files: the HumanEval and MBPP formats.

The format is detected from the first record's fields:

* **HumanEval**: ``task_id``, ``prompt`` (signature and docstring), ``entry_point``,
  ``test`` (source defining ``check(candidate)``), optional ``canonical_solution`` (the body
  completing ``prompt``: the oracle).
* **MBPP**: ``text`` (the description), ``test_list`` (assert statements), optional
  ``test_imports`` (the sanitized set's import lines) and ``test_setup_code`` (both run
  before the tests, in the solution's namespace and the tests', as the official harness
  runs them in one program), ``code`` (the oracle) and ``task_id``.

Asserts become tests the host can judge: ``assert f(x) == LITERAL`` (either side; constant
arithmetic such as ``2.0 / 3.0`` is folded), ``assert f(x) is True``,
``assert abs(f(x) - LITERAL) < EPS``, ``assert f(x)`` and ``assert not f(x)`` leave the
expected value on the host. Anything else (a non-literal expected value, a ``check`` with
loops or helper variables) is an ``assert`` test, run whole by the verifier's harness on the
solution's plain return values (:mod:`mtenvs.envs.code.code_verify`). Arguments must be
picklable (they are sent to the solution's process) and results plain values, so a
``check`` that passes a lambda to the candidate, or expects a custom object back, fails.
"""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path
from typing import Any, Final

from mtenvs.envs.code.code_task import CodeTask
from mtenvs.envs.code.code_verify import CodeTest, encode_value
from mtenvs.error import InvalidArgumentError

__all__ = ["HUMANEVAL_FIELDS", "MBPP_FIELDS", "load_dataset"]

HUMANEVAL_FIELDS: Final = ("task_id", "prompt", "entry_point", "test")
MBPP_FIELDS: Final = ("text", "test_list")
_BUILTINS: Final = frozenset(dir(builtins))


def load_dataset(path: str | Path) -> tuple[CodeTask, ...]:
    """The tasks of a HumanEval- or MBPP-format JSONL file (format detected)."""
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(
            f"Dataset file {str(path)!r} does not exist; pass the path "
            "of a local HumanEval- or MBPP-format .jsonl file."
        )
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise InvalidArgumentError(f"{file}:{number} is not valid JSON ({e}).") from e
        if not isinstance(record, dict):
            raise InvalidArgumentError(f"{file}:{number} is not a JSON object.")
        records.append((number, record))
    if not records:
        raise InvalidArgumentError(f"Dataset file {file} has no records.")
    first = records[0][1]
    fields: tuple[str, ...]
    if all(k in first for k in HUMANEVAL_FIELDS):
        fmt, fields = "humaneval", HUMANEVAL_FIELDS
    elif all(k in first for k in MBPP_FIELDS):
        fmt, fields = "mbpp", MBPP_FIELDS
    else:
        raise InvalidArgumentError(
            f"{file}:{records[0][0]} is neither HumanEval format (missing "
            f"{_missing(first, HUMANEVAL_FIELDS)}) nor MBPP format (missing "
            f"{_missing(first, MBPP_FIELDS)})."
        )
    tasks = []
    for number, record in records:
        missing = [k for k in fields if k not in record]
        if missing:
            raise InvalidArgumentError(
                f"{file}:{number} lacks the {fmt} field(s) {', '.join(repr(k) for k in missing)}."
            )
        try:
            tasks.append(_humaneval(record) if fmt == "humaneval" else _mbpp(record, number))
        except (SyntaxError, ValueError, TypeError) as e:
            raise InvalidArgumentError(f"{file}:{number}: {e}") from e
    return tuple(tasks)


def _missing(record: dict[str, Any], fields: tuple[str, ...]) -> str:
    return ", ".join(repr(k) for k in fields if k not in record)


# --------------------------------------------------------------------------- HumanEval


def _humaneval(rec: dict[str, Any]) -> CodeTask:
    entry = _str(rec, "entry_point")
    prompt = _str(rec, "prompt")
    tree = ast.parse(_str(rec, "test"))
    check = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None
    )
    if check is None or not check.args.args:
        raise ValueError("'test' must define check(candidate).")
    setup = "\n".join(ast.unparse(n) for n in tree.body if n is not check)
    body = [
        s
        for s in check.body
        if not (
            isinstance(s, ast.Pass)
            or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        )
    ]
    names = frozenset({"candidate", entry})
    tests: list[CodeTest] = []
    if check.args.args[0].arg == "candidate" and all(isinstance(s, ast.Assert) for s in body):
        tests = [_assert_test(s, names) for s in body if _calls(s, names)]  # type: ignore[arg-type]
    if not tests:
        tests = [CodeTest(f"{ast.unparse(check)}\ncheck(candidate)", kind="assert")]
    # The prompt's imports and helper functions (HumanEval/10 gives `is_palindrome`), so an
    # answer that defines only the entry point still finds them; the answer's own win.
    prelude = "\n".join(
        ast.unparse(n)
        for n in ast.parse(prompt).body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        or (isinstance(n, ast.FunctionDef) and n.name != entry)
    )
    canonical = rec.get("canonical_solution")
    return CodeTask(
        task_id=_str(rec, "task_id"),
        source="humaneval",
        category="humaneval",
        difficulty="unknown",
        split="test",
        prompt=prompt,
        entry_point=entry,
        solution=prompt + canonical if isinstance(canonical, str) else "",
        tests=tuple(tests),
        setup=setup,
        prelude=prelude,
        lenient=False,
    )


# --------------------------------------------------------------------------- MBPP


def _mbpp(rec: dict[str, Any], number: int) -> CodeTask:
    asserts = rec["test_list"]
    if not isinstance(asserts, list) or not asserts or not all(isinstance(a, str) for a in asserts):
        raise ValueError("'test_list' must be a non-empty list of assert statements.")
    imports = rec.get("test_imports") or []
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        raise ValueError("'test_imports' must be a list of import statements.")
    # The official harness runs test_imports and test_setup_code with the asserts.
    setup = "\n".join([*imports, rec.get("test_setup_code") or ""]).strip()
    code = rec.get("code") if isinstance(rec.get("code"), str) else ""
    statements = [ast.parse(a).body for a in asserts]
    entry = _mbpp_entry(statements, setup, code or "")
    names = frozenset({entry})
    tests = []
    for stmts in statements:
        if len(stmts) == 1 and isinstance(stmts[0], ast.Assert):
            tests.append(_assert_test(stmts[0], names))
        else:
            tests.append(CodeTest("\n".join(ast.unparse(s) for s in stmts), kind="assert"))
    example = next(
        ast.unparse(n)
        for n in ast.walk(statements[0][0])
        if isinstance(n, ast.Call) and _name(n.func) == entry
    )
    prompt = f"{_str(rec, 'text').strip()}\nThe function is called like this: `{example}`\n"
    task_id = rec.get("task_id", number)
    return CodeTask(
        task_id=f"mbpp-{task_id}",
        source="mbpp",
        category="mbpp",
        difficulty="unknown",
        split="test",
        prompt=prompt,
        entry_point=entry,
        solution=code or "",
        tests=tuple(tests),
        setup=setup,
        lenient=False,
    )


def _mbpp_entry(statements: list[list[ast.stmt]], setup: str, code: str) -> str:
    defined = {n.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef)}
    in_setup = {n.id for n in ast.walk(ast.parse(setup)) if isinstance(n, ast.Name)}
    called = [
        _name(n.func)
        for stmts in statements
        for s in stmts
        for n in ast.walk(s)
        if isinstance(n, ast.Call)
    ]
    candidates = [c for c in called if c and c not in _BUILTINS and c not in in_setup]
    for name in candidates:
        if not defined or name in defined:
            return name
    raise ValueError("cannot tell which function the tests call (no non-builtin call found).")


# --------------------------------------------------------------------------- asserts


def _str(rec: dict[str, Any], key: str) -> str:
    value = rec[key]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}.")
    return str(value)


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else ""


def _calls(node: ast.AST, names: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Call) and _name(n.func) in names for n in ast.walk(node))


_FOLDABLE: Final = (
    ast.Expression,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


def _fold(node: ast.AST) -> Any:
    """Value of a constant expression such as ``2.0 / 3.0`` or ``-(10 ** 6)`` (no names)."""
    if not isinstance(node, ast.expr):
        raise ValueError("not an expression")
    tree = ast.Expression(node)
    for n in ast.walk(tree):
        if not isinstance(n, _FOLDABLE):
            raise ValueError("not a constant expression")
        if (
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Pow)
            and not (
                isinstance(n.right, ast.Constant)
                and isinstance(n.right.value, int)
                and abs(n.right.value) <= 256
            )
        ):
            raise ValueError("power too large to fold")
    return eval(
        compile(ast.fix_missing_locations(tree), "<expected>", "eval"), {"__builtins__": {}}
    )


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        try:
            value = ast.literal_eval(node)
        except ValueError:
            value = _fold(node)
        encode_value(value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, ArithmeticError):
        return False, None
    return True, value


def _assert_test(stmt: ast.Assert, names: frozenset[str]) -> CodeTest:
    test = stmt.test
    whole = CodeTest(ast.unparse(ast.Assert(test=test, msg=None)), kind="assert")
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, op = test.left, test.comparators[0], test.ops[0]
        if isinstance(op, (ast.Eq, ast.Is)):
            for value_side, expected_side in ((left, right), (right, left)):
                ok, expected = _literal(expected_side)
                if ok and _calls(value_side, names) and not _calls(expected_side, names):
                    return CodeTest(ast.unparse(value_side), expected)
        if (
            isinstance(op, (ast.Lt, ast.LtE))
            and isinstance(left, ast.Call)
            and _name(left.func) == "abs"
            and len(left.args) == 1
            and isinstance(left.args[0], ast.BinOp)
            and isinstance(left.args[0].op, ast.Sub)
        ):
            ok_tol, tol = _literal(right)
            ok_exp, expected = _literal(left.args[0].right)
            value_side = left.args[0].left
            if ok_tol and ok_exp and isinstance(tol, (int, float)) and _calls(value_side, names):
                return CodeTest(ast.unparse(value_side), expected, "close", float(tol))
        return whole
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _calls(test, names):
        return CodeTest(ast.unparse(test.operand), None, "falsy")
    if isinstance(test, ast.Call) and _name(test.func) in names:
        return CodeTest(ast.unparse(test), None, "truthy")
    return whole
