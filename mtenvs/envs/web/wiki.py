"""``mtenvs/WebWiki-v0``: multi-hop questions and edits on a self-hosted wiki, in Chromium."""

from __future__ import annotations

from typing import Any, ClassVar

from mtenvs.envs.web import wiki_tasks
from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.site_env import SiteEnv, SiteTasks
from mtenvs.envs.web.wiki_data import ASSET
from mtenvs.envs.web.wiki_oracle import wiki_oracle_action

__all__ = ["WebWikiEnv"]


class WebWikiEnv(SiteEnv):
    """Answer questions by following wiki links, read edit histories, and edit articles.

    ## Description
    A small wiki (``sandboxes/web/wiki.py``: 36 linked articles about fictional countries,
    cities and people with infoboxes, search, categories, edit forms and edit histories)
    keeps its state in memory and runs in a ``mtenvs/web`` container with no network, or as
    a local process on a loopback port when Docker is absent (`site_backend`), shown in
    Chromium through Playwright. Every episode starts from the seeded state
    (``assets/web/wiki.json``) in a fresh browser context. Task templates: `city_fact`,
    `birth_country` (two articles), `birth_capital` (three), `capital_founder`,
    `founder_job`, `birth_country_fact` (a fact of a person's birth country: two links
    away), `compare_population` (two city infoboxes), `first_editor`, `revision_count`,
    `latest_summary` (history page) and `append_sentence` (an edit with a given summary). Questions are checked against an exact answer (case,
    spaces, ``$`` and commas ignored); edits against the server state (the article's new
    text, exactly one new revision with the right summary, no other article changed).

    ## Action Space
    As ``mtenvs/WebShop-v0``: one of ``click(id)``, ``type(id, text)``, ``select(id,
    option)``, ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``goto(url)`` (paths or
    ``http://wiki.local/…`` only), ``back()``, ``tab(n)``, ``answer(text)`` in
    ``<action>…</action>``, as a tool call (``WEB_TOOLS``) or bare.

    ## Observation Space
    As ``mtenvs/WebShop-v0`` (URLs shown as ``http://wiki.local/…``): a ``str`` outline, or
    ``Dict({"text": str, "image": uint8 (600, 800, 3)})`` for ``"image"`` / ``"text+image"``.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the task, the URL, title, open tabs, the last action and its result, events, and the page outline (headings, text, table rows, interactive elements with values and options) |
    | `image` | the task, the URL, title, open tabs, the last action and its result, events, and the options of the page's lists (a `<select>`'s list is a native popup no screenshot shows; `select()` names an option). No page outline: the page is only in the screenshot, whose set-of-marks boxes (on by default) carry the ids the actions name |
    | `text+image` | the same text as `text`, with the same screenshot as `image` |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when `answer(...)` ends a solved task, else 0.0 |
    | `process` | 1/k for each of the task's k sub-goals reached for the first time (each article on the path opened; history page; edit page; edit saved) (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply, or a `type()` text not in a date/time input's format |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on ``answer(...)`` (success or not); ``truncated`` after ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | e.g. `webwiki-test-00012` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the task is solved (set on the final answer) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step was `answer(...)` (step only) |
    | `state_key` | hash of the task and the action history |
    | `url` | the active tab's URL (as shown, `http://wiki.local/…`) |
    | `last_action_error` | why the last browser action failed, else `None` |

    The gold answer, the article path and the server state are privileged.

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `set_of_marks` | `None` | draw the element ids on the screenshot; `None`: on with a screenshot (`obs_mode` `"image"`, whose text has no outline to read the ids from, or `"text+image"`), off otherwise |
    | `page_load_timeout` | `5.0` | seconds an action or page load may take before it is reported and the episode goes on |
    | `site_backend` | `"auto"` | where the site server runs: `docker` (a `mtenvs/web` container with no network, reached through a forwarded loopback port), `local` (a child process on a loopback port), or `auto` (Docker when the engine is reachable and the image built, else local) |

    ## Registered ids
    * `mtenvs/WebWiki-v0`

    ## Version History
    * v0: initial release. With `eval_set`, a reset without a seed plays the task after
      the last one played (replayed the last seeded task); seeded resets and scores are
      unchanged.
    """

    site = "wiki"
    tasks: ClassVar[SiteTasks] = wiki_tasks
    site_data = ASSET
    site_description = "a wiki"
    display_origin = "http://wiki.local"
    random_paths = (
        "/",
        "/search?q=city",
        "/category/People",
        "/wiki/Velmora",
        "/wiki/Arden/history",
        "/wiki/Arden/edit",
    )

    def site_oracle_action(self, view: PageView) -> str:
        return wiki_oracle_action(self.task, view, self.server_state())

    def privileged_target(self) -> dict[str, Any]:
        return {"article_path": self.task.path}
