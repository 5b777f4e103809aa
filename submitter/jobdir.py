"""The job directory: the single source of truth of a job, on disk.

Layout (JOBDIR = OUT/.orbitfarm/jobs/<id>/ by default):
    job.yaml            versioned job spec (what was asked for)
    plan.json           tasks (what each worker renders); paths inside JOBDIR are relative
    code/orbitfarm/     the orbitfarm code that submitted; nodes run exactly this version
    inputs/             packaged .blend files and their dependencies (content-addressed)
    tasks/<task>.json   per-task state, written atomically by workers and the submitter
    logs/<task>.log     per-task worker logs
    target.json         what the target recorded about its submission(s)
    preflight.json      the preflight report accepted at submit time
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, read_json
from .jobspec import JobSpec
from .plan import LOG_DIR, STATE_DIR, Plan, id_width, task_id_for
from .plan import index_of as _index_of
from .taskstate import QUEUED

JOB_FILE = "job.yaml"
PLAN_FILE = "plan.json"
TARGET_FILE = "target.json"

# What the job's own code copy holds: the package's Python files and the manifest only.
_CODE_DIRS = ("submitter", "worker", "operators", "panels")
_CODE_SUFFIXES = (".py", ".sh", ".toml")


class JobDir:
    """A job directory on disk. Cheap to construct; files are read on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()
        self._spec: JobSpec | None = None
        self._plan: Plan | None = None
        self._task_ids: list[str] | None = None

    def __repr__(self) -> str:
        return f"JobDir({str(self.path)!r})"

    # -- identity and spec -------------------------------------------------------------------

    @property
    def job_file(self) -> Path:
        return self.path / JOB_FILE

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
        return self.path / PLAN_FILE

    @property
    def code_dir(self) -> Path:
        return self.path / "code" / "orbitfarm"

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def tasks_dir(self) -> Path:
        return self.path / STATE_DIR

    @property
    def logs_dir(self) -> Path:
        return self.path / LOG_DIR

    def exists(self) -> bool:
        return self.job_file.is_file() and self.plan_file.is_file()

    # -- plan and tasks ----------------------------------------------------------------------

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self._plan = Plan.read(self.plan_file)
        return self._plan

    def task_ids(self) -> list[str]:
        if self._task_ids is None:
            self._task_ids = self.plan.task_ids()
        return self._task_ids

    def task_id(self, index: int) -> str:
        return task_id_for(index, id_width(len(self.plan.tasks)))

    def index_of(self, task_id: str) -> int:
        return _index_of(task_id)

    def state_file(self, task_id: str) -> Path:
        return self.tasks_dir / f"{task_id}.json"

    def log_file(self, task_id: str) -> Path:
        return self.logs_dir / f"{task_id}.log"

    def read_state(self, task_id: str) -> dict[str, Any]:
        """The task's state; a task whose file does not exist yet reads as queued."""
        return read_json(self.state_file(task_id), default=None) or {"state": QUEUED}

    def write_state(self, task_id: str, data: dict[str, Any]) -> None:
        atomic_write_json(self.state_file(task_id), data)

    def read_states(self) -> dict[str, dict[str, Any]]:
        """Every state file that exists, by task id (one directory scan; missing = queued)."""
        states: dict[str, dict[str, Any]] = {}
        try:
            entries = list(os.scandir(self.tasks_dir))
        except FileNotFoundError:
            return states
        for entry in entries:
            name = entry.name
            if not name.endswith(".json") or name.startswith("."):
                continue
            data = read_json(entry.path, default=None)
            if data:
                states[name[:-5]] = data
        return states

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

    # -- target record -----------------------------------------------------------------------

    def target_record(self) -> dict[str, Any]:
        """What the target stored about its submissions ({} before the first submit)."""
        return read_json(self.path / TARGET_FILE, default=None) or {}

    def save_target_record(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.path / TARGET_FILE, record)

    # -- creation ----------------------------------------------------------------------------

    def write_new(self, spec: JobSpec, plan: Plan) -> None:
        """Write job.yaml, plan.json and the task/log folders of a new job."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.tasks_dir.mkdir(exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        spec.write(self.job_file)
        plan.write(self.plan_file)
        self._spec, self._plan, self._task_ids = spec, plan, None


def copy_code(source: Path, dest: Path) -> None:
    """Copy the orbitfarm package (Python files + manifest; no tests/bench/venvs) to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.is_file() and item.suffix in _CODE_SUFFIXES and not item.name.startswith("."):
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
