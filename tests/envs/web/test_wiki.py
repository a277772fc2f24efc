"""WebWiki-v0 with real Chromium: links, edits through the form, history, oracle."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from mtenvs.envs.web.wiki import WebWikiEnv
from mtenvs.envs.web.wiki_tasks import TEMPLATES, eval_set, task_from_id
from tests.envs.web._support import require_browser

pytestmark = pytest.mark.xdist_group("chromium")


@pytest.fixture(scope="module")
def env() -> Iterator[WebWikiEnv]:
    require_browser()
    e = WebWikiEnv(page_load_timeout=2.0)
    yield e
    e.close()


def _id(obs: str, kind: str, name: str) -> int:
    match = re.search(rf'\[(\d+)\] {kind} "{re.escape(name)}"', obs)
    assert match, f"no {kind} {name!r} in:\n{obs}"
    return int(match.group(1))


def test_follow_a_link_edit_and_see_the_history(env):
    obs, info = env.reset(seed=0)
    assert "URL: http://wiki.local/" in obs and info["tools"]
    obs, *_ = env.step("<action>goto(/wiki/Velmora)</action>")
    capital = re.search(r'\| Capital \| \[\d+\] link "([^"]+)"', obs).group(1)
    obs, *_, info = env.step(f"<action>click({_id(obs, 'link', capital)})</action>")
    assert info["url"] == f"http://wiki.local/wiki/{capital.replace(' ', '_')}"
    obs, *_ = env.step(f"<action>click({_id(obs, 'link', 'Edit')})</action>")
    obs, *_ = env.step(f'<action>type({_id(obs, "textbox", "Content")}, "New text.")</action>')
    obs, *_ = env.step(f'<action>type({_id(obs, "textbox", "Summary")}, "rewrite")</action>')
    obs, *_ = env.step(f"<action>click({_id(obs, 'button', 'Save page')})</action>")
    assert "New text." in obs
    assert env.server_state()["articles"][capital]["revisions"][-1] == {
        "rev": len(env.server_state()["articles"][capital]["revisions"]),
        "user": "Agent",
        "summary": "rewrite",
    }
    obs, *_ = env.step(f"<action>click({_id(obs, 'link', 'History')})</action>")
    assert "| Agent | rewrite" in obs
    env.reset(seed=0)
    env.step("<action>goto(/)</action>")
    assert env.server_state()["articles"][capital]["text"] != "New text."


def test_oracle_solves_one_eval_task_per_template(env):
    chosen: dict[str, str] = {}
    for task_id in eval_set():
        chosen.setdefault(task_from_id(task_id).template, task_id)
    assert set(chosen) == set(TEMPLATES)
    for task_id in chosen.values():
        env.reset(options={"task_id": task_id})
        for _ in range(env.max_turns):
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            if terminated or truncated:
                break
        assert info["success"] and terminated, task_id
