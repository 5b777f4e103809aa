"""Advisory locks on a lock file (flock): held by an open file, released by the kernel when
its holder exits, even by kill -9, so a crashed holder never leaves a stale lock (a PID file
would). Works across processes on one machine and, on Linux, over NFS (where flock maps to
POSIX byte-range locks). Plain Python.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockBusy(RuntimeError):
    """Another process holds the lock (only raised when not waiting for it)."""


class LockUnavailable(OSError):
    """The lock file cannot be made (a read-only folder, another account's job)."""


@contextmanager
def flocked(path: str | Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing, as the umask allows: other
    accounts of the group may need the same lock) for the with-block."""
    path = Path(path)
    try:
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    except (PermissionError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise LockUnavailable(exc.errno, f"cannot lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(str(path)) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


_held: dict[tuple[str, int], int] = {}  # (lock path, thread) -> depth, for reentrant holders


@contextmanager
def reentrant_flocked(path: str | Path) -> Iterator[None]:
    """flocked(path), but a thread already holding it just goes on (a second flock of the
    same file from this process would wait for itself)."""
    key = (os.path.abspath(path), threading.get_ident())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    with flocked(path):
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
