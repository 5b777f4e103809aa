"""Try a C++ importer in a forked child first, so a crash in it fails one subject only.

A truncated Alembic file aborts the process from inside `wm.alembic_import` (SIGABRT, no
Python exception): in the worker that would end every subject of a grouped task. The child is
a copy of the warm worker (fork costs milliseconds; no Blender start-up), imports the file and
exits; only when it dies by a signal is the subject failed ("importer crashed"). Any other
outcome (success, a RuntimeError, a hang past the limit) lets the real import run in the worker,
which then gives the importer's own reason. The child never touches files of the job: its
output goes to a temporary file whose last line is quoted in the reason. Linux only.
"""

from __future__ import annotations

import faulthandler
import os
import select
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

PROBE_LIMIT_SECONDS = 120.0
CRASH_SIGNALS = (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)


def crash_reason(run_import: Callable[[], object], label: str,
                 limit: float = PROBE_LIMIT_SECONDS) -> str | None:
    """Run `run_import` in a forked child; a reason when it crashed there, else None."""
    if not sys.platform.startswith("linux"):
        # Windows has no fork; on macOS a forked child that touches system frameworks can
        # crash by itself, which would be taken for the importer's crash. Unguarded there.
        return None
    with tempfile.TemporaryFile() as output:
        with warnings.catch_warnings():  # "multi-threaded fork" (3.12+): the child only imports
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: import, then leave without any clean-up of the parent's
            code = 0
            try:
                os.dup2(output.fileno(), 1)
                os.dup2(output.fileno(), 2)
                # Crash handlers (Python's faulthandler, glog's in libraries some builds load)
                # print stack dumps that would bury the importer's last words: die plainly.
                faulthandler.disable()
                for sig in CRASH_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                run_import()
            except BaseException:
                code = 3
            os._exit(code)
        status = _wait(pid, limit)
        if status is None or not os.WIFSIGNALED(status):
            return None
        output.seek(0)
        said = [line.strip() for line in output.read().decode("utf-8", "replace").splitlines()
                if line.strip()]
    name = signal.Signals(os.WTERMSIG(status)).name
    detail = f": {said[-1][:160]}" if said else ""
    return f"importer crashed ({name}) reading {label}{detail} (truncated or corrupt file?)"


def _wait(pid: int, limit: float) -> int | None:
    """The child's wait status; None when it ran past `limit` (then it is killed)."""
    try:  # Linux 5.3+: wake the moment the child ends (an import takes milliseconds)
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return _poll_wait(pid, limit)
    try:
        ended = select.select([fd], [], [], limit)[0]
    finally:
        os.close(fd)
    if not ended:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    return os.waitpid(pid, 0)[1]


def _poll_wait(pid: int, limit: float) -> int | None:
    deadline = time.monotonic() + limit
    delay = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
