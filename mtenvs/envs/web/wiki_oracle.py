"""The scripted wiki solver: follows the task's article path by clicking links.

It reaches the first article through the search box, then clicks the link to each next
article on the path, opens the history or edit page where the task needs one, and answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mtenvs.envs.web.browser import PageView
from mtenvs.envs.web.oracle import fill, find
from mtenvs.envs.web.wiki_tasks import HISTORY_TEMPLATES, WebWikiTask, reached_subgoals

__all__ = ["wiki_oracle_action"]


def _where(url: str) -> tuple[str | None, str]:
    """(article title, "" | "history" | "edit") of a wiki URL."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "wiki":
        return unquote(parts[1]).replace("_", " "), parts[2] if len(parts) == 3 else ""
    return None, ""


def _open(view: PageView, title: str) -> str:
    link = find(view, "link", title)
    if link is not None:
        return f"click({link.id})"
    step = fill(view, [("Search the wiki", title)])
    if step:
        return step
    button = find(view, "button", "Go")
    return f"click({button.id})" if button else "goto(/)"


def wiki_oracle_action(task: WebWikiTask, view: PageView, state: dict[str, Any]) -> str:
    """The next action of the scripted solver for ``task``."""
    title, sub = _where(view.url)
    target = task.path[0]
    if task.new_text is not None:
        if "saved" in reached_subgoals(task, state, ""):
            return "answer(done)"
        if title == target and sub == "edit":
            step = fill(view, [("Content", task.new_text), ("Summary", task.summary or "")])
            if step:
                return step
            button = find(view, "button", "Save page")
            return f"click({button.id})" if button else "back()"
        if title == target and sub == "":
            link = find(view, "link", "Edit")
            return f"click({link.id})" if link else "back()"
        return _open(view, target)
    if task.template in HISTORY_TEMPLATES:
        if title == target and sub == "history":
            return f"answer({task.answer})"
        if title == target:
            link = find(view, "link", "History")
            return f"click({link.id})" if link else "back()"
        return _open(view, target)
    if title in task.path and sub == "":
        i = task.path.index(title)
        if i == len(task.path) - 1:
            return f"answer({task.answer})"
        return _open(view, task.path[i + 1])
    searched = parse_qs(urlsplit(view.url).query).get("q", [""])[-1]
    if searched in task.path:
        # the results of a search the solver made for the next article on the path
        return _open(view, searched)
    return _open(view, target)
