"""The wiki site: linked articles, search, infoboxes, categories, editing, edit history.

Article text uses ``[[Title]]`` links. ``handle(state, method, path, query, form)`` is the
whole app, a function of the request and the in-memory ``state`` (which edits mutate).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from pages import Response, esc, layout, redirect

_LINK = re.compile(r"\[\[([^\[\]]{1,100})\]\]")


def _href(title: str) -> str:
    return "/wiki/" + quote(title.replace(" ", "_"))


def _render(state: dict[str, Any], text: str) -> str:
    """Wiki markup to HTML: escape, then ``[[Title]]`` to links (red if no such article)."""
    out, pos = [], 0
    for match in _LINK.finditer(text):
        out.append(esc(text[pos : match.start()]))
        title = match.group(1)
        cls = "" if title in state["articles"] else ' class="new"'
        out.append(f'<a href="{_href(title)}"{cls}>{esc(title)}</a>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _nav() -> str:
    return (
        '<nav><a href="/">Main page</a><a href="/category/Countries">Countries</a>'
        '<a href="/category/Cities">Cities</a><a href="/category/People">People</a>'
        '<form action="/search" method="get" style="display:inline">'
        '<input type="search" name="q" aria-label="Search the wiki" placeholder="Search">'
        '<button type="submit">Go</button></form></nav>'
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(layout(f"{title} - Wiki", body, nav=_nav()), status)


def _title_of(segment: str) -> str:
    return unquote(segment).replace("_", " ")


def article(state: dict[str, Any], title: str) -> Response:
    art = state["articles"].get(title)
    if art is None:
        return _page(
            "Not found", f"<h1>{esc(title)}</h1><p>There is no article with this title.</p>", 404
        )
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{_render(state, v)}</td></tr>" for k, v in art["infobox"]
    )
    body = (
        f'<h1>{esc(title)}</h1><p><a href="{_href(title)}/edit">Edit</a> '
        f'<a href="{_href(title)}/history">History</a></p>'
        f'<table class="infobox">{rows}</table><p>{_render(state, art["text"])}</p>'
        f'<p>Category: <a href="/category/{art["category"]}">{art["category"]}</a></p>'
    )
    return _page(title, body)


def edit_form(state: dict[str, Any], title: str, error: str = "") -> Response:
    art = state["articles"].get(title)
    if art is None:
        return article(state, title)
    err = f'<p class="err">{esc(error)}</p>' if error else ""
    body = (
        f'<h1>Editing {esc(title)}</h1>{err}<form action="{_href(title)}/edit" '
        f'method="post"><label>Content <textarea name="text" rows="6" cols="70">'
        f'{esc(art["text"])}</textarea></label><label>Summary <input type="text" '
        'name="summary"></label><button type="submit">Save page</button></form>'
    )
    return _page(f"Editing {title}", body)


def save(state: dict[str, Any], title: str, form: dict[str, str]) -> Response:
    art = state["articles"].get(title)
    if art is None:
        return article(state, title)
    text, summary = form.get("text", "").strip(), form.get("summary", "").strip()
    if not text:
        return edit_form(state, title, "The content cannot be empty.")
    if not summary:
        return edit_form(state, title, "Please give an edit summary.")
    art["text"] = text[:20_000]
    art["revisions"].append(
        {"rev": len(art["revisions"]) + 1, "user": state["user"], "summary": summary[:200]}
    )
    return redirect(_href(title))


def history(state: dict[str, Any], title: str) -> Response:
    art = state["articles"].get(title)
    if art is None:
        return article(state, title)
    rows = "".join(
        f"<tr><td>{r['rev']}</td><td>{esc(r['user'])}</td><td>{esc(r['summary'])}</td></tr>"
        for r in reversed(art["revisions"])
    )
    body = (
        f'<h1>History of {esc(title)}</h1><p><a href="{_href(title)}">Back to the '
        "article</a></p><table><tr><th>Revision</th><th>User</th><th>Summary</th></tr>"
        f"{rows}</table>"
    )
    return _page(f"History of {title}", body)


def search(state: dict[str, Any], q: str) -> Response:
    words = q.lower().split()
    hits = [
        t
        for t, a in state["articles"].items()
        if words and all(w in f"{t} {a['text']}".lower() for w in words)
    ]
    hits.sort(key=lambda t: (t.lower() != q.lower().strip(), t))
    items = "".join(f'<li><a href="{_href(t)}">{esc(t)}</a></li>' for t in hits[:20])
    body = f"<h1>Search results</h1><p>{len(hits)} articles match {esc(q)!s}</p><ul>{items}</ul>"
    return _page("Search", body)


def category(state: dict[str, Any], name: str) -> Response:
    titles = [t for t, a in state["articles"].items() if a["category"] == name]
    items = "".join(f'<li><a href="{_href(t)}">{esc(t)}</a></li>' for t in titles)
    return _page(f"Category {name}", f"<h1>Category: {esc(name)}</h1><ul>{items}</ul>")


def handle(
    state: dict[str, Any], method: str, path: str, query: dict[str, str], form: dict[str, str]
) -> Response:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "wiki":
        title = _title_of(parts[1])
        if len(parts) == 3 and parts[2] == "edit":
            return save(state, title, form) if method == "POST" else edit_form(state, title)
        if len(parts) == 3 and parts[2] == "history":
            return history(state, title)
        if len(parts) == 2:
            return article(state, title)
    if method == "POST":
        return Response("method not allowed", 405, "text/plain")
    if not parts:
        cats = "".join(
            f'<li><a href="/category/{c}">{c}</a></li>' for c in ("Countries", "Cities", "People")
        )
        return _page(
            "Main page",
            "<h1>Welcome to the Wiki</h1><p>An encyclopedia of "
            f"{len(state['articles'])} articles.</p><ul>{cats}</ul>",
        )
    if parts == ["search"]:
        return search(state, query.get("q", ""))
    if len(parts) == 2 and parts[0] == "category":
        return category(state, parts[1])
    return _page("Not found", "<h1>Page not found</h1>", 404)
