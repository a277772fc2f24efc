"""``mtenvs/Web-v0``: the tasks of every web site (shop and wiki) under one id."""

from __future__ import annotations

from typing import Any

from mtenvs.envs.web import shop_data, shop_tasks, wiki_data, wiki_tasks
from mtenvs.envs.web.actions import SITE_ORIGIN
from mtenvs.envs.web.env import SiteSpec, WebEnv
from mtenvs.envs.web.oracle import shop_oracle_action
from mtenvs.envs.web.shop import product_names
from mtenvs.envs.web.wiki_oracle import wiki_oracle_action

__all__ = ["WebAllEnv"]

_SHOP = SiteSpec("shop", shop_data.ASSET, SITE_ORIGIN, "/", "a shop site")
_WIKI = SiteSpec("wiki", wiki_data.ASSET, "http://wiki.local", "/", "a wiki")


class WebAllEnv(WebEnv):
    """Tasks from every web site: WebShop-v0 and WebWiki-v0 tasks, alternating by index.

    ## Description
    Each episode is a task of ``mtenvs/WebShop-v0`` or ``mtenvs/WebWiki-v0`` (task index
    ``i`` of a split is shop task ``i // 2`` when ``i`` is even, wiki task ``i // 2`` when
    odd), on that site's own server and in a fresh browser context; the task ids are the
    sites' own (``webshop-…``, ``webwiki-…``). Verification, sub-goals and the oracle are
    the site env's. Both sites' servers are started lazily, on the first task of each.

    ## Action Space
    As ``mtenvs/WebShop-v0``: one of ``click(id)``, ``type(id, text)``, ``select(id,
    option)``, ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``goto(url)`` (paths or
    the current site's shown origin only), ``back()``, ``tab(n)``, ``answer(text)``.

    ## Observation Space
    As ``mtenvs/WebShop-v0``; URLs are shown as ``http://shop.local/…`` or
    ``http://wiki.local/…`` according to the task's site.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when `answer(...)` ends a solved task, else 0.0 |
    | `process` | the site env's sub-goal component (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on ``answer(...)`` (success or not); ``truncated`` after ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar, naming the task's site (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | e.g. `webshop-test-00012` or `webwiki-test-00007` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the task is solved (set on the final answer) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step was `answer(...)` (step only) |
    | `state_key` | hash of the task and the action history |
    | `url` | the active tab's URL (as shown) |
    | `last_action_error` | why the last browser action failed, else `None` |

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `obs_mode` | `"text"` | `text`, `image` or `text+image` |
    | `set_of_marks` | `False` | draw the element ids on the screenshot |
    | `page_load_timeout` | `5.0` | seconds an action or page load may take before it is reported and the episode goes on |
    | `eval_set` | `False` | reset picks from the fixed eval set, both sites' sets interleaved (`seed % 80`, or the next one when no seed) |
    | `max_turns` | `30` | turn budget |
    | `reward_mode` | `"outcome"` | `outcome` or `process` (adds the `process` component) |
    | `split` | `"train"` (`"test"` with `eval_set`) | disjoint task sets |
    | `render_mode` | `None` | `ansi` (the text observation) or `rgb_array` (the screenshot) |
    | `turn_cost` | `0.0` | subtracted every turn |
    | `format_penalty` | `0.1` | subtracted for a malformed reply |

    ## Registered ids
    * `mtenvs/Web-v0`

    ## Version History
    * v0: initial release (shop and wiki).
    """

    random_paths = ("/", "/search?q=a")

    def _shop(self) -> bool:
        return isinstance(self._task, shop_tasks.WebShopTask)

    def site_spec(self) -> SiteSpec:
        return _SHOP if self._shop() else _WIKI

    def make_task(self, split: str, index: int) -> Any:
        if index % 2 == 0:
            return shop_tasks.make_task(split, index // 2)
        return wiki_tasks.make_task(split, index // 2)

    def task_by_id(self, task_id: str) -> Any:
        if task_id.startswith("webwiki-"):
            return wiki_tasks.task_from_id(task_id)
        return shop_tasks.task_from_id(task_id)

    def eval_task_ids(self) -> list[str]:
        return [
            t
            for pair in zip(shop_tasks.eval_set(), wiki_tasks.eval_set(), strict=True)
            for t in pair
        ]

    def check_success(self, state: dict[str, Any], answer: str) -> bool:
        if self._shop():
            return shop_tasks.verify(self._task, state, answer)
        return wiki_tasks.verify(self._task, state, answer)

    def subgoals(self, state: dict[str, Any], path: str) -> set[str]:
        if self._shop():
            return shop_tasks.reached_subgoals(self._task, state, path)
        return wiki_tasks.reached_subgoals(self._task, state, path)

    def subgoal_total(self) -> int:
        if self._shop():
            return shop_tasks.subgoal_count(self._task)
        return wiki_tasks.subgoal_count(self._task)

    def oracle_action(self) -> str:
        self._require_started("oracle_action")
        if self._view is None:
            return "<action>goto(/)</action>"
        state = self.server_state()
        if self._shop():
            action = shop_oracle_action(self._task, self._view, state, product_names())
        else:
            action = wiki_oracle_action(self._task, self._view, state)
        return f"<action>{action}</action>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {
            "template": self._task.template,
            "gold_answer": self._task.answer,
            "site": self.site_spec().site,
            "server_state": self.server_state(),
        }
