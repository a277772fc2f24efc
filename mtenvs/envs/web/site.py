"""Host side of the web sites: start a site server on a loopback port, reset it, read its state.

The server (``sandboxes/web/server.py``, stdlib only) runs as a child process; its admin
endpoints are guarded by a random token that only this process knows, so the browser (and
the agent in it) can neither reset the site nor read the hidden state.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from mtenvs.error import Error

__all__ = ["SiteProcess", "WebSiteError", "server_script"]

_START_TIMEOUT_S = 15.0


class WebSiteError(Error, RuntimeError):
    """The site server could not be started or stopped answering."""


def server_script() -> Path:
    """Path of ``sandboxes/web/server.py`` (a wheel bundles it as ``envs/web/_sites``)."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parent / "_sites" / "server.py",
        here.parents[3] / "sandboxes" / "web" / "server.py",
    ):
        if candidate.is_file():
            return candidate
    raise WebSiteError(
        "The site server sandboxes/web/server.py was not found; reinstall mtenvs from a "
        "source checkout (pip install -e '.[web]')."
    )


class SiteProcess:
    """One site server child process (``site`` is a module in ``sandboxes/web``)."""

    def __init__(self, site: str, data_path: Path) -> None:
        self.site = site
        self._token = secrets.token_hex(16)
        env = {**os.environ, "MTENVS_WEB_TOKEN": self._token, "PYTHONDONTWRITEBYTECODE": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-u", str(server_script()), "--site", site, "--data", str(data_path)],
            # stdin stays open and unused: the server exits when it reads EOF, i.e. when
            # this process is gone, even if it was killed before close() could run.
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._proc.stdout is not None  # Popen with PIPE
        line = self._proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.close()
            raise WebSiteError(f"The {site} site server did not start (it printed {line!r}).")
        self.port = int(line.split()[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _admin(self, path: str, method: str) -> bytes:
        req = urllib.request.Request(
            self.origin + path,
            method=method,
            headers={"X-Mtenvs-Token": self._token},
            data=b"" if method == "POST" else None,
        )
        try:
            with self._opener.open(req, timeout=_START_TIMEOUT_S) as resp:
                body: bytes = resp.read()
                return body
        except OSError as e:
            raise WebSiteError(
                f"The {self.site} site server at {self.origin} is not answering ({e})."
            ) from e

    def reset(self) -> None:
        """Restore the seeded state."""
        self._admin("/__reset", "POST")

    def state(self) -> dict[str, Any]:
        """The server's full state (what tasks are verified against)."""
        data: dict[str, Any] = json.loads(self._admin("/__state", "GET"))
        return data

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
