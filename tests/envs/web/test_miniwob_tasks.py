"""MiniWoB++ ids, task ids and arguments: no browser needed."""

from __future__ import annotations

import importlib.util
import re

import gymnasium as gym
import pytest

import mtenvs  # registers the ids
from mtenvs.core.args import constructor_arguments
from mtenvs.core.envdoc import parse_env_doc
from mtenvs.envs.web.miniwob import MiniWobEnv, NoOracleError
from mtenvs.envs.web.miniwob_tasks import (
    MINIWOB_IDS,
    MINIWOB_TASKS,
    REAL_TIME_TASKS,
    REPRESENTATIVE_IDS,
    REPRESENTATIVE_TASKS,
    SEEDS_PER_SPLIT,
    html_dir,
    make_task,
    task_from_id,
)
from mtenvs.error import InvalidArgumentError, ResetNeededError
from tests._support import require


def _require_miniwob() -> None:
    missing = importlib.util.find_spec("miniwob") is None
    require('miniwob is not installed (pip install "mtenvs[web]")' if missing else None, "MiniWoB")


def test_task_list_is_the_installed_packages_pages():
    _require_miniwob()
    pages = sorted(p.stem for p in (html_dir() / "miniwob").glob("*.html"))
    assert list(MINIWOB_TASKS) == pages
    assert len(pages) == 130


def test_every_task_has_an_id_and_representatives_are_tasks():
    ids = set(mtenvs.list_envs())
    assert set(MINIWOB_IDS) <= ids and len(MINIWOB_IDS) == len(MINIWOB_TASKS)
    assert set(REPRESENTATIVE_TASKS) <= set(MINIWOB_TASKS)
    assert set(REAL_TIME_TASKS) <= set(MINIWOB_TASKS)
    assert tuple(f"mtenvs/MiniWob-{t}-v0" for t in REPRESENTATIVE_TASKS) == REPRESENTATIVE_IDS
    env = gym.make("mtenvs/MiniWob-enter-text-v0")
    assert isinstance(env.unwrapped, MiniWobEnv) and env.unwrapped.task_name == "enter-text"


def test_docstring_lists_every_id_and_argument():
    doc = parse_env_doc(MiniWobEnv)
    listed = re.findall(r"`(mtenvs/MiniWob-[a-z0-9-]+-v0)`", doc.section("Registered"))
    assert listed == list(MINIWOB_IDS)
    assert set(doc.table_keys("Argument")) == set(constructor_arguments(MiniWobEnv))


def test_task_ids_round_trip_and_splits_never_share_a_page_seed():
    task = make_task("click-button", "train", 17)
    assert task.task_id == "click-button/train-17" and task.seed == 17
    assert task_from_id("click-button", task.task_id) == task
    test = make_task("click-button", "test", 17)
    assert test.seed == SEEDS_PER_SPLIT + 17
    train_seeds = {make_task("x", "train", k).seed for k in range(0, SEEDS_PER_SPLIT, 97)}
    test_seeds = {make_task("x", "test", k).seed for k in range(0, SEEDS_PER_SPLIT, 97)}
    assert not train_seeds & test_seeds
    for bad in (
        "click-button",
        "enter-text/train-1",
        "click-button/dev-1",
        "click-button/train-x",
        f"click-button/train-{SEEDS_PER_SPLIT}",
    ):
        with pytest.raises(ValueError, match="click-button/train-<k>"):
            task_from_id("click-button", bad)


def test_bad_arguments_name_the_allowed_values():
    with pytest.raises(InvalidArgumentError, match="'click-button'"):
        MiniWobEnv(task="click-buton")
    with pytest.raises(InvalidArgumentError, match="task"):
        gym.make("mtenvs/MiniWob-click-button-v0", tsk="x")
    with pytest.raises(InvalidArgumentError, match="obs_mode"):
        MiniWobEnv(obs_mode="video")
    env = MiniWobEnv()
    with pytest.raises(InvalidArgumentError, match="click-button/train-<k>"):
        env.reset(options={"task_id": "enter-text/train-0"})  # fails before any browser
    with pytest.raises(ResetNeededError):
        env.step("<action>click(1)</action>")


def test_no_oracle_is_signalled():
    env = MiniWobEnv()
    assert env.has_oracle is False and env.oracle_always_succeeds is False
    with pytest.raises(NoOracleError, match="has no scripted oracle"):
        env.oracle_action()
    assert isinstance(NoOracleError("x"), NotImplementedError)


def test_eval_set_is_fixed_test_problems():
    env = MiniWobEnv(task="enter-text", eval_set=True)
    assert env.split == "test"
    ids = env.eval_task_ids()
    assert ids[0] == "enter-text/test-0" and len(ids) == len(set(ids)) == 50
    with pytest.raises(InvalidArgumentError, match="split='test'"):
        MiniWobEnv(eval_set=True, split="train")
