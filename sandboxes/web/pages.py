"""HTML helpers shared by the sites: the response type, page layout, escaping."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

__all__ = ["Response", "esc", "layout", "money", "redirect"]

_STYLE = (
    "body{font-family:sans-serif;margin:0;font-size:15px}"
    "nav{background:#234;padding:8px}nav a{color:#fff;margin-right:14px}"
    "main{padding:12px}.msg{background:#dfd;padding:6px}.err{background:#fdd;padding:6px}"
    "li{margin:4px 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px}"
    "label{display:block;margin:4px 0}"
)


@dataclass
class Response:
    body: str
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def redirect(location: str) -> Response:
    return Response("", status=303, headers=[("Location", location)])


def layout(title: str, body: str, *, nav: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{nav}<main>{body}</main></body></html>"
    )
