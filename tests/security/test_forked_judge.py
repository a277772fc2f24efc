"""The warm judge path keeps every guarantee of the hidden-test grader, on real sandboxes.

A code answer is judged with processes the judge template forked ahead of use, before any
request reached them (sandboxes/runtime/judge.py): a spare solution process the server talks
to itself when every test is a literal call of the candidate (the *calls* path), else a
spare judge with its solution process (the *judge* path). Each test here runs on both.
These tests play, as a submitted answer or as code in the same sandbox, what could break
that: forging a verdict to any judge, leaving state or processes for the next answer,
bombs, and killing or stopping the template and the spare judges. Each checks the answer's
own grade and that the next answers are graded right, on the warm path again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mtenvs.envs.code.code_verify import CodeTest, Verdict, run_tests
from mtenvs.sandbox import LocalSandbox, Sandbox, SandboxLimits
from tests.sandbox._support import BACKENDS

pytestmark = pytest.mark.xdist_group("security")

LIMITS = SandboxLimits(timeout_s=5.0)
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
TESTS = (
    CodeTest("candidate(1, 2)", 3),
    CodeTest("candidate(-5, 5)", 0),
    CodeTest("add(10, 20)", 30),
)
#: The same tests written so that they are not literal calls: the judge path.
JUDGE_TESTS = (
    CodeTest("candidate(*(1, 2))", 3),
    CodeTest("candidate(*(-5, 5))", 0),
    CodeTest("add(*(10, 20))", 30),
)
PATHS = {"calls": TESTS, "judge": JUDGE_TESTS}
#: What a solution can learn of the judge processes from /proc (same uid, same pid space).
ANCESTRY = """
import os

def _stat(pid):
    s = open(f'/proc/{pid}/stat').read()
    return s[s.rindex(')') + 2:].split()

def _cmd(pid):
    try:
        return open(f'/proc/{pid}/cmdline').read()
    except OSError:
        return ''

def judge_processes():
    # (its judge or None, the template, the template's other children: spare judges and
    # spare solution processes, and the spare judges' solution processes)
    parent = os.getppid()
    if '--socket' in _cmd(_ppid(parent)):
        judge, template = parent, _ppid(parent)
    else:
        judge, template = None, parent
    pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]
    mine = (judge, os.getpid())
    spares = [p for p in pids if p not in mine and _ppid(p) == template and not _zombie(p)]
    spare_solutions = [p for p in pids if _ppid(p) in spares and not _zombie(p)]
    return judge, template, spares, spare_solutions

def _ppid(pid):
    try:
        return int(_stat(pid)[1])
    except (OSError, ValueError, IndexError):
        return -1

def _zombie(pid):
    try:
        return _stat(pid)[0] == 'Z'
    except OSError:
        return True
"""


@pytest.fixture(params=BACKENDS)
def verifier(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox of its own per test (these tests kill and stop its judges)."""
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
        from mtenvs.sandbox.docker_sandbox import DockerSandbox

        sb: Sandbox = DockerSandbox(limits=LIMITS)
    else:
        sb = LocalSandbox(limits=LIMITS)
    yield sb
    sb.close()


def grade(sb: Sandbox, source: str, tests: tuple[CodeTest, ...] = TESTS) -> Verdict:
    return run_tests(sb, source, "add", tests, timeout_s=5.0)


def probe(sb: Sandbox, body: str, path: str = "calls") -> object:
    """What ``body`` (the body of ``add``, after :data:`ANCESTRY`) returns in a solution
    process on ``path``, read back from the verdict's feedback."""
    source = ANCESTRY + "def add(a, b):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    call = "candidate(0, 0)" if path == "calls" else "candidate(*(0, 0))"
    verdict = grade(sb, source, (CodeTest(call, "never equal"),))
    assert not verdict.problem, verdict.feedback()
    return eval(verdict.outcomes[0].got)  # a repr of plain values


def graded_right(sb: Sandbox) -> None:
    """The next answers are judged right on both paths: the right one passes every test,
    the wrong one none."""
    for tests in PATHS.values():
        right = grade(sb, RIGHT, tests)
        assert right.correct, right.feedback()
        wrong = grade(sb, WRONG, tests)
        assert wrong.passed == 0 and not wrong.problem, wrong.feedback()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_answers_run_in_processes_forked_from_one_warm_template(verifier, path):
    seen = [
        probe(
            verifier,
            "judge, template, _, _ = judge_processes()\n"
            "return [os.getpid(), judge, template, os.getppid(),\n"
            "        '--socket' in open('/proc/self/cmdline').read()]",
            path,
        )
        for _ in range(4)
    ]
    pids, judges, templates, parents, forked = zip(*seen, strict=True)
    assert len(set(templates)) == 1  # no template was started again: the warm path
    assert len(set(pids)) == 4  # a new solution process each time
    if path == "calls":  # forked by the template, the server talks to it
        assert set(judges) == {None} and set(parents) == set(templates)
    else:  # forked by a new judge each time
        assert len(set(judges)) == 4 and parents == judges
    assert all(forked)  # forked, not a fresh interpreter


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_restarted_solution_process_holds_no_test(verifier, path):
    """After a crash the rest of the tests go to a process that never saw any: on the calls
    path another spare the template forked before the request, on the judge path a fresh
    interpreter (exec), not a copy of the judge, which holds the tests."""
    source = (
        "import os\n"
        "def add(a, b):\n"
        "    if a == 1:\n        os._exit(3)\n"
        "    stat = open(f'/proc/{os.getppid()}/cmdline').read()\n"
        "    return [open('/proc/self/cmdline').read().split('\\0'), '--socket' in stat]\n"
    )
    star = "" if path == "calls" else "*"
    tests = (
        CodeTest(f"candidate({star}(1, 0))" if star else "candidate(1, 0)", 0),
        CodeTest(f"candidate({star}(2, 0))" if star else "candidate(2, 0)", "never equal"),
    )
    verdict = grade(verifier, source, tests)
    assert "EOFError" in verdict.outcomes[0].got, verdict.feedback()
    argv, parent_forked = eval(verdict.outcomes[1].got)
    if path == "calls":  # a template fork, child of the template (which is not a judge)
        assert "--socket" in argv and parent_forked
    else:
        assert "--solution-fds" in argv and "--socket" not in argv


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_forged_verdict_reaches_no_judge(verifier, path):
    """A wrong answer writes verdicts that would pass (it guesses the expected values) and
    greetings to every descriptor it can open, its own and under /proc, and tries to read or
    write the memory of its judge, the template and the spares: nothing passes, now or in
    the next answers."""
    forged = '{"results": [["ok", 3], ["ok", 0], ["ok", 30]]}'
    source = ANCESTRY + (
        "import json\n"
        f"FRAMES = [{forged!r}, json.dumps({{'ready': 1, 'solution': 2}}), json.dumps(['ok', 3])]\n"
        "def forge():\n"
        "    judge, template, spares, spare_solutions = judge_processes()\n"
        "    touched = []\n"
        "    for pid in [judge, template, *spares, *spare_solutions]:\n"
        "        try:\n"
        "            open(f'/proc/{pid}/mem', 'rb').read(1)\n"
        "            touched.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "    paths = [f'/proc/self/fd/{fd}' for fd in range(3, 64)]\n"
        "    for pid in os.listdir('/proc'):\n"
        "        try:\n"
        "            paths += [f'/proc/{pid}/fd/{fd}' for fd in os.listdir(f'/proc/{pid}/fd')]\n"
        "        except OSError:\n"
        "            pass\n"
        "    for path in paths:\n"
        "        for frame in FRAMES:\n"
        "            data = frame.encode()\n"
        "            try:\n"
        "                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)\n"
        "                os.write(fd, len(data).to_bytes(4, 'big') + data)\n"
        "                os.close(fd)\n"
        "            except OSError:\n"
        "                pass\n"
        "    for fd in range(3, 64):\n"
        "        for frame in FRAMES:\n"
        "            data = frame.encode()\n"
        "            try:\n"
        "                os.write(fd, len(data).to_bytes(4, 'big') + data)\n"
        "            except OSError:\n"
        "                pass\n"
        "    return touched\n"
        "TOUCHED = forge()\n"
        "def add(a, b):\n"
        "    forge()\n"
        "    return TOUCHED or a - b\n"
    )
    verdict = grade(verifier, source, PATHS[path])
    assert verdict.passed == 0, verdict.feedback()
    assert all("[" not in o.got or o.got == "[]" for o in verdict.outcomes), verdict.feedback()
    graded_right(verifier)
    graded_right(verifier)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_no_state_of_an_answer_reaches_the_next(verifier, path):
    """An answer patches modules and builtins (warm modules included) and leaves a process
    behind; the next answer sees none of it."""
    polluter = (
        "import builtins, collections, ctypes, math, os, sys, time\n"
        "builtins.LEAK = 1\ncollections.LEAK = 1\nmath.pi = 3\nsys.modules['leak_mark'] = sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        ctypes.CDLL(None).prctl(15, b'mtenvs-leftover', 0, 0, 0)\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n" + RIGHT
    )
    assert grade(verifier, polluter, PATHS[path]).correct
    seen = probe(
        verifier,
        "import builtins, collections, math, sys\n"
        "comms = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n"
        "        comms.append(open(f'/proc/{pid}/comm').read().strip())\n"
        "    except OSError:\n"
        "        pass\n"
        "return [hasattr(builtins, 'LEAK'), hasattr(collections, 'LEAK'), math.pi == 3,\n"
        "        'leak_mark' in sys.modules, 'mtenvs-leftover' in comms]",
        path,
    )
    assert seen == [False, False, False, False, False]


BOMBS = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "infinite_loop_at_load": "while True:\n    pass\n" + RIGHT,
    "memory_bomb": (
        "def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n"
    ),
    "fork_bomb": (
        "import os\n"
        "def add(a, b):\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    ),
    "huge_output": (
        "import os, sys\n"
        "def add(a, b):\n"
        "    for _ in range(100):\n"
        "        sys.stdout.write('x' * (1 << 20))\n"
        "        os.write(2, b'y' * (1 << 20))\n"
        "    return 'z' * (100 << 20)\n"
    ),
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_contained_and_the_next_answer_is_graded(verifier, name, path):
    if name == "fork_bomb" and isinstance(verifier, LocalSandbox):
        from tests.sandbox._support import require_local

        require_local("private_uid")  # RLIMIT_NPROC does not bind root
    tests = PATHS[path][:2]
    start = time.monotonic()
    verdict = grade(verifier, BOMBS[name], tests)
    # The budget of run_tests (5 s + 2 s a test) and the clean-up; never a pass.
    assert time.monotonic() - start < 5.0 + 2.0 * len(tests) + 10.0
    assert verdict.passed == 0, verdict.feedback()
    graded_right(verifier)


@pytest.mark.parametrize(
    ("targets", "signal"),
    [
        ("[template]", "SIGKILL"),
        ("[template]", "SIGSTOP"),
        ("spares", "SIGKILL"),
        ("spares", "SIGSTOP"),
        ("spare_solutions", "SIGKILL"),
        ("spare_solutions", "SIGSTOP"),
        ("[template, *spares]", "SIGALRM"),
    ],
)
@pytest.mark.parametrize("by", ["the answer (calls)", "the answer (judge)", "a REPL cell"])
def test_a_killed_or_stopped_template_or_spare_is_replaced(verifier, targets, signal, by):
    """The template and the spares run as the same user as the solution (and as the
    sandbox's REPL): killed or stopped, they are replaced, and the grading stays right."""
    assert grade(verifier, RIGHT).correct  # the template and its spares are up
    attack = f"import signal\nfor p in {targets}:\n    os.kill(p, signal.{signal})\n"
    if by.startswith("the answer"):
        code = "judge, template, spares, spare_solutions = judge_processes()\n"
        tests = TESTS if "calls" in by else JUDGE_TESTS
        verdict = grade(verifier, ANCESTRY + code + attack + WRONG, tests)
        assert verdict.passed == 0, verdict.feedback()
    else:
        # From the REPL the judge processes are found by their command line; signals take
        # effect asynchronously, so the attack is over once the targets are stopped or dead.
        want = "T" if signal == "SIGSTOP" else "Z"
        result = verifier.run(
            "import os, time\n"
            "def _stat(pid):\n"
            "    s = open(f'/proc/{pid}/stat').read()\n"
            "    return s[s.rindex(')') + 2:].split()\n"
            "def judge_processes():\n"
            "    procs = {}\n"
            "    for p in os.listdir('/proc'):\n"
            "        try:\n"
            "            stat = _stat(p)\n"
            "            if stat[0] != 'Z':\n"
            "                procs[int(p)] = (int(stat[1]), open(f'/proc/{p}/cmdline').read())\n"
            "        except (OSError, ValueError):\n"
            "            pass\n"
            "    template = next(p for p, (pp, cmd) in procs.items()\n"
            "                    if '--socket' in cmd and '--socket' not in procs[pp][1])\n"
            "    spares = [p for p, (pp, _) in procs.items() if pp == template]\n"
            "    return template, spares, [p for p, (pp, _) in procs.items() if pp in spares]\n"
            "for _ in range(300):  # the last spares may still be on their way\n"
            "    template, spares, spare_solutions = judge_processes()\n"
            "    if len(spares) == 4 and len(spare_solutions) == 2:\n"
            "        break\n"
            "    time.sleep(0.01)\n"
            "assert len(spares) == 4 and len(spare_solutions) == 2, (spares, spare_solutions)\n"
            + attack
            + f"for _ in range(500):\n"
            f"    states = []\n"
            f"    for p in {targets}:\n"
            f"        try:\n"
            f"            states.append(_stat(p)[0])\n"
            f"        except OSError:\n"
            f"            states.append('X')\n"
            f"    if all(st in ({want!r}, 'X') for st in states):\n"
            f"        break\n"
            f"    time.sleep(0.01)\n"
        )
        assert result.error is None, result.error
    graded_right(verifier)
    graded_right(verifier)


#: From a REPL cell: the states of the processes of the sandbox that are stopped.
STOPPED = (
    "import os\n"
    "def _state(p):\n"
    "    try:\n"
    "        s = open(f'/proc/{p}/stat').read()\n"
    "    except OSError:\n"
    "        return 'X'\n"
    "    return s[s.rindex(')') + 2]\n"
    "sorted(st for p in os.listdir('/proc') if p.isdigit() for st in [_state(p)] if st in 'Tt')"
)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_spares_an_answer_stopped_are_replaced_before_the_next_answer(verifier, path):
    """The clean-up after an answer finds the spares it stopped (even one that had not
    greeted yet): the next answer does not spend its own time budget finding them out."""
    assert grade(verifier, RIGHT).correct
    attack = "for p in spares + spare_solutions:\n    os.kill(p, signal.SIGSTOP)\n"
    code = "import signal\njudge, template, spares, spare_solutions = judge_processes()\n"
    assert grade(verifier, ANCESTRY + code + attack + WRONG, PATHS[path]).passed == 0
    left = verifier.run(STOPPED)
    assert left.error is None and left.value == "[]", left
    graded_right(verifier)


def test_tests_that_compute_run_in_the_judge_not_in_the_solution(verifier):
    """Only tests that call the candidate with literal arguments go to the solution process
    in a batch; a test that computes (a trusted helper, builtins) runs in the judge, on the
    plain values, so patching builtins in the solution forges nothing."""
    helper = "def check(v):\n    return len(v) == 3 and sorted(v) == [1, 2, 3]\n"
    source = (
        "import builtins\n"
        "builtins.len = lambda v: 3\n"
        "builtins.sorted = lambda v: [1, 2, 3]\n"
        "def add(a, b):\n    return 'not a permutation'\n"
    )
    tests = (CodeTest("check(candidate(1, 2))", kind="truthy"), CodeTest("candidate(1, 2)", 3))
    verdict = run_tests(verifier, source, "add", tests, test_setup=helper, timeout_s=5.0)
    assert verdict.passed == 0, verdict.feedback()
    good = "def add(a, b):\n    return [3, 1, 2] if a == 1 else a + b\n"
    tests = (CodeTest("check(candidate(1, 2))", kind="truthy"), CodeTest("candidate(2, 2)", 4))
    assert run_tests(verifier, good, "add", tests, test_setup=helper, timeout_s=5.0).correct


def test_a_batch_of_calls_survives_errors_crashes_and_timeouts_in_the_middle(verifier):
    """Each call of a batch keeps its own verdict and its own time limit: an exception
    leaves the process serving the next calls, a crash or a timeout sends the rest to a
    fresh interpreter."""
    source = (
        "import os\n"
        "def add(a, b):\n"
        "    if a == 'raise':\n        raise ValueError('no')\n"
        "    if a == 'crash':\n        os._exit(1)\n"
        "    if a == 'loop':\n        while True:\n            pass\n"
        "    return [a + b, os.getpid()]\n"
    )
    calls = ["(1, 2)", "('raise', 0)", "(3, 4)", "('crash', 0)", "(5, 6)", "('loop', 0)", "(7, 8)"]
    tests = tuple(CodeTest(f"candidate{c}", "never equal") for c in calls)
    start = time.monotonic()
    verdict = grade(verifier, source, tests)
    assert time.monotonic() - start < 2.0 + 5.0  # one per-test timeout, not more
    got = [o.got for o in verdict.outcomes]
    assert "ValueError: no" in got[1] and "EOFError" in got[3] and "timed out" in got[5], got
    pids = [eval(got[i])[1] for i in (0, 2, 4, 6)]
    assert [eval(got[i])[0] for i in (0, 2, 4, 6)] == [3, 7, 11, 15]
    assert pids[0] == pids[1] != pids[2] != pids[3]  # a new process after the crash, the loop
