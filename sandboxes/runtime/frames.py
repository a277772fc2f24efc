"""Framing and process helpers shared by the sandbox runtime (standard library only).

Each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. A
reader is given the largest frame it accepts: a peer that sends more, or bytes that are not
JSON, breaks the protocol (``ProtocolError``), and the process that reads it treats the
peer as crashed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import time
from typing import Any

HEADER = 4
#: Largest frame on the host channel (a file moved with put_file / get_file).
MAX_FRAME = 96 * 1024 * 1024

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


class ProtocolError(ValueError):
    """The peer sent something that is not a well-formed frame."""


_libc: ctypes.CDLL | None = None


def prctl(option: int, value: int) -> None:
    """``prctl(2)``; off Linux the guarantee is simply absent. The C library is looked up
    once per process (forked judges inherit it: a lookup costs a symbol search)."""
    global _libc
    with contextlib.suppress(OSError, AttributeError):
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(option, value, 0, 0, 0)


def encode_frame(obj: Any) -> bytes:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace")
    return len(data).to_bytes(HEADER, "big") + data


def write_frame(fd: int, obj: Any) -> None:
    view = memoryview(encode_frame(obj))
    while view:
        n = os.write(fd, view)
        view = view[n:]


class FrameReader:
    """Reads frames from a raw fd; ``read(timeout)`` returns the object, ``None`` on timeout."""

    def __init__(self, fd: int, max_frame: int = MAX_FRAME) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self.buf = bytearray()
        self.eof = False

    def _frame(self) -> Any:
        if len(self.buf) < HEADER:
            return None
        size = int.from_bytes(self.buf[:HEADER], "big")
        if size > self.max_frame:
            raise ProtocolError(f"a frame of {size} bytes (at most {self.max_frame})")
        if len(self.buf) < HEADER + size:
            return None
        data = bytes(self.buf[HEADER : HEADER + size])
        del self.buf[: HEADER + size]
        try:
            obj = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as e:
            raise ProtocolError(f"a frame that is not JSON ({type(e).__name__})") from e
        if obj is None:
            raise ProtocolError("an empty frame")
        return obj

    def pending(self) -> bool:
        """Bytes are waiting beyond the frames read so far."""
        return bool(self.buf) or bool(select.select([self.fd], [], [], 0)[0])

    def fill(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
        self.buf += chunk

    def read(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._frame()
            if frame is not None:
                return frame
            if self.eof:
                raise EOFError
            if deadline is not None:
                left = max(deadline - time.monotonic(), 0.0)
                if not select.select([self.fd], [], [], left)[0]:
                    return None
            self.fill()


def close_fds_except(*keep: int) -> None:
    """Close every descriptor above 2 but ``keep`` (what a process is about to run code
    it does not trust with: nothing it inherited may stay reachable)."""
    wanted = sorted(fd for fd in keep if fd > 2)
    low = 3
    for fd in wanted:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def null_stdio() -> None:
    """fd 0, 1 and 2 on /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def apply_rlimits(args: Any) -> None:
    """The rlimits of a process that runs untrusted code, from the server's arguments
    (``rlimit_as``, ``rlimit_nproc``, ``rlimit_cpu``, ``rlimit_fsize``; 0: unset)."""
    import resource

    for which, value in (
        (resource.RLIMIT_AS, args.rlimit_as),
        (resource.RLIMIT_NPROC, args.rlimit_nproc),
        (resource.RLIMIT_CPU, args.rlimit_cpu),
        (resource.RLIMIT_FSIZE, args.rlimit_fsize),
    ):
        if value > 0:
            # A lower hard limit is already stricter.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (value, value))


def proc_stat(pid: int | str) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first, then the
    parent's pid), or ``None`` when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()


def signal_waiting(pid: int | str) -> bool | None:
    """Whether a signal was sent to ``pid`` that it has not acted on yet (``SigPnd`` or
    ``ShdPnd`` of ``/proc/<pid>/status`` not empty), or ``None`` when there is no such
    process."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
    except OSError:
        return None
    masks = re.findall(rb"^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$", status, re.MULTILINE)
    return len(masks) != 2 or any(int(mask, 16) for mask in masks)


def children_of(root: int) -> list[int]:
    """Every descendant of ``root`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = proc_stat(name)
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
