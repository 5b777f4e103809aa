"""A subject's result.json, read and updated under an flock so concurrent chunks merge.

The one owner of result.json logic: the worker records frames through update_result, the
submitter (`orbitfarm render`, a worker that died before it could) through mark_failed.
Plain Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..model.states import SubjectStatus
from .atomic import atomic_write_json, read_json
from .layout import RESULT_FILE as RESULT
from .layout import RESULT_LOCK as LOCK
from .locks import flocked


@contextmanager
def locked(out: str | Path) -> Iterator[None]:
    """Hold the subject directory's lock (other chunks of the same subject wait)."""
    with flocked(Path(out) / LOCK):
        yield


def read_result(out: str | Path) -> dict[str, Any]:
    """The subject's result.json, or {} when there is none yet."""
    return read_json(Path(out) / RESULT, default=None) or {}


def update_result(out: str | Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `change` to result.json under the lock and write it atomically; return the result."""
    with locked(out):
        data = read_result(out)
        change(data)
        data["updated"] = time.time()
        atomic_write_json(Path(out) / RESULT, data)
        return data


def mark_failed(out: str | Path, reason: str, **fields: Any) -> None:
    """Record a failure on behalf of a worker that could not (crash, timeout, bad task)."""

    def change(data: dict[str, Any]) -> None:
        data.update(fields)
        data["status"] = SubjectStatus.FAILED.value
        data["reason"] = reason

    update_result(out, change)
