"""The task plan: which subjects and frames each task of a job renders (plan.json).

Runs on login nodes and INSIDE Blender on cluster nodes, so it uses json only (Blender ships no
PyYAML). The format is compact so a 100,000-task plan loads in a fraction of a second: subjects
and frame chunks are listed once, a task is [subject indices, chunk index]. Paths inside the job
directory are stored relative to it, so a job directory can be moved or mounted elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..files.layout import PACKED_SUBJECTS, state_file
from .frames import chunk_frames, format_frame_list, parse_frame_spec
from .settings import JobOptions, RenderSettings, SettingsError
from .task import Subject, WorkerTask

PLAN_FORMAT = "orbitfarm-plan"
PLAN_VERSION = 1


def task_id_for(index: int, digits: int) -> str:
    """Task id of the task at `index`: 't' + `digits` zero-padded digits (sorts like the index)."""
    return f"t{index:0{digits}d}"


def index_of(task_id: str) -> int:
    """Inverse of task_id_for."""
    if not task_id.startswith("t") or not task_id[1:].isdigit():
        raise ValueError(f"not a task id: {task_id!r} (task ids look like t00042)")
    return int(task_id[1:])


def task_id_digits(task_count: int) -> int:
    """How many digits the task ids of a plan of `task_count` tasks have (at least 5)."""
    return max(5, len(str(max(task_count - 1, 0))))


class Plan:
    """Subjects x frame chunks -> tasks.

    Task i renders subject group i // len(chunks) (subjects g*group .. g*group+group-1) for
    frame chunk i % len(chunks). A plan read from disk builds Subject objects only when asked:
    a node reads a 100,000-subject plan to run one task.
    """

    def __init__(
        self,
        job_id: str,
        settings: RenderSettings,
        subjects: list[Subject] | None,
        chunks: list[list[int]],
        group: int = 1,
        all_frames: bool = True,
        force: bool = False,
        subject_timeout: float | None = None,
        extra: dict[str, Any] | None = None,
        raw_subjects: list[str | list[str]] | None = None,
        base: str = "",
        out_root: str = "",
        blend_root: str = "",
    ) -> None:
        self.job_id = job_id
        self.settings = settings
        self.chunks = chunks  # distinct frame chunks
        self.group = group
        self.all_frames = all_frames  # one chunk holding every frame: workers get frames=None
        self.force = force
        self.subject_timeout = subject_timeout
        self.extra = extra or {}
        self._subjects = subjects
        self._raw = raw_subjects  # [blend, name] or [blend, name, out], as stored
        self._base = base
        self._out_root = out_root
        self._blend_root = blend_root  # raw blends are file names under blend_root/<name>/
        self._tasks: list[tuple[range, int]] | None = None

    # -- subjects ----------------------------------------------------------------------------

    @property
    def subjects(self) -> list[Subject]:
        """Every subject, paths absolute."""
        if self._subjects is None:
            self._subjects = [self.subject(i) for i in range(self.subject_count)]
        return self._subjects

    def subject(self, index: int) -> Subject:
        if self._subjects is not None:
            return self._subjects[index]
        raw = _row((self._raw or [])[index])
        if self._blend_root:
            blend = os.path.join(self._blend_root, raw[1], raw[0])
        else:
            blend = _abs(raw[0], self._base)
        return Subject(blend=blend, out=self.subject_out(index), name=raw[1])

    def subject_out(self, index: int) -> str:
        if self._subjects is not None:
            return self._subjects[index].out
        raw = _row((self._raw or [])[index])
        if len(raw) > 2:
            return _abs(raw[2], self._base)
        return os.path.join(self._out_root, raw[1])

    def subject_outs(self) -> list[str]:
        """Every subject's output folder (fast for plans read from disk)."""
        if self._subjects is not None:
            return [s.out for s in self._subjects]
        root = self._out_root.rstrip("/") + "/"
        return [root + r if isinstance(r, str) else
                _abs(r[2], self._base) if len(r) > 2 else root + r[1] for r in self._raw or []]

    @property
    def subject_count(self) -> int:
        return len(self._subjects) if self._subjects is not None else len(self._raw or [])

    def subject_names(self) -> list[str]:
        if self._subjects is not None:
            return [s.name for s in self._subjects]
        return [raw if isinstance(raw, str) else raw[1] for raw in self._raw or []]

    # -- tasks -------------------------------------------------------------------------------

    @property
    def task_count(self) -> int:
        groups = -(-self.subject_count // self.group)
        return groups * len(self.chunks)

    def task(self, index: int) -> tuple[range, int]:
        """(subject indices, chunk index) of task `index`."""
        if not 0 <= index < self.task_count:
            raise IndexError(f"task index {index} is outside this plan's 0..{self.task_count - 1}")
        g, c = divmod(index, len(self.chunks))
        first = g * self.group
        return range(first, min(first + self.group, self.subject_count)), c

    @property
    def tasks(self) -> list[tuple[range, int]]:
        if self._tasks is None:
            self._tasks = [self.task(i) for i in range(self.task_count)]
        return self._tasks

    @property
    def task_id_digits(self) -> int:
        return task_id_digits(self.task_count)

    def task_id(self, index: int) -> str:
        return task_id_for(index, self.task_id_digits)

    def task_ids(self) -> list[str]:
        digits = self.task_id_digits
        return [task_id_for(i, digits) for i in range(self.task_count)]

    def task_frames(self, index: int) -> list[int]:
        return self.chunks[self.task(index)[1]]

    def worker_task(self, index: int, job_dir: str | Path) -> WorkerTask:
        """The WorkerTask of task `index` (paths absolute)."""
        subject_indices, chunk = self.task(index)
        task_id = self.task_id(index)
        return WorkerTask(
            settings=self.settings,
            subjects=[self.subject(s) for s in subject_indices],
            frames=None if self.all_frames else list(self.chunks[chunk]),
            force=self.force,
            state_file=str(state_file(job_dir, task_id)),
            task_id=task_id,
            subject_timeout=self.subject_timeout,
            extra=dict(self.extra, job_id=self.job_id, task_index=index),
        )

    # -- files -------------------------------------------------------------------------------

    def to_json(self, job_dir: str | Path) -> str:
        """Compact JSON; paths under job_dir are written relative to it."""
        base = os.path.abspath(job_dir)
        outs = [s.out for s in self.subjects]
        roots = {os.path.dirname(o) for o in outs}
        out_root = roots.pop() if len(roots) == 1 else ""
        # Packed subjects sit in inputs/subjects/<name>/: then only the file name is stored.
        packed = os.path.join(base, PACKED_SUBJECTS)
        blend_root = PACKED_SUBJECTS if all(
            os.path.dirname(os.path.abspath(s.blend)) == os.path.join(packed, s.name)
            for s in self.subjects) else ""
        rows = []
        for s in self.subjects:
            blend = os.path.basename(s.blend) if blend_root else _rel(s.blend, base)
            row = [blend, s.name]
            if not out_root or s.out != os.path.join(out_root, s.name):
                row.append(_rel(s.out, base))
            # The common case, inputs/subjects/<name>/<name>.blend -> out_root/<name>, is
            # stored as the bare name (100,000-subject plans parse in a fraction of a second).
            rows.append(s.name if row == [f"{s.name}.blend", s.name] and blend_root else row)
        data = {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "job_id": self.job_id,
            "settings": self.settings.to_dict(),
            "force": self.force,
            "subject_timeout": self.subject_timeout,
            "all_frames": self.all_frames,
            "extra": self.extra,
            "group": self.group,
            "chunks": [format_frame_list(c) for c in self.chunks],
            "out_root": _rel(out_root, base) if out_root else "",
            "blend_root": blend_root,
            "subjects": rows,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, job_dir: str | Path) -> Plan:
        """Parse plan.json; relative paths resolve against job_dir."""
        try:
            return cls._from_json(text, job_dir)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, SettingsError):
                raise
            raise SettingsError(f"plan.json in {job_dir} is damaged ({type(exc).__name__}: "
                                f"{exc}); submit the job again") from None

    @classmethod
    def _from_json(cls, text: str, job_dir: str | Path) -> Plan:
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
        total = settings.view_count
        return cls(
            job_id=data["job_id"],
            settings=settings,
            subjects=None,
            raw_subjects=data["subjects"],
            base=base,
            out_root=_abs(data["out_root"], base) if data["out_root"] else "",
            blend_root=_abs(data["blend_root"], base) if data["blend_root"] else "",
            chunks=[parse_frame_spec(c, total) for c in data["chunks"]],
            group=int(data["group"]),
            all_frames=data["all_frames"],
            force=data["force"],
            subject_timeout=data["subject_timeout"],
            extra=data.get("extra") or {},
        )

    def write(self, path: str | Path) -> None:
        from ..files.atomic import atomic_write_text

        atomic_write_text(path, self.to_json(Path(path).parent))

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        path = Path(path)
        return cls.from_json(path.read_text(encoding="utf-8"), path.parent)


def _row(raw: str | list[str]) -> list[str]:
    """A stored subject row in its long form [blend, name(, out)]."""
    return [f"{raw}.blend", raw] if isinstance(raw, str) else raw


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
    """Tasks = groups of `group` subjects x chunks of `chunk` frames (None: whole orbit).

    With no frames at all there are no chunks and no tasks."""
    JobOptions(chunk=chunk, group=group).validate()
    frames = settings.frame_list()
    chunks = chunk_frames(frames, chunk)
    all_frames = len(chunks) == 1 and settings.frame_range in (None, "")
    return Plan(job_id=job_id, settings=settings, subjects=list(subjects), chunks=chunks,
                group=group, all_frames=all_frames, force=force, subject_timeout=subject_timeout)


def load_worker_task(plan_file: str, index: int) -> WorkerTask:
    """The WorkerTask of task `index` in plan_file (used by the worker on nodes)."""
    plan_path = Path(plan_file).resolve()
    return Plan.read(plan_path).worker_task(int(index), plan_path.parent)

