"""Per-task state files: the worker's own account of a task, written atomically.

One JSON file per task in the job directory. The worker writes `running` when it starts, a
heartbeat and progress while it renders, and a final state when it ends. If the process dies
without a final state (kill -9, OOM, time limit), the file stays `running` with a stale
heartbeat and the target's scheduler view (exit code, reason) decides what happened.

States: queued -> running -> done | failed | skipped; the submitter adds lost | cancelled.
Plain Python: it runs inside Blender on the nodes and on login nodes alike.

Markers: beside the state files, MARKER_DIR holds empty files whose NAME says how far a task
got, so `status` of a 100,000-task job lists one folder instead of reading 100,000 files:
    <task>.running.<attempt>          attempt started (made before the state file says so)
    <task>.<final>.<attempt>          final state whose file adds nothing the plan does not
                                      know (no reason, no per-subject detail, exit code 0)
    <task>.<final>.<attempt>.detail   final state; read the file for reasons and frame counts
The state file stays the truth. A marker that claims a final state is made only AFTER the
state file says so, and markers are withdrawn (or superseded by a higher attempt) BEFORE the
file goes back to a non-final state, so a marker never claims more than the file. Readers
trust only the highest attempt's markers, and only one consistent final marker there
(see resolve_markers); anything else means "read the state file".

Attempts only go forward: every write compares the file's attempt with its own under the
state folder's flock (STATE_LOCK), and a writer of an older attempt (a zombie worker that
finishes after its retry started) writes nothing and stops its heartbeat.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from ..model.states import FINAL_STATES, SubjectStatus, TaskState
from .atomic import atomic_write_json, read_json
from .crashed_subjects import crashed_subjects
from .layout import MARKER_DIR, STATE_LOCK
from .locks import flocked

QUEUED, RUNNING, DONE, FAILED = TaskState.QUEUED, TaskState.RUNNING, TaskState.DONE, TaskState.FAILED
SKIPPED = TaskState.SKIPPED
DETAIL = "detail"  # marker name suffix: the state file has reasons or per-subject detail

HEARTBEAT_SECONDS = 10.0
# A running task whose heartbeat is older than this, and that the scheduler no longer runs, is lost.
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def read_state(path: str | Path) -> dict[str, Any]:
    """The task's state dict; a task that never started (or an empty file) reads as queued."""
    try:
        return read_json(path, default=None) or {"state": QUEUED}
    except ValueError:  # an empty or damaged file (disk full, hand edit): treat as queued
        return {"state": QUEUED}


def write_if_current(path: str | Path, data: dict[str, Any]) -> bool:
    """Replace the state file with `data` unless the file already holds a newer attempt;
    False when it does (nothing written). Compared and written under the state lock."""
    path = Path(path)
    with flocked(path.parent / STATE_LOCK):
        current = read_state(path)
        if int(current.get("attempt") or 0) > int(data.get("attempt") or 0):
            return False
        atomic_write_json(path, data)
        return True


class SubjectSummary(NamedTuple):
    """One subject's line in a task summary."""

    name: str
    status: str  # rendered | skipped | failed | "" (still rendering)
    frames_done: int
    reason: str
    warnings: int = 0  # entries in the subject's result.json warnings (missing files, ...)


class TaskSummary(NamedTuple):
    """The compact form of a task state that `status` reads (cached on disk as a JSON list)."""

    state: str
    attempt: int
    reason: str
    exit_code: int | None
    subjects: list[SubjectSummary]

    @classmethod
    def from_list(cls, data: list) -> TaskSummary:
        """Back from its JSON form (the status cache)."""
        return cls(data[0], data[1], data[2], data[3], [SubjectSummary(*s) for s in data[4]])


QUEUED_SUMMARY = TaskSummary(QUEUED, 0, "", None, [])


def summarize(state: dict[str, Any]) -> TaskSummary:
    """What `status` needs of a task state."""
    task_state = state.get("state", QUEUED)
    subjects = [SubjectSummary(name, entry.get("status") or "", int(entry.get("frames_done") or 0),
                               entry.get("reason") or "", int(entry.get("warnings") or 0))
                for name, entry in (state.get("subjects") or {}).items()
                # a done task's fully rendered subjects read the same without an entry
                if not (task_state == DONE and entry.get("status") == SubjectStatus.RENDERED
                        and entry.get("frames_done") == entry.get("frames_total")
                        and not entry.get("warnings"))]
    return TaskSummary(task_state, int(state.get("attempt") or 0), state.get("reason") or "",
                       state.get("exit_code"), subjects)


# -- markers ---------------------------------------------------------------------------------


def marker_dir(state_file: str | Path) -> Path:
    """The marker folder of the state file's folder."""
    return Path(state_file).parent / MARKER_DIR


def task_of(state_file: str | Path) -> str:
    """The task id a state file belongs to (its name without .json)."""
    return Path(state_file).stem


def marker_name(task_id: str, state: str, attempt: int, detail: bool = False) -> str:
    """`t00042.done.1`, `t00042.failed.2.detail`, `t00042.running.3`."""
    return f"{task_id}.{state}.{int(attempt)}" + (f".{DETAIL}" if detail else "")


def plain_summary(state: str, attempt: int) -> TaskSummary:
    """The summary a marker without detail stands for (equal to summarize() of its file)."""
    return TaskSummary(state, int(attempt), "", 0, [])


def final_marker_name(task_id: str, data: dict[str, Any]) -> str:
    """The marker for a final state dict; `.detail` unless the marker alone says it all."""
    summary = summarize(data)
    return marker_name(task_id, summary.state, summary.attempt,
                       detail=summary != plain_summary(summary.state, summary.attempt))


def make_marker(folder: str | Path, name: str) -> None:
    """Create an empty marker (its name is its content, so creating it is atomic)."""
    path = Path(folder) / name  # 0o666: os.open applies the umask itself
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o666)
    except FileNotFoundError:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o666)
    os.close(fd)


def remove_marker(folder: str | Path, name: str) -> None:
    try:
        os.unlink(Path(folder) / name)
    except FileNotFoundError:
        pass


def attempt_marker_names(task_id: str, attempt: int) -> list[str]:
    """Every marker name attempt `attempt` of a task can have."""
    names = [marker_name(task_id, RUNNING, attempt)]
    for state in FINAL_STATES:
        names += [marker_name(task_id, state, attempt), marker_name(task_id, state, attempt, True)]
    return names


def parse_marker(name: str) -> tuple[str, str, int, bool] | None:
    """(task id, state, attempt, detail) of a marker name; None for anything else."""
    parts = name.split(".")
    if len(parts) == 4 and parts[3] == DETAIL:
        detail = True
    elif len(parts) == 3:
        detail = False
    else:
        return None
    task_id, state, attempt = parts[0], parts[1], parts[2]
    if not task_id or not attempt.isdigit() or (state != RUNNING and state not in FINAL_STATES):
        return None
    return task_id, state, int(attempt), detail


def list_markers(folder: str | Path) -> list[str]:
    """Names in the marker folder (one directory listing; [] when there is none)."""
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def resolve_markers(names: list[str]) -> dict[str, tuple[str, int, bool] | None]:
    """Per task with markers: (final state, attempt, detail), or None when only the state
    file can tell (the highest attempt is still running, died before its final marker, or
    has conflicting final markers, e.g. a cancel racing the worker's own finish).

    Markers of an earlier attempt than the task's highest one are stale and ignored.
    """
    # Hot path for 100,000 markers: name tails ("done.1") are few, so each is parsed once
    # and its tuples are shared between tasks (callers must not change them).
    Mark = tuple[str, int, bool]
    meaning: dict[str, tuple[Mark, Mark | None] | None] = {}
    first: dict[str, tuple[Mark, Mark | None]] = {}
    several: dict[str, list[Mark]] = {}
    for name in names:
        task_id, _, tail = name.partition(".")
        try:
            known = meaning[tail]
        except KeyError:
            parsed = parse_marker(name)
            if parsed is None:
                known = None
            else:
                mark = (parsed[1], parsed[2], parsed[3])
                known = (mark, None if mark[0] == RUNNING else mark)
            meaning[tail] = known
        if known is None:
            continue
        if task_id in first:
            several.setdefault(task_id, [first[task_id][0]]).append(known[0])
        else:
            first[task_id] = known
    result = {task_id: known[1] for task_id, known in first.items()}
    for task_id, marks in several.items():
        attempt = max(m[1] for m in marks)
        finals = {(m[0], m[2]) for m in marks if m[1] == attempt and m[0] != RUNNING}
        if len(finals) == 1:
            state, detail = finals.pop()
            result[task_id] = (state, attempt, detail)
        else:
            result[task_id] = None
    return result


class TaskStateWriter:
    """Used by the worker: running -> progress/heartbeat -> final, each write atomic."""

    def __init__(self, path: str | Path, task_id: str = "") -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.stale = False  # set when a newer attempt of the task has started
        with flocked(self.path.parent / STATE_LOCK):  # two starts never get one attempt number
            previous = read_state(self.path)
            self.data = self._first_state(task_id, previous)
            self._markers = marker_dir(self.path)
            self._task_marker = task_of(self.path)
            # Before the file says running: this attempt's marker supersedes older final ones.
            self._running_marker = marker_name(self._task_marker, RUNNING, self.data["attempt"])
            make_marker(self._markers, self._running_marker)
            atomic_write_json(self.path, self.data)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _first_state(task_id: str, previous: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        data: dict[str, Any] = {
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
        # Subjects that killed an earlier attempt are failed from the start (never run again).
        data["subjects"] = crashed_subjects(previous, data["attempt"])
        # Keep fields the submitter owns (e.g. the scheduler id of this attempt).
        for key in ("native_id", "submitted"):
            if key in previous:
                data[key] = previous[key]
        return data

    def _write(self) -> bool:
        """Write the state unless a newer attempt owns the file (then stop for good)."""
        with self._lock:
            if self.stale:
                return False
            self.data["heartbeat"] = time.time()
            if write_if_current(self.path, self.data):
                return True
            self.stale = True
            self._stop.set()
            return False

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
            name = final_marker_name(self._task_marker, self.data)
        if not self._write():  # a newer attempt runs: this one's verdict would overwrite it
            try:
                remove_marker(self._markers, self._running_marker)
            except OSError:
                pass
            return
        # After the file: the marker lets `status` skip reading it. Without a marker (e.g.
        # killed right here) `status` reads the file, so a failure here loses nothing.
        try:
            make_marker(self._markers, name)
            remove_marker(self._markers, self._running_marker)
        except OSError:
            pass


def final_state_for(subject_statuses: list[str]) -> TaskState:
    """Task verdict from its subjects' result statuses (rendered | skipped | failed)."""
    if any(s == SubjectStatus.FAILED for s in subject_statuses):
        return FAILED
    if subject_statuses and all(s == SubjectStatus.SKIPPED for s in subject_statuses):
        return SKIPPED
    return DONE
