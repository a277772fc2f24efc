"""The SQLite worker process: values survive the pipe, copies and forks get their own."""

from __future__ import annotations

import os
import pickle

from mtenvs.envs.sql.backend import SqliteDatabase
from mtenvs.envs.sql.sqlite_worker import SqliteWorker


def _run(db, sql, writes=False):
    return db.execute(sql, allow_writes=writes, timeout_s=5.0)


def test_values_round_trip_the_pipe():
    db = SqliteDatabase("shop", 200, 0)
    try:
        got = _run(db, "SELECT 1, 2.5, 'é😀', x'00ff', NULL, 9223372036854775807, 1e308 * 10")
        assert got.ok, got.error
        assert got.rows == ((1, 2.5, "é😀", b"\x00\xff", None, 2**63 - 1, float("inf")),)
        assert got.columns[0] == "1"
        assert _run(db, "SELECT nope").error == "no such column: nope"
        assert "not allowed" in (_run(db, "DELETE FROM customers").error or "")
    finally:
        db.close()


def test_writes_persist_and_snapshot_restores():
    worker = SqliteWorker()
    db = SqliteDatabase("shop", 200, 0, worker)
    try:
        image = db.snapshot()
        assert _run(db, "DELETE FROM order_items", writes=True).changes > 0
        assert _run(db, "SELECT count(*) FROM order_items").rows == ((0,),)
        assert db.state()  # the host reads the worker's file
        db.restore(image)
        assert _run(db, "SELECT count(*) FROM order_items").rows[0][0] > 0
    finally:
        db.close()
        worker.close()
    assert worker.pid is None


def test_a_pickled_worker_is_a_new_one():
    worker = SqliteWorker()
    db = SqliteDatabase("shop", 200, 0, worker)
    try:
        _run(db, "SELECT 1")
        copy = pickle.loads(pickle.dumps(worker))
        assert copy.pid is None and worker.pid is not None
    finally:
        db.close()
        worker.close()


def test_a_forked_child_works_on_its_own_copy():
    db = SqliteDatabase("shop", 200, 0)
    try:
        _run(db, "SELECT 1")
        parent_pid = db.worker.pid
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            ok = False
            try:
                changed = _run(db, "DELETE FROM order_items", writes=True).changes > 0
                ok = changed and db.worker.pid not in (None, parent_pid)
                db.close()
            finally:
                os.write(write, b"1" if ok else b"0")
                os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"1"
        os.waitpid(pid, 0)
        assert _run(db, "SELECT count(*) FROM order_items").rows[0][0] > 0
        assert db.worker.pid == parent_pid
    finally:
        db.close()
