"""Episode databases made ahead: PostgreSQL template copies in a background thread.

``CREATE DATABASE … TEMPLATE`` copies the template's files (and the episode gets a login
role of its own), ``DROP DATABASE`` removes an episode's, and a new connection starts a
server process: together most of a PostgreSQL reset. A :class:`CopyPool` keeps
:data:`POOL_DEPTH` fresh copies of every template an episode has asked for, each with its
role made and its agent connection open, made by one thread with its own admin
connection, and drops finished episodes' databases on that thread too, so a reset only
takes a ready copy. A copy is untouched until taken, so it is exactly what a synchronous
copy would be. A copy whose connection died while it waited (a server restart, a
terminated session) is dropped, never handed out. When the pool cannot serve (no copy
ready yet, or its thread stopped because the server went away) the caller copies
synchronously, as before.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Final

__all__ = ["POOL_DEPTH", "CopyPool"]

#: Ready copies kept per template.
POOL_DEPTH: Final = 2


class CopyPool:
    """Copies of templates made ahead, and old episode databases dropped, off the caller's
    thread. ``connect_admin()`` opens an autocommit admin connection to the server,
    ``create(admin, template)`` makes an episode database (and its role) and returns its
    name, ``connect_agent(name)`` opens the agent's connection to it, ``drop(admin, name)``
    removes it, and ``lost(conn)`` says whether a waiting connection died."""

    def __init__(
        self,
        connect_admin: Callable[[], Any],
        connect_agent: Callable[[str], Any],
        create: Callable[[Any, str], str],
        drop: Callable[[Any, str], None],
        lost: Callable[[Any], bool],
    ) -> None:
        self._connect_admin = connect_admin
        self._connect_agent = connect_agent
        self._create = create
        self._drop = drop
        self._lost = lost
        self._cond = threading.Condition()
        self._ready: dict[str, deque[tuple[str, Any]]] = {}
        self._drops: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mtenvs-pg-copies", daemon=True)
        self._thread.start()

    def take(self, template: str) -> tuple[str, Any] | None:
        """A ready copy of ``template`` and its agent connection (now the caller's), or
        ``None``; either way the pool then keeps copies of it ready. Copies whose
        connection died meanwhile are dropped."""
        with self._cond:
            if self._closed:
                return None
            ready = self._ready.setdefault(template, deque())
            taken = None
            while ready and taken is None:
                name, conn = ready.popleft()
                if self._lost(conn):
                    with contextlib.suppress(Exception):
                        conn.close()
                    self._drops.append(name)
                else:
                    taken = (name, conn)
            self._cond.notify()
            return taken

    def drop(self, name: str) -> bool:
        """Drop database ``name`` in the background; ``False`` when the pool is closed."""
        with self._cond:
            if self._closed:
                return False
            self._drops.append(name)
            self._cond.notify()
            return True

    def close(self) -> None:
        """Stop the thread and close the ready copies' connections (the copies themselves
        go with the server)."""
        with self._cond:
            self._closed = True
            ready = [conn for copies in self._ready.values() for _, conn in copies]
            self._ready.clear()
            self._cond.notify()
        for conn in ready:
            with contextlib.suppress(Exception):
                conn.close()

    @property
    def alive(self) -> bool:
        return not self._closed and self._thread.is_alive()

    def _next_job(self) -> tuple[str, str] | None:
        """``("create", template)`` first (resets wait on those), else ``("drop", name)``."""
        for template, ready in self._ready.items():
            if len(ready) < POOL_DEPTH:
                return "create", template
        if self._drops:
            return "drop", self._drops.pop()
        return None

    def _run(self) -> None:
        admin: Any = None
        try:
            while True:
                with self._cond:
                    job = self._next_job()
                    while job is None and not self._closed:
                        self._cond.wait()
                        job = self._next_job()
                    if self._closed:
                        return
                    assert job is not None
                admin = admin or self._connect_admin()
                kind, target = job
                if kind == "drop":
                    self._drop(admin, target)
                    continue
                name = self._create(admin, target)
                conn = self._connect_agent(name)
                with self._cond:
                    if self._closed:
                        conn.close()
                        return
                    self._ready[target].append((name, conn))
        except Exception:  # the server went away (closed, or the process exits)
            with self._cond:
                self._closed = True
                ready = [conn for copies in self._ready.values() for _, conn in copies]
                self._ready.clear()
            for conn in ready:
                with contextlib.suppress(Exception):
                    conn.close()
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):  # already broken
                    admin.close()
