"""The mtenvs web-site server: one site, its state in memory, stdlib only.

Run as ``python server.py --site shop --data shop.json``; it binds a free loopback port and
prints ``PORT <n>`` on stdout. Admin endpoints need the ``X-Mtenvs-Token`` header whose value
is read from the ``MTENVS_WEB_TOKEN`` environment variable (the browser never has it):

* ``POST /__reset``: restore the seeded state (a deep copy of the loaded data; < 1 ms);
* ``GET /__state``: the full server state as JSON (what tasks are verified against).

Pages under ``/lab/`` exercise browser edge cases (never-finishing load, popup, dialog,
outside request) for the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import json
import os
import sys
import threading
import time
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages import Response, layout

_LAB_PAGES = {
    "/lab/popup": '<a href="/lab/target" target="_blank">Open help in a new tab</a>'
    "<button onclick=\"window.open('/lab/target')\">Pop up</button>",
    "/lab/target": "<h1>Popup target</h1><p>Opened in a new tab.</p>",
    "/lab/dialog": "<button onclick=\"document.getElementById('r').textContent = "
    "confirm('Really?') ? 'yes' : 'no'\">Ask</button><p id=\"r\">none</p>",
    "/lab/external": '<h1>External</h1><img src="http://outside.example.com/pixel.png" alt="x">'
    "<script>fetch('https://outside.example.com/beacon').catch(() => {});"
    "</script>",
}


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, site: Any, data: dict[str, Any], token: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.site = site
        self.initial = data
        self.state = copy.deepcopy(data)
        self.token = token
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, resp: Response) -> None:
        body = resp.body.encode("utf-8")
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in resp.headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _admin(self) -> bool:
        return self.headers.get("X-Mtenvs-Token") == self.server.token

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        form: dict[str, str] = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 1_000_000)).decode("utf-8", "replace")
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        if url.path.startswith("/__"):
            if not self._admin():
                self._send(Response("forbidden", status=403, content_type="text/plain"))
            elif url.path == "/__reset" and method == "POST":
                with self.server.lock:
                    self.server.state = copy.deepcopy(self.server.initial)
                self._send(Response("ok", content_type="text/plain"))
            elif url.path == "/__state":
                with self.server.lock:
                    body = json.dumps(self.server.state)
                self._send(Response(body, content_type="application/json"))
            else:
                self._send(Response("not found", status=404, content_type="text/plain"))
            return
        if url.path == "/favicon.ico":
            self._send(Response("", status=204, content_type="image/x-icon"))
            return
        if url.path == "/lab/slow":
            self._slow()
            return
        if url.path in _LAB_PAGES:
            self._send(Response(layout("Lab", _LAB_PAGES[url.path], nav="")))
            return
        site = self.server.site
        with self.server.lock:
            if getattr(site, "USES_COOKIES", False):  # the admin site's login sessions
                jar: SimpleCookie = SimpleCookie()
                with contextlib.suppress(CookieError):
                    jar.load(self.headers.get("Cookie", ""))
                cookies = {k: m.value for k, m in jar.items()}
                resp = site.handle(self.server.state, method, url.path, query, form, cookies)
            else:
                resp = site.handle(self.server.state, method, url.path, query, form)
        self._send(resp)

    def _slow(self) -> None:
        """A page whose body never finishes (headers and a heading, then silence)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>Slow</title><h1>Loading forever</h1>")
        self.wfile.flush()
        time.sleep(30)

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")


def _exit_with_parent() -> None:
    """Exit when stdin reaches EOF: the owner process closed it or died (no orphans)."""
    with contextlib.suppress(Exception):
        sys.stdin.read()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", required=True)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    site = importlib.import_module(args.site)
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    server = SiteServer(site, data, os.environ.get("MTENVS_WEB_TOKEN", ""))
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
