"""``mtenvs/WebAdmin-v0``: back-office tasks (login, CRUD tables, a wizard, settings, audit
log) on a self-hosted admin site in Chromium, verified from the site's server state."""

from __future__ import annotations

from typing import Any, ClassVar

from mtenvs.envs.web import admin_tasks
from mtenvs.envs.web.admin_data import ASSET
from mtenvs.envs.web.admin_oracle import admin_oracle_action
from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.site_env import SiteEnv, SiteTasks

__all__ = ["ADMIN_ORIGIN", "WebAdminEnv"]

#: The admin site's origin as shown to the agent.
ADMIN_ORIGIN = "http://admin.local"


class WebAdminEnv(SiteEnv):
    """Operate a self-hosted admin site through Chromium: log in, edit tables, fill forms.

    ## Description
    A small back office (``sandboxes/web/admin.py``) runs as a local server process on a
    free loopback port with its state in memory, shown in Chromium through Playwright. It
    has a login page (the seeded credentials are given in every task's text; every other
    page redirects to it without a session), users / teams / tickets tables with create,
    edit and delete (list pages with filters, sorting and pagination as ``<select>``s and
    page links), a three-step New ticket wizard (details, assignment, review) that shows
    validation errors, ``<input type=date>`` fields (``type()`` them as ``YYYY-MM-DD``), a
    settings page (text, select, checkboxes, radio buttons, a date) and an audit log of
    every change. Every episode starts from the seeded state (``assets/web/admin.json``: 42
    users, 6 teams, 36 tickets, 33 audit entries) in a fresh browser context, logged out.
    Task templates: `change_role` (and answer the audit entry that records it),
    `deactivate_sorted` (the user in row k of page n of a sorted list), `create_ticket`
    (through the wizard), `reassign_ticket` (assignee and due date), `delete_tickets`
    (every ticket matching two conditions), `update_settings` (three settings),
    `create_user`, `change_team_lead`, `answer_count` (filters), `answer_sorted` (sorting
    and pagination), `answer_audit` (who made a logged change), `answer_ticket_due`.
    Changing tasks are verified from the server's tables (the asked change made, every
    other row untouched); questions by an exact answer (case, spaces and a leading ``#``
    ignored).

    ## Action Space
    As ``mtenvs/WebShop-v0``: one of ``click(id)``, ``type(id, text)``, ``select(id,
    option)``, ``hover(id)``, ``press(key)``, ``scroll(up|down)``, ``goto(url)`` (paths or
    ``http://admin.local/…`` only), ``back()``, ``tab(n)``, ``answer(text)`` in
    ``<action>…</action>``, as a tool call (``WEB_TOOLS``) or bare. Checkboxes and radio
    buttons are set with ``click``; confirmation dialogs (delete buttons) are accepted and
    reported.

    ## Observation Space
    As ``mtenvs/WebShop-v0`` (URLs shown as ``http://admin.local/…``): a ``str`` outline,
    or ``Dict({"text": str, "image": uint8 (600, 800, 3)})`` for ``"image"`` /
    ``"text+image"``.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | the task, the URL, title, open tabs, the last action and its result, events, and the page outline (headings, text, table rows, interactive elements with values and options) |
    | `image` | the task, the URL, title, open tabs, the last action and its result, events, and the options of the page's lists (a `<select>`'s list is a native popup no screenshot shows; `select()` names an option). No page outline: the page is only in the screenshot, whose set-of-marks boxes (on by default) carry the ids the actions name |
    | `text+image` | the same text as `text`, with the same screenshot as `image` |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 when `answer(...)` ends a solved task, else 0.0 |
    | `process` | 1/k for each of the task's k verifiable sub-goals reached for the first time (logged in; each page the task needs opened: the record's edit page, the list, the wizard, the audit log; the asked change present in the server state) (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply, or a `type()` text not in a date/time input's format |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on ``answer(...)`` (success or not); ``truncated`` after ``max_turns``.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and the action grammar (reset only) |
    | `tools` | OpenAI function schemas of the actions (reset only) |
    | `task_id` | e.g. `webadmin-test-00012` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the task is solved (set on the final answer) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | this step was `answer(...)` (step only) |
    | `state_key` | hash of the task and the action history |
    | `url` | the active tab's URL (as shown, `http://admin.local/…`) |
    | `last_action_error` | why the last browser action failed, else `None` |

    The gold answer, the target rows and the server state are privileged
    (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `set_of_marks` | `None` | draw the element ids on the screenshot; `None`: on with a screenshot (`obs_mode` `"image"`, whose text has no outline to read the ids from, or `"text+image"`), off otherwise |
    | `page_load_timeout` | `5.0` | seconds an action or page load may take before it is reported and the episode goes on |
    | `site_backend` | `"auto"` | where the site server runs: `docker` (a `mtenvs/web` container with no network, reached through a forwarded loopback port), `local` (a child process on a loopback port), or `auto` (Docker when the engine is reachable and the image built, else local) |

    ## Registered ids
    * `mtenvs/WebAdmin-v0`

    ## Version History
    * v0: initial release. With `eval_set`, a reset without a seed plays the task after
      the last one played (replayed the last seeded task); seeded resets and scores are
      unchanged.
    """

    site = "admin"
    tasks: ClassVar[SiteTasks] = admin_tasks
    site_data = ASSET
    site_description = "an admin (back-office) site"
    display_origin = ADMIN_ORIGIN
    #: Episodes start logged out, on the sign-in page.
    start_path = "/login"
    random_paths = (
        "/",
        "/login",
        "/users?sort=joined&order=desc&page=2",
        "/users/3",
        "/tickets",
        "/tickets/new",
        "/settings",
        "/audit",
    )

    def site_oracle_action(self, view: PageView) -> str:
        return admin_oracle_action(self.task, view)

    def privileged_target(self) -> dict[str, Any]:
        task = self.task
        return {"target": {"user": task.user_id, "ticket": task.ticket_id, "team": task.team_id}}
