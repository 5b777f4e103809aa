"""Atomic file writes: write to a temporary name in the same directory, then rename.

Readers (status, the panel, other workers) never see a half-written file, and a worker killed
mid-write leaves at most a stray `.tmp-*` file that the next writer ignores.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; job files must be readable by whoever else the umask allows
# (cluster nodes running as a group account, colleagues reading status).
_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = False) -> None:
    """Replace `path` with `data` in one rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    except FileNotFoundError:  # only then: a mkdir per write costs the worker's hot path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | Path, data: Any, *, fsync: bool = False) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n",
                      fsync=fsync)


def read_json(path: str | Path, default: Any = None) -> Any:
    """Read a JSON file; `default` when it does not exist (a torn file cannot exist, see above)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default
