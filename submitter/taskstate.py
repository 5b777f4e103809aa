"""Per-task state files: the worker's own account of a task, written atomically.

One JSON file per task in the job directory. The worker writes `running` when it starts, a
heartbeat and progress while it renders, and a final state when it ends. If the process dies
without a final state (kill -9, OOM, time limit), the file stays `running` with a stale
heartbeat and the target's scheduler view (exit code, reason) decides what happened.

States: queued -> running -> done | failed | skipped; the submitter adds lost | cancelled.
Plain Python: it runs inside Blender on the nodes and on login nodes alike.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, read_json

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
LOST = "lost"  # the process vanished without a final state (submitter's verdict)
CANCELLED = "cancelled"
FINAL_STATES = (DONE, FAILED, SKIPPED, LOST, CANCELLED)

HEARTBEAT_SECONDS = 10.0
# A running task whose heartbeat is older than this, and that the scheduler no longer runs, is lost.
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def read_state(path: str | Path) -> dict[str, Any]:
    """The task's state dict; a task that never started reads as queued."""
    return read_json(path, default=None) or {"state": QUEUED}


class TaskStateWriter:
    """Used by the worker: running -> progress/heartbeat -> final, each write atomic."""

    def __init__(self, path: str | Path, task_id: str = "") -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        previous = read_json(self.path, default=None) or {}
        now = time.time()
        self.data: dict[str, Any] = {
            "task": task_id or previous.get("task", ""),
            "state": RUNNING,
            "attempt": int(previous.get("attempt", 0)) + 1,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": now,
            "heartbeat": now,
            "ended": None,
            "exit_code": None,
            "reason": "",
            "frames_done": 0,
            "frames_total": 0,
            "subjects": {},
        }
        # Keep fields the submitter owns (e.g. the scheduler id of this attempt).
        for key in ("native_id", "submitted"):
            if key in previous:
                self.data[key] = previous[key]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write()

    def _write(self) -> None:
        with self._lock:
            self.data["heartbeat"] = time.time()
            atomic_write_json(self.path, self.data)

    def start_heartbeat(self, every: float = HEARTBEAT_SECONDS) -> None:
        """Refresh the heartbeat from a daemon thread (file I/O only; never touches bpy)."""

        def beat() -> None:
            while not self._stop.wait(every):
                self._write()

        self._thread = threading.Thread(target=beat, name="orbitfarm-heartbeat", daemon=True)
        self._thread.start()

    def subject(self, name: str, **fields: Any) -> None:
        """Update one subject's entry (status, reason, frames_done, frames_total) and totals."""
        with self._lock:
            entry = self.data["subjects"].setdefault(name, {})
            entry.update(fields)
            subjects = self.data["subjects"].values()
            self.data["frames_done"] = sum(int(s.get("frames_done", 0)) for s in subjects)
            self.data["frames_total"] = sum(int(s.get("frames_total", 0)) for s in subjects)
        self._write()

    def finish(self, state: str, exit_code: int, reason: str = "") -> None:
        """Write the final state; stops the heartbeat."""
        self._stop.set()
        with self._lock:
            self.data.update(state=state, exit_code=exit_code, reason=reason, ended=time.time())
        self._write()


def final_state_for(subject_statuses: list[str]) -> str:
    """Task verdict from its subjects' result statuses (rendered | skipped | failed)."""
    if any(s == "failed" for s in subject_statuses):
        return FAILED
    if subject_statuses and all(s == "skipped" for s in subject_statuses):
        return SKIPPED
    return DONE
