"""Owned temporary directories: removed once their owner is gone, never while it lives, and
never when they belong to another host or pid namespace."""

from __future__ import annotations

import json
import subprocess
import sys

from mtenvs.sandbox.owned_dirs import OWNER_FILE, owned_tempdir, remove_stale
from mtenvs.sandbox.reaper import LABEL_HOST, LABEL_OWNER


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_directory_names_its_owner_and_is_private(tmp_path):
    path = owned_tempdir("mt-test-", tmp_path)
    labels = json.loads((path / OWNER_FILE).read_text())
    assert path.name.startswith(f"mt-test-{labels[LABEL_OWNER]}-")
    assert path.stat().st_mode & 0o777 == 0o700
    assert remove_stale("mt-test-", tmp_path) == [] and path.is_dir()  # its owner lives


def test_the_next_directory_removes_those_of_dead_owners(tmp_path):
    dead = owned_tempdir("mt-test-", tmp_path)
    labels = json.loads((dead / OWNER_FILE).read_text())
    (dead / OWNER_FILE).write_text(json.dumps({**labels, LABEL_OWNER: str(_dead_pid())}))
    elsewhere = owned_tempdir("mt-test-", tmp_path)
    (elsewhere / OWNER_FILE).write_text(
        json.dumps({**labels, LABEL_OWNER: str(_dead_pid()), LABEL_HOST: "other-host/1"})
    )
    legacy = tmp_path / f"mt-test-{_dead_pid()}-abc"  # no owner file: the pid in its name
    legacy.mkdir()
    unknown = tmp_path / "mt-test-xyz"  # neither: not ours to judge
    unknown.mkdir()
    other_prefix = tmp_path / f"mt-other-{_dead_pid()}-abc"
    other_prefix.mkdir()
    fresh = owned_tempdir("mt-test-", tmp_path)
    assert not dead.exists() and not legacy.exists()
    assert elsewhere.is_dir() and unknown.is_dir() and other_prefix.is_dir() and fresh.is_dir()
