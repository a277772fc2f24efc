"""``mtenvs/Web-v0``: the tasks of every web site (shop, wiki and admin) under one id."""

from __future__ import annotations

from typing import Any

from mtenvs.envs.web import admin_data, admin_tasks, shop_data, shop_tasks, wiki_data, wiki_tasks
from mtenvs.envs.web.actions import SITE_ORIGIN
from mtenvs.envs.web.admin import ADMIN_ORIGIN, WebAdminEnv
from mtenvs.envs.web.admin_oracle import admin_oracle_action
from mtenvs.envs.web.env import SiteSpec, WebEnv
from mtenvs.envs.web.oracle import shop_oracle_action
from mtenvs.envs.web.shop import product_names
from mtenvs.envs.web.site_env import SiteTasks
from mtenvs.envs.web.wiki_oracle import wiki_oracle_action

__all__ = ["WebAllEnv"]

_SHOP = SiteSpec("shop", shop_data.ASSET, SITE_ORIGIN, "/", "a shop site")
_WIKI = SiteSpec("wiki", wiki_data.ASSET, "http://wiki.local", "/", "a wiki")
_ADMIN = SiteSpec(
    "admin", admin_data.ASSET, ADMIN_ORIGIN, WebAdminEnv.start_path, "an admin (back-office) site"
)
_SPECS = {"shop": _SHOP, "wiki": _WIKI, "admin": _ADMIN}
#: The task modules, in the order task indices interleave them.
_TASKS: dict[str, SiteTasks] = {"shop": shop_tasks, "wiki": wiki_tasks, "admin": admin_tasks}


class WebAllEnv(WebEnv):
    """Tasks from every web site: WebShop-v0, WebWiki-v0 and WebAdmin-v0 tasks, in turn.

    ## Description
    Each episode is a task of ``mtenvs/WebShop-v0``, ``mtenvs/WebWiki-v0`` or
    ``mtenvs/WebAdmin-v0`` (task index ``i`` of a split is shop task ``i // 3`` when
    ``i % 3 == 0``, wiki task ``i // 3`` when ``i % 3 == 1``, admin task ``i // 3`` when
    ``i % 3 == 2``), on that site's own server and in a fresh browser context; the task ids
    are the sites' own (``webshop-…``, ``webwiki-…``, ``webadmin-…``). Verification,
    sub-goals and the oracle are the site env's. Each site's server is started lazily, on
    the first task of that site.

    ## Action Space
    As ``mtenvs/WebShop-v0``: one of ``click(id)``, ``type(id, text)``, ``select(id,
    option)``, ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``goto(url)`` (paths or
    the current site's shown origin only), ``back()``, ``tab(n)``, ``answer(text)``.

    ## Observation Space
    As ``mtenvs/WebShop-v0``; URLs are shown as ``http://shop.local/…``,
    ``http://wiki.local/…`` or ``http://admin.local/…`` according to the task's site.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the task, the URL, title, open tabs, the last action and its result, events, and the page outline (headings, text, table rows, interactive elements with values and options) |
    | `image` | the task, the URL, title, open tabs, the last action and its result, events, and the options of the page's lists (a `<select>`'s list is a native popup no screenshot shows; `select()` names an option). No page outline: the page is only in the screenshot, whose set-of-marks boxes (on by default) carry the ids the actions name |
    | `text+image` | the same text as `text`, with the same screenshot as `image` |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when `answer(...)` ends a solved task, else 0.0 |
    | `process` | the site env's sub-goal component (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply, or a `type()` text not in a date/time input's format |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on ``answer(...)`` (success or not); ``truncated`` after ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar, naming the task's site (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | e.g. `webshop-test-00012`, `webwiki-test-00007` or `webadmin-test-00003` (reset only) |
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
    | `set_of_marks` | `None` | draw the element ids on the screenshot; `None`: on with a screenshot (`obs_mode` `"image"`, whose text has no outline to read the ids from, or `"text+image"`), off otherwise |
    | `page_load_timeout` | `5.0` | seconds an action or page load may take before it is reported and the episode goes on |
    | `eval_set` | `False` | reset picks from the fixed eval set, the three sites' sets interleaved (`seed % 120`, or the next one when no seed) |
    | `site_backend` | `"auto"` | where the site server runs: `docker` (a `mtenvs/web` container with no network, reached through a forwarded loopback port), `local` (a child process on a loopback port), or `auto` (Docker when the engine is reachable and the image built, else local) |

    ## Registered ids
    * `mtenvs/Web-v0`

    ## Version History
    * v0: initial release (shop, wiki and admin).
      With `eval_set`, a reset without a seed plays the task after the last one played
      (replayed the last seeded task); seeded resets and scores are unchanged.
    """

    random_paths = ("/", "/search?q=a")

    def _site(self) -> str:
        task = self._task
        # before the first reset: the shop, the site of task 0
        if task is None or isinstance(task, shop_tasks.WebShopTask):
            return "shop"
        return "admin" if isinstance(task, admin_tasks.WebAdminTask) else "wiki"

    def _shop(self) -> bool:
        return self._site() == "shop"

    def site_spec(self) -> SiteSpec:
        return _SPECS[self._site()]

    def make_task(self, split: str, index: int) -> Any:
        site = list(_TASKS.values())[index % len(_TASKS)]
        return site.make_task(split, index // len(_TASKS))

    def task_by_id(self, task_id: str) -> Any:
        if task_id.startswith("webwiki-"):
            return wiki_tasks.task_from_id(task_id)
        if task_id.startswith("webadmin-"):
            return admin_tasks.task_from_id(task_id)
        return shop_tasks.task_from_id(task_id)

    def eval_task_ids(self) -> list[str]:
        sets = [site.eval_set() for site in _TASKS.values()]
        return [t for triple in zip(*sets, strict=True) for t in triple]

    def check_success(self, state: dict[str, Any], answer: str) -> bool:
        return _TASKS[self._site()].verify(self.task, state, answer)

    def subgoals(self, state: dict[str, Any], path: str) -> set[str]:
        return _TASKS[self._site()].reached_subgoals(self.task, state, path)

    def subgoal_total(self) -> int:
        return _TASKS[self._site()].subgoal_count(self.task)

    def oracle_action(self) -> str:
        self._require_started("oracle_action")
        if self._view is None:
            return "<action>goto(/)</action>"
        if self._site() == "admin":  # reads the page only, not the server state
            action = admin_oracle_action(self.task, self._view)
        elif self._shop():
            action = shop_oracle_action(self.task, self._view, self.server_state(), product_names())
        else:
            action = wiki_oracle_action(self.task, self._view, self.server_state())
        return f"<action>{action}</action>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return {
            "template": self.task.template,
            "gold_answer": self.task.answer,
            "site": self.site_spec().site,
            "server_state": self.server_state(),
        }
