"""The forked import probe (worker/crashprobe.py) with real child processes: a crash is told
from a Python error, and a hang is killed at the limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from orbitfarm.worker.crashprobe import crash_reason

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork probe: Linux")


def _abort() -> None:
    os.write(1, b"Alembic: reading a truncated archive\n")  # as C code writes: unbuffered
    os.kill(os.getpid(), signal.SIGABRT)


def _raise() -> None:
    raise RuntimeError("PLY Importer: No end_header.")


def test_a_crash_in_the_child_is_the_reason_with_its_last_line() -> None:
    reason = crash_reason(_abort, "broken.abc")
    assert reason is not None
    assert reason.startswith("importer crashed (SIGABRT) reading broken.abc")
    assert "Alembic: reading a truncated archive" in reason


def test_a_python_error_is_left_to_the_real_import() -> None:
    assert crash_reason(_raise, "bad.ply") is None


def test_a_clean_import_is_no_crash() -> None:
    assert crash_reason(lambda: time.sleep(0.01), "ok.stl") is None


def test_a_hang_is_killed_at_the_limit() -> None:
    started = time.monotonic()
    assert crash_reason(lambda: time.sleep(30), "hangs.usd", limit=0.3) is None
    assert 0.3 <= time.monotonic() - started < 10


def test_crash_handlers_of_the_worker_do_not_bury_the_last_line() -> None:
    """With Python's faulthandler on (as PYTHONFAULTHANDLER=1 or a library's own crash handler
    would have it), the dump it prints must not replace the importer's message."""
    script = (
        "import os, signal\n"
        "from orbitfarm.worker.crashprobe import crash_reason\n"
        "def crash():\n"
        "    os.write(1, b'Alembic: reading a truncated archive\\n')\n"
        "    os.kill(os.getpid(), signal.SIGABRT)\n"
        "print(crash_reason(crash, 'broken.abc'))\n")
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ("importer crashed (SIGABRT) reading broken.abc: Alembic: "
                                   "reading a truncated archive (truncated or corrupt file?)")
