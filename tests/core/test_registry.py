from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import mtenvs
from mtenvs.error import Error, InvalidArgumentError, UnknownEnvError


def test_list_envs_is_sorted_and_namespaced():
    ids = mtenvs.list_envs()
    assert ids == sorted(ids) and all(i.startswith("mtenvs/") for i in ids)


def test_suite_leaves_out_adapter_ids_but_keeps_representatives():
    from mtenvs.envs.web.miniwob_tasks import MINIWOB_IDS, REPRESENTATIVE_IDS

    suite = mtenvs.list_envs(suite=True)
    assert set(REPRESENTATIVE_IDS) <= set(suite)
    assert not (set(MINIWOB_IDS) - set(REPRESENTATIVE_IDS)) & set(suite)
    assert set(suite) < set(mtenvs.list_envs())
    gym.make(MINIWOB_IDS[-1]).close()  # left out of the suite, still made like any id


def test_make_without_import_via_module_prefix():
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('mtenvs:mtenvs/Sokoban-v0')\n"
        "assert 'mtenvs' in sys.modules\n"
        "obs, info = env.reset(seed=0)\n"
        "print(type(obs).__name__, info['task_id'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("str ")


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("mtenvs/Sokobn-v0", "mtenvs/Sokoban-v0"),
        ("Maze-v0", "mtenvs/Maze-v0"),
        ("mtenvs/maze-v0", "mtenvs/Maze-v0"),
    ],
)
def test_unknown_ids_suggest_close_matches(bad, hint):
    with pytest.raises(UnknownEnvError, match=f"Did you mean '{hint}'"):
        mtenvs.make(bad)


def test_unknown_kwargs_raise_mtenvs_errors_naming_allowed_ones():
    with pytest.raises(InvalidArgumentError) as err:
        gym.make("mtenvs/Sokoban-v0", dificulty="easy")
    assert "Did you mean 'difficulty'" in str(err.value) and "obs_mode" in str(err.value)
    with pytest.raises(InvalidArgumentError, match="'easy', 'medium', 'hard'"):
        gym.make("mtenvs/Maze-v0", difficulty="hrad")
    assert isinstance(err.value, Error)


def test_make_stacks_the_standard_wrappers():
    env = gym.make("mtenvs/Sokoban-v0")
    text = repr(env)
    assert "OrderEnforcing" in text and "PassiveEnvChecker" in text
    assert env.spec is not None and env.spec.id == "mtenvs/Sokoban-v0"
