"""Blender's own output in worker logs: its chatter dropped, everything else marked as Blender's.

While Blender loads a file or renders, its C code writes to the process's stdout and stderr
directly: a dozen "Fra:1 Mem:..." status lines and "Saved: ..." per frame, which would bury the
worker's one line per frame, and its own errors and warnings ("Error: Cannot read file ...",
"Failed to denoise ..."), which read as if orbitfarm said them. Both file descriptors go to a
temporary file meanwhile; afterwards every line that is not chatter is printed with a
"[blender]" mark. Set ORBITFARM_BLENDER_OUTPUT=1 to see Blender's output unfiltered.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

MARK = "[blender]"
_CHATTER = ("Fra:", "Saved:", "Time:", "Read blend:", "Read library:", "Remaining:")


# Blender 5.x prefixes its log lines: "00:00.531  render           | Saved: '...'".
_LOG_PREFIX = re.compile(r"^\d+:\d+\.\d+\s+\S+\s+\|\s?")


def is_chatter(line: str) -> bool:
    """Blender's routine progress lines: never worth a line in a task log."""
    text = _LOG_PREFIX.sub("", line.strip())
    return not text or text.startswith(_CHATTER)


@contextmanager
def blender_output() -> Iterator[list[str]]:
    """Capture what Blender writes meanwhile; yields the list its kept lines are added to."""
    kept: list[str] = []
    if os.environ.get("ORBITFARM_BLENDER_OUTPUT"):
        yield kept
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with tempfile.TemporaryFile() as capture:
        try:
            os.dup2(capture.fileno(), 1)
            os.dup2(capture.fileno(), 2)
            yield kept
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            libc_flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept.extend(line.rstrip() for line in text.splitlines() if not is_chatter(line))
            for line in kept:
                print(f"{MARK} {line}", flush=True)


def libc_flush() -> None:
    """Flush C stdio buffers, so Blender's buffered lines land in the capture, not later."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # not a POSIX libc (Windows): nothing buffered to drop
        pass
