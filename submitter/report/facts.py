"""What the job's web page shows, gathered from the job directory (no HTML here).

Built on `jobs.status` (which lists one marker folder instead of reading every state file), so
a 10,000-subject page costs little more than `orbitfarm status`. What status does not know is
read sparingly: the state files and log tails of failed tasks (at most MAX_FAILED), the start
and end times of a sample of tasks (timings), and each finished subject's result.json once
(its frame timings are cached in REPORT_DIR/timings.json, TIMINGS_PER_WRITE new ones a write).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..files import layout
from ..files.atomic import atomic_write_text, read_json
from ..files.jobdir import JobDir
from ..jobs.job_status import JobStatus
from ..model.states import SubjectStatus, TaskState

MAX_FAILED = 200  # failed tasks listed with their log tails; the rest are counted
LOG_LINES = 12
TASK_SAMPLE = 500  # tasks whose state files are read for the timings
# result.json files read per automatic write (each finished subject's is read once, then
# cached): a 10,000-subject job's first page would otherwise parse ~300 MB of JSON.
TIMINGS_PER_WRITE = 100
FINISHED_SUBJECT = (SubjectStatus.RENDERED, SubjectStatus.FAILED, SubjectStatus.SKIPPED,
                     SubjectStatus.CANCELLED)
_SECRET_KEY = re.compile(r"token|secret|passw|credential|auth|api.?key|private", re.I)
_TIMINGS_FILE = "timings.json"


@dataclass(slots=True)
class FailedTask:
    """A task that failed or was lost: why, where its log is, which subjects it held."""

    id: str
    state: str
    attempt: int
    reason: str
    log_tail: str
    log_href: str  # relative to the job directory
    subjects: list[str]
    final: bool  # max attempts reached: `retry` will not run it again


@dataclass(slots=True)
class Timing:
    """Frame times of one subject (from its result.json)."""

    frames: int = 0
    seconds: float = 0.0  # render + check + save, summed over frames
    render_seconds: float = 0.0  # what Blender's render handlers timed

    @property
    def per_frame(self) -> float:
        return self.seconds / self.frames if self.frames else 0.0


@dataclass
class JobTimes:
    """Where the time went, job-wide (task times from a sample when the job is big)."""

    created: float
    first_start: float | None = None
    last_end: float | None = None
    task_wall: float = 0.0  # summed worker wall time of the sampled tasks, scaled to all
    sampled: int = 0  # tasks read for task_wall (of tasks with a start time)
    tasks: int = 0
    frame_seconds: float = 0.0
    render_seconds: float = 0.0
    frames_timed: int = 0
    subjects_with_frames: int = 0  # of which len(ReportFacts.timings) are timed so far


@dataclass
class ReportFacts:
    """Everything page.py renders."""

    job_path: Path
    status: JobStatus
    settings: dict[str, Any]
    job_options: dict[str, Any]
    target: dict[str, Any]
    as_of: float
    eta_seconds: float | None
    failed: list[FailedTask]
    failed_total: int
    timings: dict[int, Timing]  # by subject index in the plan
    times: JobTimes
    thumbs: set[int]  # subject indexes with a thumbnail strip
    commands: list[tuple[str, str]]  # (what it does, shell command)


def redacted(value: Any, key: str = "") -> Any:
    """A profile value fit to show: secret-looking keys and credentials in URLs hidden."""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, key) for v in value]
    if key and _SECRET_KEY.search(key) and value not in (None, "", False):
        return "(hidden)"
    if isinstance(value, str) and "://" in value and ("@" in value or "?" in value):
        return value.split("://", 1)[0] + "://(hidden)"
    return value


def commands(job_path: Path, finished: bool, retryable: bool) -> list[tuple[str, str]]:
    """The exact commands to follow, retry or cancel this job, shell-quoted."""
    where = shlex.quote(str(job_path))
    found = [("progress in the terminal", f"orbitfarm wait {where}"),
             ("per-subject table", f"orbitfarm status {where}"),
             ("logs of failed tasks", f"orbitfarm logs {where}")]
    if retryable:
        found.append(("rerun failed, lost or cancelled tasks", f"orbitfarm retry {where} --wait"))
    if not finished:
        found.append(("stop the unfinished tasks", f"orbitfarm cancel {where}"))
    found.append(("rewrite this page and open it", f"orbitfarm report {where} --open"))
    return found


def _members(plan: Any, names: list[str], position: int) -> list[str]:
    """Names of the subjects the task at plan position `position` renders."""
    group = position // len(plan.chunks)
    first = group * plan.group
    return names[first: min(first + plan.group, len(names))]


def failed_tasks(job: JobDir, st: JobStatus) -> tuple[list[FailedTask], int]:
    """Failed and lost tasks (first MAX_FAILED) with their log tails; and how many there are."""
    wanted = [(t, False) for t in st.retryable] + [(t, True) for t in st.exhausted]
    position = {t: i for i, t in enumerate(job.task_ids())}
    found: list[FailedTask] = []
    total = 0
    names = job.plan.subject_names()
    for task_id, final in sorted(wanted, key=lambda pair: position.get(pair[0], 0)):
        state = job.read_state(task_id)
        if state.get("state") not in (TaskState.FAILED, TaskState.LOST):
            continue  # cancelled: retryable, but nothing went wrong
        total += 1
        if len(found) >= MAX_FAILED:
            continue
        tail = job.log_tail(task_id, LOG_LINES) or str(state.get("log_tail") or "")
        found.append(FailedTask(
            id=task_id, state=str(state.get("state")), attempt=int(state.get("attempt") or 0),
            reason=str(state.get("reason") or ""), log_tail=tail,
            log_href=f"{layout.LOG_DIR}/{task_id}.log",
            subjects=_members(job.plan, names, position.get(task_id, 0)), final=final))
    return found, total


def job_times(job: JobDir, st: JobStatus) -> JobTimes:
    """Start, end and worker time of the job's tasks (every k-th task's state file)."""
    ids = job.task_ids()
    times = JobTimes(created=job.spec.created, tasks=len(ids))
    step = max(1, len(ids) // TASK_SAMPLE)
    walls: list[float] = []
    for task_id in ids[::step]:
        if st.tasks.get(TaskState.QUEUED, 0) == len(ids):
            break  # nothing started: no state file worth reading
        state = job.read_state(task_id)
        started, ended = state.get("started"), state.get("ended")
        if not isinstance(started, int | float):
            continue
        times.first_start = min(started, times.first_start or started)
        if isinstance(ended, int | float) and ended >= started:
            times.last_end = max(ended, times.last_end or ended)
            walls.append(ended - started)
        elif state.get("state") == TaskState.RUNNING:
            walls.append(max(0.0, time.time() - started))
    times.sampled = len(walls)
    times.task_wall = sum(walls) * step
    return times


def subject_timings(job: JobDir, st: JobStatus,
                    limit: int | None = TIMINGS_PER_WRITE) -> tuple[dict[int, Timing], int]:
    """Frame timings per subject from result.json, at most `limit` files read (None: all);
    also how many subjects have frames. A finished subject's timing is cached with its state
    and frame count (a subject that renders again changes one of them), so a big job's page
    neither stats nor reads its thousands of result.json files again."""
    cache_path = job.path / layout.REPORT_DIR / _TIMINGS_FILE
    cached: dict[str, list] = read_json(cache_path, default=None) or {}
    kept: dict[str, list] = {}
    found: dict[int, Timing] = {}
    with_frames = 0
    reads = 0
    for index, row in enumerate(st.subjects):
        if row.frames_done == 0 or not row.out:
            continue
        with_frames += 1
        key = str(index)
        hit = cached.get(key)
        if hit and hit[0] == row.state and hit[1] == row.frames_done:
            found[index] = timing = Timing(*hit[2:])
        elif limit is not None and reads >= limit:
            continue
        else:
            reads += 1
            found[index] = timing = _read_timing(os.path.join(row.out, layout.RESULT_FILE))
        if row.state in FINISHED_SUBJECT:
            kept[key] = [row.state, row.frames_done, timing.frames, timing.seconds,
                         timing.render_seconds]
    if kept != cached:
        try:
            atomic_write_text(cache_path, json.dumps(kept, separators=(",", ":"), allow_nan=False))
        except OSError:
            pass  # a read-only job directory: timings are read again next time
    return found, with_frames


def _read_timing(result: str) -> Timing:
    data = read_json(result, default=None) or {}
    frames = data.get("frames") if isinstance(data, dict) else None
    timing = Timing()
    for entry in (frames or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("seconds"), int | float):
            timing.frames += 1
            timing.seconds += float(entry["seconds"])
            timing.render_seconds += float(entry.get("render_seconds") or 0.0)
    return timing


def eta(st: JobStatus, times: JobTimes, now: float) -> float | None:
    """Seconds left at the average rendering rate since the first task started; None when
    unknown (nothing rendered yet: frames that failed or were skipped say nothing of speed)."""
    began = times.first_start or times.created
    remaining = st.frames_total - st.frames_settled
    if st.finished or remaining <= 0 or not began or now <= began or st.frames_done <= 0:
        return None
    return remaining / (st.frames_done / (now - began))


def gather(job: JobDir, st: JobStatus, thumbs: set[int],
           timings_limit: int | None = TIMINGS_PER_WRITE) -> ReportFacts:
    """The page's facts for this status (thumbnails made by the caller)."""
    now = time.time()
    failed, failed_total = failed_tasks(job, st)
    times = job_times(job, st)
    timings, times.subjects_with_frames = subject_timings(job, st, timings_limit)
    for timing in timings.values():
        times.frame_seconds += timing.seconds
        times.render_seconds += timing.render_seconds
        times.frames_timed += timing.frames
    spec = job.spec
    options = {"subjects": len(st.subjects), "tasks": len(job.task_ids()),
               "frames per task": spec.chunk or "whole orbit", "subjects per task": spec.group,
               "packed inputs": spec.pack, "max attempts": spec.max_attempts,
               "outputs": spec.out or "next to each .blend", "force": spec.force,
               "subject time limit": spec.subject_timeout or "none",
               "notify": "set (hidden)" if spec.notify else "none"}
    return ReportFacts(
        job_path=job.path, status=st, settings=asdict(job.settings), job_options=options,
        target=redacted(dict(spec.target)), as_of=now, eta_seconds=eta(st, times, now),
        failed=failed, failed_total=failed_total, timings=timings, times=times, thumbs=thumbs,
        commands=commands(job.path, st.finished, bool(st.retryable)),
    )
