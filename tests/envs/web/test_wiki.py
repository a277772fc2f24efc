"""WebWiki-v0 with real Chromium: links, edits through the form, history, oracle."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from mtenvs.envs.web.wiki import WebWikiEnv
from mtenvs.envs.web.wiki_tasks import TEMPLATES, eval_set, task_from_id
from tests.envs.web._support import PARTS, element_id, parts, require_browser, solve

pytestmark = pytest.mark.xdist_group("web-wiki")


@pytest.fixture(scope="module")
def env() -> Iterator[WebWikiEnv]:
    require_browser()
    e = WebWikiEnv(page_load_timeout=2.0)
    yield e
    e.close()


def test_follow_a_link_edit_and_see_the_history(env):
    obs, info = env.reset(seed=0)
    assert "URL: http://wiki.local/" in obs and info["tools"]
    obs, *_ = env.step("<action>goto(/wiki/Velmora)</action>")
    capital = re.search(r'\| Capital \| \[\d+\] link "([^"]+)"', obs).group(1)
    obs, *_, info = env.step(f"<action>click({element_id(obs, 'link', capital)})</action>")
    assert info["url"] == f"http://wiki.local/wiki/{capital.replace(' ', '_')}"
    obs, *_ = env.step(f"<action>click({element_id(obs, 'link', 'Edit')})</action>")
    obs, *_ = env.step(
        f'<action>type({element_id(obs, "textbox", "Content")}, "New text.")</action>'
    )
    obs, *_ = env.step(f'<action>type({element_id(obs, "textbox", "Summary")}, "rewrite")</action>')
    obs, *_ = env.step(f"<action>click({element_id(obs, 'button', 'Save page')})</action>")
    assert "New text." in obs
    assert env.server_state()["articles"][capital]["revisions"][-1] == {
        "rev": len(env.server_state()["articles"][capital]["revisions"]),
        "user": "Agent",
        "summary": "rewrite",
    }
    obs, *_ = env.step(f"<action>click({element_id(obs, 'link', 'History')})</action>")
    assert "| Agent | rewrite" in obs
    env.reset(seed=0)
    env.step("<action>goto(/)</action>")
    assert env.server_state()["articles"][capital]["text"] != "New text."


@pytest.mark.slow
@pytest.mark.parametrize("part", parts("web-wiki-oracle"))
def test_oracle_solves_the_whole_eval_set_reaching_every_sub_goal(part):
    """The scripted solver completes 100 % of the fixed eval set through the action
    interface, and reaches each task's sub-goals on the way (process reward 1.0)."""
    require_browser()
    e = WebWikiEnv(page_load_timeout=2.0, reward_mode="process")
    try:
        ids = eval_set()
        assert {task_from_id(t).template for t in ids} == set(TEMPLATES)
        for task_id in ids[part::PARTS]:
            e.reset(options={"task_id": task_id})
            info, total, terminated = solve(e)
            assert info["success"] and terminated, task_id
            assert total == pytest.approx(2.0), task_id
    finally:
        e.close()
