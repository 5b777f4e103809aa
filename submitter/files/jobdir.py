"""The job directory: the single source of truth of a job, on disk (names: files/layout.py)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ..model.jobspec import JobSpec
from ..model.plan import Plan
from ..model.plan import index_of as _index_of
from ..model.settings import RenderSettings
from ..model.states import FINAL_STATES, TaskState
from . import layout
from .atomic import atomic_write_json, atomic_write_text, read_json
from .locks import reentrant_flocked
from .taskstate import (
    TaskSummary,
    attempt_marker_names,
    final_marker_name,
    list_markers,
    make_marker,
    marker_name,
    parse_marker,
    plain_summary,
    read_state,
    remove_marker,
    resolve_markers,
    summarize,
    write_if_current,
)

QUEUED, RUNNING = TaskState.QUEUED, TaskState.RUNNING

# What the job's own code copy holds: the package's Python files and the manifest only.
_CODE_DIRS = ("submitter", "worker", "operators", "panels")
_CODE_SUFFIXES = (".py", ".sh", ".toml")
_CACHE_VERSION = 3
_UNMARKED: tuple[str, int, bool] = ("", -1, False)  # sentinel: a task without markers
_QUIET_SECONDS = 2.0


class JobDir:
    """A job directory on disk. Cheap to construct; files are read on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()
        self._spec: JobSpec | None = None
        self._plan: Plan | None = None
        self._task_ids: list[str] | None = None
        self.all_final = False  # set by read_summaries()

    def __repr__(self) -> str:
        return f"JobDir({str(self.path)!r})"

    # -- identity and spec -------------------------------------------------------------------

    @property
    def job_file(self) -> Path:
        return self.path / layout.JOB_FILE

    @property
    def spec(self) -> JobSpec:
        if self._spec is None:
            self._spec = JobSpec.read(self.job_file)
        return self._spec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def plan_file(self) -> Path:
        return self.path / layout.PLAN_FILE

    @property
    def code_dir(self) -> Path:
        return layout.code_dir(self.path)

    @property
    def tasks_dir(self) -> Path:
        return self.path / layout.STATE_DIR

    @property
    def logs_dir(self) -> Path:
        return self.path / layout.LOG_DIR

    # -- plan and tasks ----------------------------------------------------------------------

    @property
    def settings(self) -> RenderSettings:
        """The job's render settings (stored once, in plan.json: workers read only JSON)."""
        return self.plan.settings

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self._plan = Plan.read(self.plan_file)
        return self._plan

    def task_ids(self) -> list[str]:
        if self._task_ids is None:
            self._task_ids = self.plan.task_ids()
        return self._task_ids

    def index_of(self, task_id: str) -> int:
        return _index_of(task_id)

    def state_file(self, task_id: str) -> Path:
        return self.tasks_dir / f"{task_id}.json"

    @property
    def markers_dir(self) -> Path:
        return self.tasks_dir / layout.MARKER_DIR

    def log_file(self, task_id: str) -> Path:
        return self.logs_dir / f"{task_id}.log"

    def read_state(self, task_id: str) -> dict[str, Any]:
        """The task's state; a task whose file does not exist yet (or is empty) reads as queued."""
        return read_state(self.state_file(task_id))

    def write_state(self, task_id: str, data: dict[str, Any]) -> bool:
        """Replace the task's state file, keeping its markers true (see taskstate). False (and
        nothing written) when the file holds a newer attempt than `data`."""
        state = data.get("state", QUEUED)
        attempt = int(data.get("attempt") or 0)
        folder = self.markers_dir
        if state in FINAL_STATES:
            if not write_if_current(self.state_file(task_id), data):
                return False
            try:  # after the file; without the marker `status` just reads the file
                make_marker(folder, final_marker_name(task_id, data))
                remove_marker(folder, marker_name(task_id, RUNNING, attempt))
            except OSError:
                pass
            return True
        # Before the file: no final marker of this attempt may outlive its final state.
        if state == RUNNING:
            make_marker(folder, marker_name(task_id, RUNNING, attempt))
        for name in attempt_marker_names(task_id, attempt):
            if not name.startswith(f"{task_id}.{RUNNING}."):
                remove_marker(folder, name)
        return write_if_current(self.state_file(task_id), data)

    def reopen(self, states: dict[str, dict[str, Any]]) -> None:
        """Write non-final states (e.g. queued for a retry) after withdrawing every marker
        of those tasks, of any attempt (one listing of the marker folder)."""
        for data in states.values():
            if data.get("state", QUEUED) in FINAL_STATES:
                raise ValueError(f"reopen() writes non-final states, not {data['state']!r}")
        folder = self.markers_dir
        for name in list_markers(folder):
            parsed = parse_marker(name)
            if parsed is not None and parsed[0] in states:
                remove_marker(folder, name)
        for task_id, data in states.items():
            write_if_current(self.state_file(task_id), data)

    def read_states(self) -> dict[str, dict[str, Any]]:
        """Every state file that exists, by task id (one directory scan; missing = queued)."""
        states: dict[str, dict[str, Any]] = {}
        try:
            entries = list(os.scandir(self.tasks_dir))
        except FileNotFoundError:
            return states
        for entry in entries:
            name = entry.name
            if name.endswith(".json") and not name.startswith("."):
                data = read_state(entry.path)  # an empty or damaged file reads as queued
                if data:
                    states[name[:-5]] = data
        return states

    def read_summaries(self) -> dict[str, TaskSummary]:
        """What `status` needs of every existing state file, by task id (missing = queued).

        A summary is a taskstate.TaskSummary. Tasks whose marker alone says how they ended
        (tasks/markers/, see taskstate) are answered from one listing of that folder; only
        the other state files are read: failed ones, running ones, ones with reasons, ones
        without a marker (a worker killed before making it, an older job). Those reads are
        cached under cache/ (see _read_cached). Sets `self.all_final` when every existing
        state is final.
        """
        self.all_final = False
        marks = resolve_markers(list_markers(self.markers_dir))
        found: dict[str, TaskSummary] = {}
        to_read: list[str] = []
        unmarked = not marks
        if marks:
            plain: dict[tuple, TaskSummary] = {}  # one summary per distinct marker (read-only)
            for task_id in self.task_ids():
                mark = marks.get(task_id, _UNMARKED)
                if mark is _UNMARKED:
                    unmarked = True
                elif mark is not None and not mark[2]:
                    summary = plain.get(mark)
                    if summary is None:
                        summary = plain[mark] = plain_summary(mark[0], mark[1])
                    found[task_id] = summary
                else:
                    to_read.append(task_id)
        if unmarked:  # which of the tasks without a marker have a state file at all
            try:
                names = os.listdir(self.tasks_dir)
            except FileNotFoundError:
                names = []
            to_read += [name[:-5] for name in names if name.endswith(".json")
                        and not name.startswith(".") and name[:-5] not in marks]
        read = self._read_cached(to_read) if to_read else {}
        found.update(read)
        self.all_final = all(summary.state in FINAL_STATES for summary in read.values())
        return found

    def _read_cached(self, task_ids: list[str]) -> dict[str, TaskSummary]:
        """Summaries of these tasks' state files; final ones cached under cache/.

        The cache is keyed by (mtime, size, inode), so a second look only stats the files. State
        files are only ever replaced by rename, which also changes the folder's mtime: when
        the folder is unchanged since a scan that found only final states, the cache is the
        whole answer.
        """
        try:
            folder_mtime = os.stat(self.tasks_dir).st_mtime_ns
        except FileNotFoundError:
            return {}
        cache_dir = self.path / layout.CACHE_DIR
        head = read_json(cache_dir / "summaries.json", default=None) or {}
        if head.get("version") != _CACHE_VERSION:
            head = {}
        if head:  # summaries are stored once per distinct value: most tasks look alike
            kinds = [TaskSummary.from_list(k) for k in head["kinds"]]
            summaries: dict[str, TaskSummary] = {t: kinds[k] for t, k in head["tasks"].items()}
        else:
            summaries = {}
        if (head.get("complete") and head.get("folder_mtime") == folder_mtime
                and all(t in summaries for t in task_ids)):
            return {t: summaries[t] for t in task_ids}
        stamps: dict[str, list] = (read_json(cache_dir / "stamps.json", default=None) or {}
                                   if head else {})
        found: dict[str, TaskSummary] = {}
        new_summaries: dict[str, TaskSummary] = {}
        new_stamps: dict[str, list] = {}
        changed = False
        complete = True
        for task_id in task_ids:
            path = self.state_file(task_id)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            # every write is a rename to a new inode: a same-size rewrite within one mtime
            # tick still changes the stamp
            stamp = [st.st_mtime_ns, st.st_size, st.st_ino]
            if stamps.get(task_id) == stamp and task_id in summaries:
                found[task_id] = new_summaries[task_id] = summaries[task_id]
                new_stamps[task_id] = stamp
                continue
            data = read_state(path)  # an empty or damaged file reads as queued
            summary = found[task_id] = summarize(data)
            if summary.state in FINAL_STATES:
                new_summaries[task_id] = summary
                new_stamps[task_id] = stamp
                changed = True
            else:
                complete = False
        # Trust "nothing changed" only if the folder was quiet for a while before this scan
        # (a write within the same mtime tick would otherwise go unnoticed).
        trusted = complete and time.time() - folder_mtime / 1e9 > _QUIET_SECONDS
        if changed or new_stamps.keys() != stamps.keys() or trusted != bool(head.get("complete")):
            try:
                atomic_write_text(cache_dir / "stamps.json", json.dumps(
                    new_stamps, separators=(",", ":"), allow_nan=False))
                kind_of: dict[str, int] = {}
                tasks: dict[str, int] = {}
                for task_id, summary in new_summaries.items():
                    key = json.dumps(summary, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                    tasks[task_id] = kind_of.setdefault(key, len(kind_of))
                atomic_write_text(cache_dir / "summaries.json", json.dumps({
                    "version": _CACHE_VERSION, "folder_mtime": folder_mtime,
                    "complete": trusted, "kinds": [json.loads(k) for k in kind_of],
                    "tasks": tasks,
                }, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
            except OSError:
                pass  # a read-only job directory still answers, just slower
        return found

    def log_tail(self, task_id: str, lines: int = 20, max_bytes: int = 8192) -> str:
        """The last lines of a task's log ('' when there is none)."""
        try:
            with open(self.log_file(task_id), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - max_bytes))
                data = fh.read()
        except FileNotFoundError:
            return ""
        text = data.decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def exclusive(self) -> Any:
        """A context holding the job's lock: one command at a time decides from task states
        and changes them (retry, reconcile, cancel). A crashed holder's lock is freed by the
        kernel; the same thread may take it again."""
        return reentrant_flocked(self.path / layout.JOB_LOCK)

    # -- target record -----------------------------------------------------------------------

    def target_record(self) -> dict[str, Any]:
        """What the target stored about its submissions ({} before the first submit)."""
        return read_json(self.path / layout.TARGET_FILE, default=None) or {}

    def save_target_record(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.path / layout.TARGET_FILE, record)

    # -- creation ----------------------------------------------------------------------------

    def write_new(self, spec: JobSpec, plan: Plan) -> None:
        """Write job.yaml, plan.json and the task/log folders of a new job."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.tasks_dir.mkdir(exist_ok=True)
        self.markers_dir.mkdir(exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        spec.write(self.job_file)
        plan.write(self.plan_file)
        self._spec, self._plan, self._task_ids = spec, plan, None


def copy_code(source: Path, dest: Path) -> None:
    """Copy the orbitfarm package (Python files + manifest; no tests/bench/venvs) to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if (item.is_file() and item.suffix in _CODE_SUFFIXES and not item.name.startswith(".")
                and item.name != "setup.py"):  # packaging, not code
            if item.suffix == ".toml" and item.name != "blender_manifest.toml":
                continue
            shutil.copy2(item, dest / item.name)
    for name in _CODE_DIRS:
        folder = source / name
        if not folder.is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            rel = Path(root).relative_to(source)
            for file in sorted(files):
                if file.endswith(_CODE_SUFFIXES[:2]) and not file.startswith("."):
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(Path(root) / file, dest / rel / file)


def new_job_id() -> str:
    """Sortable, unique enough: UTC time + 4 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(2).hex()
