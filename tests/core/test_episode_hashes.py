"""Every suite env plays exactly the episodes it played when the record was taken
(``tests/core/data/episode_hashes.json``; see :mod:`tests.core.episode_hashes`). A change
of behaviour, wanted or not, shows here: re-record it on purpose with
``python -m tests.core.episode_hashes --write`` and say why in the commit."""

from __future__ import annotations

import json

import pytest

import mtenvs
from tests.core.episode_hashes import RECORD, SEEDS, agents_for, episode_hash

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("episode_hashes")]

RECORDED: dict[str, str] = json.loads(RECORD.read_text())


def test_the_record_covers_the_suite():
    expected = {
        f"{env_id} {agent} seed={seed}"
        for env_id in mtenvs.list_envs(suite=True)
        for agent in agents_for(env_id)
        for seed in SEEDS
    }
    assert set(RECORDED) == expected


@pytest.mark.parametrize("env_id", mtenvs.list_envs(suite=True))
def test_episodes_match_the_record(env_id: str):
    changed = {}
    for agent in agents_for(env_id):
        for seed in SEEDS:
            key = f"{env_id} {agent} seed={seed}"
            got = episode_hash(env_id, agent, seed)
            if got != RECORDED.get(key):
                changed[key] = (RECORDED.get(key), got)
    assert not changed, f"episodes changed (recorded, now): {changed}"
