"""The Search family's index cache: :func:`open_engine` builds an engine's index once per
corpus and reopens it afterwards, shared by every process on the machine.

Kept apart from :mod:`~mtenvs.envs.search.engine` (BM25) and
:mod:`~mtenvs.envs.search.dense` (dense, hybrid) because it opens all of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from mtenvs.envs.search.engine import _CACHE_KEY, ENGINE_KINDS, BM25Engine, EngineKind
from mtenvs.envs.search.types import Document, SearchEngine
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = ["cache_root", "open_engine"]


def cache_root(cache_dir: Path | None = None) -> Path:
    """Where :func:`open_engine` keeps indexes: ``cache_dir`` if given, else
    ``$MTENVS_CACHE_DIR/search``, else ``$XDG_CACHE_HOME/mtenvs/search``, else
    ``~/.cache/mtenvs/search``."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("MTENVS_CACHE_DIR"):
        return Path(os.environ["MTENVS_CACHE_DIR"]).expanduser() / "search"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mtenvs" / "search"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (``flock``; released if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _engine_class(kind: EngineKind) -> Any:
    if kind == "bm25":
        return BM25Engine
    from mtenvs.envs.search.dense import DenseEngine

    return DenseEngine


def _open_or_build(
    documents: Callable[[], Iterable[Document]], folder: Path, kind: EngineKind
) -> SearchEngine:
    cls = _engine_class(kind)
    target = folder / kind
    with contextlib.suppress(Exception):  # missing, partial or corrupt: built below
        engine: SearchEngine = cls.open(target)
        return engine
    with _file_lock(folder / f".{kind}.lock"):
        # Another process may have built it while this one waited for the lock.
        with contextlib.suppress(Exception):
            engine = cls.open(target)
            return engine
        for stale in folder.glob(f".{kind}.tmp-*"):  # left by a builder that died
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():
            # Renamed first: processes still reading the old files keep them until closed.
            trash = folder / f".{kind}.tmp-old-{uuid.uuid4().hex}"
            target.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        tmp = folder / f".{kind}.tmp-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            cls.build(documents(), tmp)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    engine = cls.open(target)
    return engine


_MEMO: dict[tuple[str, str], SearchEngine] = {}
_MEMO_LOCK = threading.Lock()
_MEMO_PID = os.getpid()


def open_engine(
    documents: Callable[[], Iterable[Document]],
    cache_key: str,
    *,
    kind: EngineKind = "bm25",
    cache_dir: Path | None = None,
) -> SearchEngine:
    """The ``kind`` engine over ``documents()``, built once and cached on disk.

    The index lives in ``<cache_root(cache_dir)>/<cache_key>/<kind>``. ``cache_key`` names
    the corpus (e.g. the world's seed and size): the same key must always mean the same
    documents, since ``documents`` is only called when the index is (re)built. Builds run
    in a temporary folder renamed into place when complete, under a file lock, so parallel
    processes (pytest-xdist workers, process executors) build once and the others wait and
    open it. A folder without a valid marker (a killed build, another format version) or
    that fails to open is rebuilt. ``hybrid`` combines the cached ``bm25`` and ``dense``
    indexes. Engines are also kept per process: the same arguments return the same object.
    """
    global _MEMO_PID
    check_choice("kind", kind, ENGINE_KINDS)
    if not isinstance(cache_key, str) or not _CACHE_KEY.fullmatch(cache_key):
        raise InvalidArgumentError(
            f"cache_key {cache_key!r} is not a folder name: use 1-200 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit."
        )
    folder = cache_root(cache_dir).expanduser().resolve() / cache_key
    key = (str(folder), kind)
    with _MEMO_LOCK:
        if os.getpid() != _MEMO_PID:  # a forked child: the parent's handles are not ours
            _MEMO.clear()
            _MEMO_PID = os.getpid()
        if key in _MEMO:
            return _MEMO[key]
        if kind == "hybrid":
            from mtenvs.envs.search.dense import HybridEngine

            parts = []
            for part in ("bm25", "dense"):
                part_key = (str(folder), part)
                if part_key not in _MEMO:
                    _MEMO[part_key] = _open_or_build(documents, folder, part)
                parts.append(_MEMO[part_key])
            engine: SearchEngine = HybridEngine(parts[0], parts[1])
        else:
            engine = _open_or_build(documents, folder, kind)
        _MEMO[key] = engine
        return engine
