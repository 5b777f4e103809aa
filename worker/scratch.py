"""The worker's scratch folder in a subject's output folder, and removing those of dead workers.

Frames are rendered into OUT/<subject>/.tmp-<host>-<pid>/ and published by rename, so a killed
worker leaves only that folder behind. The next worker on the subject removes such leftovers:
ones of this host whose process is gone, and any untouched for STALE_SECONDS (a worker that
lives renders a frame into its folder far more often than that). No bpy here.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from ..submitter.targets.local.target import pid_alive  # the one "is it alive" (zombies too)

PREFIX = ".tmp-"
STALE_SECONDS = 24 * 3600.0


def scratch_dir(out: str | Path) -> Path:
    """This process's scratch folder in `out` (not created here)."""
    return Path(out) / f"{PREFIX}{socket.gethostname()}-{os.getpid()}"


def remove_orphans(out: str | Path) -> list[Path]:
    """Remove the scratch folders of dead workers in `out`; the ones removed."""
    host = socket.gethostname()
    mine = scratch_dir(out)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(out))
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if path == mine:
            continue
        owner, _, pid = entry.name[len(PREFIX):].rpartition("-")
        dead = owner == host and pid.isdigit() and not pid_alive(int(pid))
        try:
            stale = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
        except FileNotFoundError:
            continue
        # `.tmp-<pid>` of older versions name no host: only their age tells.
        if dead or stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
