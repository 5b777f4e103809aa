"""The task plan: which subjects and frames each task of a job renders (plan.json).

Runs on login nodes and INSIDE Blender on cluster nodes, so it uses json only (Blender ships no
PyYAML). The format is compact so a 100,000-task plan loads in a fraction of a second: subjects
and frame chunks are listed once, a task is [subject indices, chunk index]. Paths inside the job
directory are stored relative to it, so a job directory can be moved or mounted elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .frames import chunk_frames, format_frame_list, parse_frame_spec
from .launch import Runtime, worker_argv
from .spec import RenderSettings, SettingsError, Subject, WorkerTask

PLAN_FORMAT = "orbitfarm-plan"
PLAN_VERSION = 1
STATE_DIR = "tasks"  # per-task state files, relative to the job directory
LOG_DIR = "logs"  # per-task logs, relative to the job directory


def task_id_for(index: int, width: int) -> str:
    """Task id of the task at `index`: 't' + zero-padded index (sorts like the index)."""
    return f"t{index:0{width}d}"


def index_of(task_id: str) -> int:
    """Inverse of task_id_for."""
    if not task_id.startswith("t") or not task_id[1:].isdigit():
        raise ValueError(f"not a task id: {task_id!r} (task ids look like t00042)")
    return int(task_id[1:])


def id_width(task_count: int) -> int:
    return max(5, len(str(max(task_count - 1, 0))))


@dataclass
class Plan:
    """Subjects x frame chunks -> tasks. `tasks[i] = (subject indices, chunk index)`."""

    job_id: str
    settings: RenderSettings
    subjects: list[Subject]  # blend/out paths as absolute paths (resolved)
    chunks: list[list[int]]  # distinct frame chunks
    tasks: list[tuple[list[int], int]]
    all_frames: bool = True  # one chunk holding every frame: workers get frames=None
    force: bool = False
    subject_timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return id_width(len(self.tasks))

    def task_ids(self) -> list[str]:
        width = self.width
        return [task_id_for(i, width) for i in range(len(self.tasks))]

    def task_frames(self, index: int) -> list[int]:
        return self.chunks[self.tasks[index][1]]

    def worker_task(self, index: int, job_dir: str | Path) -> WorkerTask:
        """The WorkerTask of task `index` (paths already absolute)."""
        if not 0 <= index < len(self.tasks):
            raise IndexError(f"task index {index} is outside this plan's 0..{len(self.tasks) - 1}")
        subject_indices, chunk = self.tasks[index]
        task_id = task_id_for(index, self.width)
        return WorkerTask(
            settings=self.settings,
            subjects=[self.subjects[s] for s in subject_indices],
            frames=None if self.all_frames else list(self.chunks[chunk]),
            force=self.force,
            state_file=str(Path(job_dir) / STATE_DIR / f"{task_id}.json"),
            task_id=task_id,
            subject_timeout=self.subject_timeout,
            extra=dict(self.extra, job_id=self.job_id, task_index=index),
        )

    def to_json(self, job_dir: str | Path) -> str:
        """Compact JSON; paths under job_dir are written relative to it."""
        base = os.path.abspath(job_dir)
        data = {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "job_id": self.job_id,
            "settings": self.settings.to_dict(),
            "force": self.force,
            "subject_timeout": self.subject_timeout,
            "all_frames": self.all_frames,
            "extra": self.extra,
            "subjects": [[_rel(s.blend, base), _rel(s.out, base), s.name] for s in self.subjects],
            "chunks": [format_frame_list(c) for c in self.chunks],
            "tasks": [[s, c] for s, c in self.tasks],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, job_dir: str | Path) -> Plan:
        """Parse plan.json; relative paths resolve against job_dir."""
        data = json.loads(text)
        if data.get("format") != PLAN_FORMAT:
            raise SettingsError("not an orbitfarm plan.json (no 'format: orbitfarm-plan')")
        if data.get("version") != PLAN_VERSION:
            raise SettingsError(
                f"plan format {data.get('version')!r} is not {PLAN_VERSION}: the job was made by "
                "another orbitfarm version; run it with that version's code (JOBDIR/code)"
            )
        base = os.path.abspath(job_dir)
        settings = RenderSettings.from_dict(data["settings"])
        total = settings.frames
        return cls(
            job_id=data["job_id"],
            settings=settings,
            subjects=[Subject(blend=_abs(b, base), out=_abs(o, base), name=n)
                      for b, o, n in data["subjects"]],
            chunks=[parse_frame_spec(c, total) for c in data["chunks"]],
            tasks=[(s, c) for s, c in data["tasks"]],
            all_frames=data["all_frames"],
            force=data["force"],
            subject_timeout=data["subject_timeout"],
            extra=data.get("extra") or {},
        )

    def write(self, path: str | Path) -> None:
        from .atomic import atomic_write_text

        atomic_write_text(path, self.to_json(Path(path).parent))

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        path = Path(path)
        return cls.from_json(path.read_text(encoding="utf-8"), path.parent)


def _rel(path: str, base: str) -> str:
    """Path relative to base (posix) when it lies inside base, else absolute."""
    absolute = os.path.abspath(path)
    if absolute == base or absolute.startswith(base.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(absolute, base)).as_posix()
    return absolute


def _abs(path: str, base: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def make_plan(
    job_id: str,
    settings: RenderSettings,
    subjects: list[Subject],
    chunk: int | None = None,
    group: int = 1,
    force: bool = False,
    subject_timeout: float | None = None,
) -> Plan:
    """Tasks = groups of `group` subjects x chunks of `chunk` frames (None: whole orbit)."""
    if group < 1:
        raise SettingsError(f"--group must be >= 1, got {group}")
    if chunk is not None and chunk < 1:
        raise SettingsError(f"--chunk must be >= 1 frames, got {chunk}")
    frames = settings.frame_list()
    chunks = chunk_frames(frames, chunk)
    all_frames = len(chunks) == 1 and settings.frame_range in (None, "")
    tasks: list[tuple[list[int], int]] = []
    for start in range(0, len(subjects), group):
        members = list(range(start, min(start + group, len(subjects))))
        for c in range(len(chunks)):
            tasks.append((members, c))
    return Plan(job_id=job_id, settings=settings, subjects=list(subjects), chunks=chunks,
                tasks=tasks, all_frames=all_frames, force=force, subject_timeout=subject_timeout)


def load_worker_task(plan_file: str, index: int) -> WorkerTask:
    """The WorkerTask of task `index` in plan_file (used by the worker on nodes)."""
    plan_path = Path(plan_file).resolve()
    return Plan.read(plan_path).worker_task(int(index), plan_path.parent)


def plan_worker_argv(runtime: Runtime, code_dir: str | Path, plan_file: str | Path,
                     index: int | str) -> list[str]:
    """launch.worker_argv, but the worker reads task `index` of plan_file (`--plan F --index N`).

    `index` may be a string such as a shell expression for sbatch scripts; it is passed as is.
    """
    argv = worker_argv(runtime, code_dir, plan_file)
    assert argv[-2] == "--task", argv  # worker_argv ends with ["--task", FILE]
    return argv[:-2] + ["--plan", str(plan_file), "--index", str(index)]
