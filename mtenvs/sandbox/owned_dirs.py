"""Temporary directories tied to their owner process, and removal of those whose owner died.

A server started for an env (the PostgreSQL container's socket directory, a local
PostgreSQL cluster, a web site container's socket) needs a host directory. The owner
removes it on close and at exit, but an owner that is SIGKILLed runs no cleanup, so
:func:`owned_tempdir` names each directory ``<prefix><pid>-<random>`` and writes the
owner's labels (pid, process start time, host: :func:`mtenvs.sandbox.reaper.owner_labels`)
into it, and every new directory of a prefix first removes that prefix's directories
whose owner is gone (:func:`remove_stale`): leftovers never outlive the next start.

A directory of another host or pid namespace sharing the same ``/tmp`` is never touched
(its owner cannot be checked from here), nor one whose owner file cannot be read (another
user's, or one being made right now whose pid is alive).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mtenvs.sandbox.reaper import LABEL_HOST, host_id, owner_alive, owner_labels, process_start

__all__ = ["OWNER_FILE", "owned_tempdir", "remove_stale"]

#: The file in an owned directory that names its owner (JSON labels).
OWNER_FILE = ".mtenvs-owner"


def owned_tempdir(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new private (0700) directory ``<parent>/<prefix><pid>-<random>`` owned by this
    process; first removes the directories of ``prefix`` whose owner is gone."""
    remove_stale(prefix, parent)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    (path / OWNER_FILE).write_text(json.dumps(owner_labels()))
    return path


def remove_stale(prefix: str, parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the directories ``<parent>/<prefix>*`` whose owner process is gone; returns
    them."""
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob(f"{prefix}*"):
        if path.is_dir() and not path.is_symlink() and _orphaned(path, prefix):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _orphaned(path: Path, prefix: str) -> bool:
    try:
        labels = json.loads((path / OWNER_FILE).read_text())
    except FileNotFoundError:
        # Being made right now, or made before owner files: judged by the pid in its name.
        pid = path.name[len(prefix) :].split("-", 1)[0]
        return pid.isdigit() and int(pid) != os.getpid() and process_start(int(pid)) is None
    except (OSError, ValueError):  # another user's, or unreadable: not ours to judge
        return False
    if not isinstance(labels, dict) or labels.get(LABEL_HOST) != host_id():
        return False
    return not owner_alive({str(k): str(v) for k, v in labels.items()})
