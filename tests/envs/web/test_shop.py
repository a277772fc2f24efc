"""WebShop-v0 with real Chromium: actions, browser edge cases, egress, isolation, oracle."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  # registers the ids
from mtenvs.envs.web.shop import WebShopEnv
from mtenvs.envs.web.shop_tasks import TEMPLATES, eval_set, task_from_id
from tests.envs.web._support import PARTS, act, element_id, parts, require_browser, solve

pytestmark = pytest.mark.xdist_group("web-shop")


@pytest.fixture(scope="module")
def env() -> Iterator[WebShopEnv]:
    require_browser()
    e = WebShopEnv(page_load_timeout=1.5)
    yield e
    e.close()


def test_reset_and_step_contract(env):
    obs, info = env.reset(seed=0)
    assert obs.startswith("Task: ") and "URL: http://shop.local/" in obs
    assert "127.0.0.1" not in obs and info["tools"] and info["url"] == "http://shop.local/"
    obs, reward, terminated, truncated, info = env.step("no action here")
    assert info["parse_error"] and "click(id)" in obs and reward == pytest.approx(-0.1)
    assert not terminated and not truncated


def test_each_action_type(env):
    obs, _ = env.reset(seed=0)
    obs, info = act(env, f'type({element_id(obs, "textbox", "Search", prefix=True)}, "lamp")')
    assert 'value="lamp"' in obs and info["last_action_error"] is None
    obs, _ = act(
        env, f'select({element_id(obs, "combobox", "Sort by", prefix=True)}, "Price: low to high")'
    )
    assert 'selected="Price: low to high"' in obs
    obs, _ = act(env, f"hover({element_id(obs, 'button', 'Search', prefix=True)})")
    obs, info = act(env, "press(Enter)")
    assert "/search?q=lamp" in info["url"] and "sort=price_asc" in info["url"]
    prices = [float(p) for p in re.findall(r'link "[^"]+" \$(\d+\.\d+)', obs)]
    assert prices == sorted(prices) and prices
    session = env.unwrapped.session
    room = session.call(
        lambda: session.page.evaluate("document.documentElement.scrollHeight - innerHeight")
    )
    obs, _ = act(env, "scroll(down)")
    assert session.call(lambda: session.page.evaluate("window.scrollY")) == min(room, 480)
    obs, info = act(env, f"click({element_id(obs, 'link', 'Cart', prefix=True)})")
    assert info["url"] == "http://shop.local/cart" and "Your cart is empty" in obs
    obs, info = act(env, "back()")
    assert "/search" in info["url"]
    obs, info = act(env, "goto(/account)")
    assert info["url"] == "http://shop.local/account"
    obs, _, terminated, _, info = env.step("<action>answer(done)</action>")
    assert terminated and info["final_answer"]


def test_bad_actions_are_reported_not_raised(env):
    obs, _ = env.reset(seed=0)
    obs, info = act(env, "click(999)")
    assert "no element [999]" in info["last_action_error"] and "click(id)" in obs
    obs, info = act(env, f'type({element_id(obs, "link", "Home", prefix=True)}, "x")')
    assert "not a textbox" in info["last_action_error"]
    obs, info = act(env, f'select({element_id(obs, "combobox", "Category", prefix=True)}, "Cars")')
    assert "not an option" in info["last_action_error"] and "Backpacks" in obs
    obs, info = act(env, "tab(3)")
    assert "no tab 3" in info["last_action_error"]


def test_dialog_popup_and_download_are_reported(env):
    env.reset(seed=0)
    obs, _ = act(env, "goto(/lab/dialog)")
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Ask', prefix=True)})")
    assert "confirm dialog said 'Really?'" in obs and "\nyes" in obs
    obs, _ = act(env, "goto(/lab/popup)")
    obs, _ = act(env, f"click({element_id(obs, 'link', 'Open help', prefix=True)})")
    assert "A new tab opened (tab 1)" in obs and "[1] Lab (active)" in obs
    assert "Popup target" in obs
    obs, _ = act(env, "tab(0)")
    assert "[0] Lab (active)" in obs
    obs, _ = act(env, "goto(/orders/1001)")
    obs, _ = act(env, f"click({element_id(obs, 'link', 'Download invoice', prefix=True)})")
    assert "download of 'invoice-1001.txt' was blocked" in obs


def test_never_finishing_page_is_reported(env):
    env.reset(seed=0)
    start = time.monotonic()
    obs, _ = act(env, "goto(/lab/slow)")
    assert time.monotonic() - start < 8
    assert "did not finish loading" in obs and "Loading forever" in obs
    obs, _ = act(env, "goto(/)")
    assert "Welcome to the Shop" in obs


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_requests_outside_the_site_are_aborted_before_leaving(env):
    outside = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=outside.serve_forever, daemon=True).start()
    try:
        env.reset(seed=0)
        obs, _ = act(env, "goto(/lab/external)")
        assert "Blocked a request outside the site: http://outside.example.com" in obs
        session = env.unwrapped.session
        other = f"http://127.0.0.1:{outside.server_address[1]}/beacon"
        session.call(lambda: session.page.evaluate("(u) => fetch(u).catch(() => 'blocked')", other))
        session.call(
            lambda: session.page.evaluate(
                "(u) => new Promise(r => { const i = new Image(); i.onerror = r; "
                "i.src = u + '?img'; })",
                other,
            )
        )
        assert _Counter.hits == 0
        assert other in env.unwrapped.session.blocked
    finally:
        outside.shutdown()


def test_two_concurrent_episodes_are_isolated(env):
    other = WebShopEnv(page_load_timeout=1.5)
    try:
        env.reset(seed=0)
        other.reset(seed=0)
        obs, _ = act(env, "goto(/product/102)")
        act(env, f"click({element_id(obs, 'button', 'Add to cart', prefix=True)})")
        obs_other, _ = act(other, "goto(/cart)")
        assert "Your cart is empty" in obs_other
        assert env.server_state()["cart"] and not other.server_state()["cart"]
        env.reset(seed=0)
        obs, _ = act(env, "goto(/cart)")
        assert "Your cart is empty" in obs and not env.server_state()["cart"]
    finally:
        other.close()


def test_image_observation_and_set_of_marks():
    require_browser()
    plain = WebShopEnv(obs_mode="text+image", set_of_marks=False)
    marked = WebShopEnv(obs_mode="text+image")  # marks are on by default with a screenshot
    try:
        a, _ = plain.reset(seed=0)
        b, _ = marked.reset(seed=0)
        assert a["image"].shape == (600, 800, 3) and a["image"].dtype == np.uint8
        assert plain.observation_space.contains(a) and marked.observation_space.contains(b)
        assert not np.array_equal(a["image"], b["image"])
        assert a["text"] == b["text"]
        # equal pages give equal pixels, right after a navigation too
        shots = []
        for _ in range(2):
            plain.reset(seed=0)
            obs, *_ = plain.step("<action>goto(/search?q=lamp)</action>")
            shots.append(obs["image"])
        assert np.array_equal(shots[0], shots[1]) and not np.array_equal(shots[0], a["image"])
        # a focused textbox shows no blinking caret: the pixels do not depend on the moment
        search = element_id(obs["text"], "textbox", "Search", prefix=True)
        obs, *_ = plain.step(f'<action>type({search}, "desk lamp")</action>')
        session = plain.unwrapped.session
        first = session.screenshot(False)
        time.sleep(0.6)  # more than half of Chromium's caret blink period
        assert np.array_equal(first, session.screenshot(False))
        assert np.array_equal(first, obs["image"])
    finally:
        plain.close()
        marked.close()


def test_image_mode_text_has_no_outline():
    """Under obs_mode="image" the page is only in the (marked) screenshot; the text keeps
    the task, URL, tabs, last action and the options of the page's lists."""
    require_browser()
    image = WebShopEnv(obs_mode="image")
    text = WebShopEnv()
    try:
        assert image.set_of_marks and not text.set_of_marks
        obs, info = image.reset(seed=0)
        outline, text_info = text.reset(seed=0)
        assert "Page:" not in obs["text"] and "Page:" in outline
        head = outline.split("\nPage:\n")[0]
        assert obs["text"].startswith(head)
        assert '[10] "Sort by": Relevance | Price: low to high' in obs["text"]
        assert "screenshot" in info["system_prompt"] and "outline" in text_info["system_prompt"]
        # select() still works by the listed option's text
        obs, *_ = image.step("<action>select(10, Rating)</action>")
        assert "Last action: select(10, 'Rating') -> ok" in obs["text"]
    finally:
        image.close()
        text.close()


@pytest.mark.slow
@pytest.mark.parametrize("part", parts("web-shop-oracle"))
def test_oracle_solves_the_whole_eval_set_reaching_every_sub_goal(part):
    """The scripted solver completes 100 % of the fixed eval set through the action
    interface, and reaches each task's sub-goals on the way (process reward 1.0)."""
    require_browser()
    e = WebShopEnv(page_load_timeout=2.0, reward_mode="process")
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


def test_an_episode_is_verified_against_its_own_site_state(env):
    """An answer before any browser action sees the seeded state, not the last episode's."""
    task_id = next(t for t in eval_set() if task_from_id(t).template == "update_contact")
    env.reset(options={"task_id": task_id})
    while True:
        _, _, terminated, _, info = env.step(env.oracle_action())
        if terminated:
            break
    assert info["success"]
    env.reset(options={"task_id": task_id})
    _, _, terminated, _, info = env.step("<action>answer(done)</action>")
    assert terminated and not info["success"]


def test_process_reward_counts_sub_goals():
    require_browser()
    e = gym.make("mtenvs/WebShop-v0", reward_mode="process")
    try:
        task_id = next(t for t in eval_set() if task_from_id(t).template == "buy_named")
        e.reset(options={"task_id": task_id})
        total = 0.0
        while True:
            _, reward, terminated, truncated, info = e.step(e.unwrapped.oracle_action())
            total += reward
            if terminated or truncated:
                break
        assert info["success"] and total == pytest.approx(2.0)
    finally:
        e.close()


def test_envs_may_be_stepped_from_any_thread(env):
    env.reset(seed=0)
    env.step("<action>goto(/cart)</action>")
    results: list[object] = []

    def step() -> None:
        results.append(env.step("<action>goto(/orders)</action>")[4]["url"])

    worker = threading.Thread(target=step)
    worker.start()
    worker.join()
    assert results == ["http://shop.local/orders"]
    assert env.step("<action>goto(/)</action>")[4]["url"] == "http://shop.local/"
