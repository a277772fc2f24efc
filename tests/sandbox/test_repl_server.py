"""The REPL server's semantics, through both backends (the same server file runs in each)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from mtenvs.sandbox.base import runtime_server_path
from tests.sandbox._support import SHORT_TIMEOUT

pytestmark = pytest.mark.xdist_group("sandbox")


def _server_module():
    spec = importlib.util.spec_from_file_location("repl_server", runtime_server_path())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cap_text_counts_utf8_bytes():
    server = _server_module()
    assert server.cap_text("abc", 10) == ("abc", False)
    text, cut = server.cap_text("é" * 10, 5)  # 2 bytes each
    assert cut and text == "éé"
    assert server.cap_text("x" * 100, 100) == ("x" * 100, False)


def test_frames_round_trip_and_eof_exits():
    """Raw protocol: ready frame, a run, and exit on stdin EOF (how containers die with us)."""
    proc = subprocess.Popen(
        [sys.executable, "-u", str(runtime_server_path())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )

    def read():
        size = int.from_bytes(proc.stdout.read(4), "big")
        return json.loads(proc.stdout.read(size))

    assert read()["ready"]
    data = json.dumps({"id": 7, "op": "run", "code": "6*7", "timeout": 5}).encode()
    proc.stdin.write(len(data).to_bytes(4, "big") + data)
    proc.stdin.flush()
    reply = read()
    assert reply["id"] == 7 and reply["value"] == "42" and reply["exit_code"] == 0
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


def test_namespace_persists_and_last_expression_repr(sandbox):
    sandbox.reset()
    assert sandbox.run("x = 20\nimport math").ok
    r = sandbox.run("print('hi')\nx + 22")
    assert (r.stdout, r.value, r.error, r.exit_code) == ("hi\n", "42", None, 0)
    assert sandbox.run("None").value is None
    assert sandbox.run("'a'").value == "'a'"
    assert sandbox.run("_").value == "'a'"


def test_stderr_and_fd_level_output_are_captured(sandbox):
    r = sandbox.run("import sys, os\nprint('e', file=sys.stderr)\nos.system('echo shell')")
    assert r.stderr == "e\n"
    assert "shell\n" in r.stdout
    assert r.value == "0"


def test_exception_traceback_is_trimmed_to_the_cell(sandbox):
    r = sandbox.run("def f():\n    return 1/0\nf()")
    assert r.exit_code == 1 and not r.ok
    assert r.error.startswith('Traceback (most recent call last):\n  File "<cell-')
    assert "repl_server" not in r.error
    assert r.error.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "return 1/0" in r.error  # source lines are shown
    syntax = sandbox.run("def (:")
    assert "SyntaxError" in syntax.error and "Traceback" not in syntax.error
    assert sandbox.run("1+1").value == "2"


def test_sys_exit_keeps_state_os_exit_restarts(sandbox):
    sandbox.run("kept = 1")
    r = sandbox.run("import sys; sys.exit(3)")
    assert r.exit_code == 3 and r.error is None and not r.restarted
    assert sandbox.run("kept").value == "1"
    r = sandbox.run("import os; os._exit(5)")
    assert r.exit_code == 5 and r.restarted and "state" in r.error
    assert "NameError" in sandbox.run("kept").error


def test_timeout_restarts_and_reports_state_loss(sandbox):
    sandbox.run("kept = 1")
    r = sandbox.run("while True: pass", timeout=SHORT_TIMEOUT)
    assert r.timed_out and r.restarted and r.exit_code == 124
    assert "lost" in r.error
    assert SHORT_TIMEOUT <= r.duration_s < SHORT_TIMEOUT + 2
    assert "NameError" in sandbox.run("kept").error
    assert sandbox.run("1+1").value == "2"


def test_output_is_capped_and_marked(sandbox):
    limit = sandbox.limits.max_output_bytes
    r = sandbox.run("print('x' * 1_000_000)\nimport sys; print('y' * 1_000_000, file=sys.stderr)")
    assert r.truncated
    assert r.stdout.startswith("x" * 100) and "output truncated" in r.stdout
    assert len(r.stdout.encode()) < limit + 200 and len(r.stderr.encode()) < limit + 200
    assert not sandbox.run("print('small')").truncated


def test_reset_gives_fresh_interpreter_and_keeps_files(sandbox):
    sandbox.run("secret = 1\nopen('kept.txt', 'w').write('file')")
    sandbox.reset()
    assert "NameError" in sandbox.run("secret").error
    assert sandbox.run("open('kept.txt').read()").value == "'file'"


def test_put_and_get_file(sandbox):
    sandbox.put_file("data/in.txt", "héllo")
    assert sandbox.run("open('data/in.txt', encoding='utf-8').read()").value == "'héllo'"
    sandbox.run("open('out.bin', 'wb').write(bytes(range(256)))")
    assert sandbox.get_file("out.bin") == bytes(range(256))
    with pytest.raises(Exception, match="No such file"):
        sandbox.get_file("missing.txt")


def test_input_reads_eof_and_unicode_output(sandbox):
    assert "EOFError" in sandbox.run("input()").error
    assert sandbox.run("print('ü→😀')").stdout == "ü→😀\n"
    assert sandbox.run("'\\ud800'").value is not None  # lone surrogate survives the wire
