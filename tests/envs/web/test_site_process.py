"""The site server never outlives its owner, even when the owner is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mtenvs.envs.web.site import SiteProcess


def test_server_exits_with_a_killed_owner():
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "import mtenvs\n"
        "from mtenvs.envs.web.site import SiteProcess\n"
        "from importlib.resources import files\n"
        "data = Path(str(files('mtenvs') / 'assets' / 'web' / 'shop.json'))\n"
        "site = SiteProcess('shop', data)\n"
        "print(site._proc.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"site server {pid} outlived its killed owner")


def test_close_stops_the_server():
    from importlib.resources import files
    from pathlib import Path

    site = SiteProcess("shop", Path(str(files("mtenvs") / "assets" / "web" / "shop.json")))
    site.close()
    assert site._proc.poll() is not None
