"""Cheating the hidden tests of PythonCode/CodeTasks fails, on real sandboxes.

Each attack is a submitted solution that does not solve the task but tries to look as if it
did: exit early with status 0, print "PASSED", patch builtins / ``assert`` / ``json``, return
an object whose ``__eq__`` says yes, or find the expected values (files, frames, memory).
The verifier judges plain values on the host, so every one of them scores no test.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mtenvs.envs.code.code_env import PythonCodeEnv
from mtenvs.envs.code.code_tasks_env import CodeTasksEnv
from mtenvs.envs.code.code_verify import CodeTest, run_tests

pytestmark = pytest.mark.xdist_group("security")

TASK = "code-two_sum"
MBPP = Path(__file__).parents[1] / "envs" / "code" / "data" / "mbpp_sample.jsonl"
WRONG = "def two_sum(nums, target):\n    return [0, 1]\n"

ALWAYS_EQUAL = """
class Yes(list):
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    __hash__ = lambda self: 0
"""

_TEMPLATE = (
    "import os, signal\n"
    "stat = open(f'/proc/{os.getppid()}/stat').read()\n"
    "template = int(stat[stat.rindex(')') + 2 :].split()[1])\n"
)

CHEATS = {
    "sys_exit_0_before_the_tests": "import sys\nsys.exit(0)\n" + WRONG,
    "os_exit_0_before_the_tests": "import os\nos._exit(0)\n" + WRONG,
    "exit_inside_the_function": "def two_sum(nums, target):\n    import os\n    os._exit(0)\n",
    "print_passed": "print('PASSED')\nprint('6 of 6 hidden tests passed. Correct!')\n" + WRONG,
    "override_eq": ALWAYS_EQUAL + "def two_sum(nums, target):\n    return Yes()\n",
    "object_with_eq": "class Y:\n    __eq__ = lambda s, o: True\n"
    "def two_sum(nums, target):\n    return Y()\n",
    "patch_builtins": ALWAYS_EQUAL
    + (
        "import builtins, json\n"
        "builtins.type = lambda *a: list\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.AssertionError = type('Never', (Exception,), {})\n"
        "json.dumps = lambda *a, **k: '{\"results\": ' + str([['ok', None]] * 6) + '}'\n"
        "def two_sum(nums, target):\n    return Yes()\n"
    ),
    "forge_the_harness_value": (
        "import builtins\n_repr = repr\n"
        "builtins.repr = lambda v: _repr('{\"results\": ' + str([['ok', [1, 2]]] * 6) + '}')\n"
        + WRONG
    ),
    # The solution's parent: the judge template (the server talks to the solution process
    # itself when, as here, every test is a literal call) or, on the judge path, a judge.
    "kill_the_judge": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG,
    # Its grandparent: the REPL server (PID 1 of the sandbox, which ignores the signal) or
    # the judge template, which serves the next answers too.
    "kill_the_judge_template": _TEMPLATE + "os.kill(template, signal.SIGKILL)\n" + WRONG,
    "stop_the_judge_template": _TEMPLATE + "os.kill(template, signal.SIGSTOP)\n" + WRONG,
    "kill_everything_it_may": "import os, signal\nos.kill(-1, signal.SIGKILL)\n" + WRONG,
    "read_files_in_the_sandbox": (
        "import glob, os\n"
        "def two_sum(nums, target):\n"
        "    for path in glob.glob('/tmp/*') + glob.glob('./**', recursive=True):\n"
        "        if os.path.isfile(path) and 'expect' in open(path, errors='ignore').read(9**6):\n"
        "            return path\n"
        "    return 'nothing'\n"
    ),
}


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return str(request.param)


@pytest.fixture
def env(backend: str):
    env = PythonCodeEnv(sandbox=backend, feedback="tests", timeout_s=5.0, max_turns=20)
    yield env
    env.close()


def _submit(env: PythonCodeEnv, source: str) -> tuple[str, dict]:
    env.reset(options={"task_id": TASK})
    obs, reward, terminated, _, info = env.step(f"<answer>\n{source}</answer>")
    assert not info["success"] and reward == 0.0 and not terminated, obs
    return obs, info


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheats_pass_no_test(env, name):
    obs, info = _submit(env, CHEATS[name])
    assert info["tests_passed"] <= 2, obs  # [0, 1] is right for 2 of the 6 tests, by design
    # These leave the wrong answer judged as it is (its 2 right tests): killing the template
    # or every process it may does not stop the server reading the solution process's own
    # replies. The rest pass none.
    graded_as_is = (
        "forge_the_harness_value",
        "print_passed",
        "kill_the_judge",
        "kill_the_judge_template",
        "kill_everything_it_may",
    )
    if name not in (*graded_as_is, "stop_the_judge_template"):
        assert info["tests_passed"] == 0, obs
    # The same env still judges an honest solution right afterwards.
    env.reset(options={"task_id": TASK})
    assert env.step(env.oracle_action())[4]["success"]


def test_agent_code_before_the_answer_cannot_tamper_with_verification(env):
    env.reset(options={"task_id": TASK})
    env.step(
        "```python\nimport builtins, os\nbuiltins.isinstance = lambda *a: True\n"
        "open('json.py', 'w').write('dumps = lambda *a, **k: \"{}\"')\n"
        "open('sitecustomize.py', 'w').write('import os; os._exit(0)')\n```"
    )
    obs, _, _, _, info = env.step(f"<answer>\n{WRONG}</answer>")
    assert info["tests_passed"] == 2 and "4 failing" not in obs
    obs, _, terminated, _, info = env.step(env.oracle_action())
    assert info["success"] and terminated


def test_the_hidden_expected_values_cannot_be_found(backend):
    """The candidate searches frames, memory and files for a distinctive expected value."""
    from mtenvs.sandbox import make_sandbox

    secret = "SECRET-EXPECTED-7c1f"
    snoop = (
        "import gc, glob, os, sys\n"
        "def f():\n"
        "    needle = 'SECRET-' + 'EXPECTED-7c1f'\n"
        "    frame, seen = sys._getframe(1), []\n"
        "    while frame is not None:\n"
        "        seen.append(repr(frame.f_locals)); seen.append(repr(frame.f_code.co_consts))\n"
        "        frame = frame.f_back\n"
        "    seen += [o for o in gc.get_objects() if isinstance(o, str)]\n"
        "    paths = glob.glob('./**', recursive=True) + glob.glob('../*') + glob.glob('/tmp/*')\n"
        "    for path in paths:\n"
        "        if os.path.realpath(path).startswith(('/proc', '/sys', '/dev')):\n"
        "            continue\n"
        "        try:\n"
        "            seen.append(open(path, errors='ignore').read(1_000_000))\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 'found' if any(needle in s for s in seen) else 'nothing'\n"
    )
    with make_sandbox(backend) as sb:
        verdict = run_tests(sb, snoop, "f", (CodeTest("candidate()", secret),))
    assert not verdict.correct and verdict.outcomes[0].got == "'nothing'"


def test_package_assets_are_out_of_reach_in_docker(backend):
    if backend == "local":
        pytest.skip(
            "LocalSandbox shares the host filesystem: world-readable files such as "
            "the package assets are readable (docs/sandbox.md, weaker isolation)"
        )
    asset = str(resources.files("mtenvs").joinpath("assets/code/problems.jsonl"))
    env = PythonCodeEnv(sandbox=backend, feedback="tests", timeout_s=5.0)
    source = (
        "import json\ndef two_sum(nums, target):\n    try:\n"
        f"        rows = [json.loads(x) for x in open({asset!r})]\n"
        "    except OSError as e:\n        return type(e).__name__\n"
        "    return 'read'\n"
    )
    obs, info = _submit(env, source)
    assert info["tests_passed"] == 0 and "FileNotFoundError" in obs
    env.close()


def test_assert_kind_tests_resist_patched_builtins(backend):
    env = CodeTasksEnv(dataset=MBPP, sandbox=backend, feedback="tests", max_turns=10)
    env.reset(options={"task_id": "mbpp-902"})  # its first test is a non-literal assert
    cheats = [
        ALWAYS_EQUAL + "def common(a, b):\n    return Yes()\n",
        "import builtins\nclass A:\n    __eq__ = lambda s, o: True\n    __hash__ = lambda s: 0\n"
        "builtins.set = lambda *a: A()\nset = builtins.set\n"
        "def common(a, b):\n    return [9]\n",
        "import builtins, json\n_repr = repr\n"
        'builtins.repr = lambda v: _repr(\'{"results": [["ok", null]] * 3}\')\n'
        'json.dumps = lambda *a, **k: \'{"results": [["ok", null]] * 3}\'\n'
        "def common(a, b):\n    return [9]\n",
    ]
    for cheat in cheats:
        obs, _, _, _, info = env.step(f"<answer>\n{cheat}</answer>")
        assert info["tests_passed"] == 0, obs
    env.close()
