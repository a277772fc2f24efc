"""``mtenvs/WebShop-v0``: shop tasks in a real browser, verified from the shop's server state."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from mtenvs.envs.web import oracle, shop_tasks
from mtenvs.envs.web.actions import SITE_ORIGIN
from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.shop_data import ASSET, load
from mtenvs.envs.web.site_env import SiteEnv, SiteTasks

__all__ = ["WebShopEnv", "product_names"]


class WebShopEnv(SiteEnv):
    """Shop in a self-hosted web shop through Chromium: buy, look things up, edit the account.

    ## Description
    A small shop site (``sandboxes/web/shop.py``: search with category/brand/price filters
    and sorting, product pages, cart, checkout form, order history with invoice downloads,
    account page) keeps its state in memory and runs in a ``mtenvs/web`` container with no
    network (reached through a forwarded loopback port), or as a local process on a
    loopback port when Docker is absent (`site_backend`); Chromium (Debian's, through
    Playwright) shows it. Every episode starts from the
    same seeded state (``assets/web/shop.json``: 54 products, 3 past orders, one account)
    in a fresh browser context. Task templates: `buy_named`, `buy_cheapest` (category and
    rating constraints, a given address and shipping speed), `answer_price`, `answer_sku`,
    `answer_cheapest` (filters and sorting), `answer_order_total`, `update_contact`,
    `update_address`, `compare_products` (which of two products is cheaper or better rated:
    both product pages), `buy_again` (an item of a past order, in that order's quantity,
    read from the order history). Buy and update tasks are verified from the server's state
    (exactly one new order with the right item, quantity, address and shipping; the account
    holding exactly the new values); questions by an exact answer (case, spaces, ``$`` and
    commas ignored). Requests outside the site are aborted before they leave the machine.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict; schemas in
    ``mtenvs.envs.web.actions.WEB_TOOLS``): one action in ``<action>…</action>`` (or a bare
    call): ``click(id)``, ``type(id, text)`` (replaces the text), ``select(id, option)``
    (option text), ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``goto(url)`` (a
    path such as ``/cart`` or a ``http://shop.local/…`` URL only), ``back()``, ``tab(n)``,
    ``answer(text)`` (also ``<answer>…</answer>``) ends the episode. ``id`` is the
    ``[number]`` of an element in the page outline (or on its set-of-marks box in the
    screenshot). A malformed reply is a parse error (the
    browser is not touched), and so is a ``type()`` text that does not fit a date/time
    input's format (with the ``format`` penalty); a well-formed action that fails (unknown
    id, wrong element kind, bad option, timeout) is reported in the observation's ``Last
    action`` line.

    ## Observation Space
    ``obs_mode="text"``: a ``str``: the task, the URL (shown as ``http://shop.local/…``),
    title, open tabs, the last action and its error, events (dialogs accepted, new tabs,
    downloads blocked, blocked outside requests, loads that did not finish) and the page
    outline: headings, text, table rows, and interactive elements as ``[id] kind "name"``
    with values and options; date and time inputs show their value format (``[12] textbox
    "Due date" (date, YYYY-MM-DD) value="2024-03-01"``) and radio buttons their group
    (``[7] radio "Yes" (group "Subscribe?") checked``). ``"image"`` / ``"text+image"``:
    ``Dict({"text": str, "image": uint8 (600, 800, 3)})``, a viewport screenshot, with
    set-of-marks boxes labelled by the same ids when ``set_of_marks`` is on (by default
    with a screenshot). Screenshots show the page only: a native popup an action opened
    (a ``<select>``'s list, a date picker) is closed after the action.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the task, the URL, title, open tabs, the last action and its result, events, and the page outline (headings, text, table rows, interactive elements with values and options) |
    | `image` | the task, the URL, title, open tabs, the last action and its result, events, and the options of the page's lists (a `<select>`'s list is a native popup no screenshot shows; `select()` names an option). No page outline: the page is only in the screenshot, whose set-of-marks boxes (on by default) carry the ids the actions name |
    | `text+image` | the same text as `text`, with the same screenshot as `image` |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when `answer(...)` ends a solved task, else 0.0 |
    | `process` | 1/k for each of the task's k verifiable sub-goals reached for the first time (right product page, right item and quantity in the cart, order placed; account page, values saved; orders or search page; each compared product's page) (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply, or a `type()` text not in a date/time input's format |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on ``answer(...)`` (success or not); ``truncated`` after ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | e.g. `webshop-test-00012` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the task is solved (set on the final answer) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step was `answer(...)` (step only) |
    | `state_key` | hash of the task and the action history |
    | `url` | the active tab's URL (as shown, `http://shop.local/…`) |
    | `last_action_error` | why the last browser action failed, else `None` |

    The gold answer, target product and server state are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `set_of_marks` | `None` | draw the element ids on the screenshot; `None`: on with a screenshot (`obs_mode` `"image"`, whose text has no outline to read the ids from, or `"text+image"`), off otherwise |
    | `page_load_timeout` | `5.0` | seconds an action or page load may take before it is reported and the episode goes on |
    | `site_backend` | `"auto"` | where the site server runs: `docker` (a `mtenvs/web` container with no network, reached through a forwarded loopback port), `local` (a child process on a loopback port), or `auto` (Docker when the engine is reachable and the image built, else local) |

    ## Registered ids
    * `mtenvs/WebShop-v0`

    ## Version History
    * v0: initial release. With `eval_set`, a reset without a seed plays the task after
      the last one played (replayed the last seeded task); seeded resets and scores are
      unchanged.
    """

    site = "shop"
    tasks: ClassVar[SiteTasks] = shop_tasks
    site_data = ASSET
    site_description = "a shop site"
    display_origin = SITE_ORIGIN
    random_paths = ("/", "/search", "/cart", "/orders", "/account", "/checkout")

    def site_oracle_action(self, view: PageView) -> str:
        return oracle.shop_oracle_action(self.task, view, self.server_state(), product_names())

    def privileged_target(self) -> dict[str, Any]:
        return {"target_product_id": self.task.product_id}


@lru_cache(maxsize=1)
def product_names() -> dict[int, str]:
    """Product id -> name, from the seeded shop data."""
    return {p["id"]: p["name"] for p in load()["products"]}
