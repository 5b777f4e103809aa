"""A job's state: reconcile the worker's task states with the target's view, per subject.

`status` reads the task summaries (files/jobdir.py: markers first, then state files), asks the
target about tasks that have no final state yet (reconcile), folds tasks into subjects, and
sends the job's notifications.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..files import layout
from ..files.jobdir import JobDir
from ..files.locks import LockUnavailable
from ..files.taskstate import QUEUED_SUMMARY, STALE_AFTER_SECONDS, TaskSummary, summarize
from ..model.states import FINAL_STATES, RETRYABLE_STATES, EndReason, Phase, SubjectStatus
from ..model.states import TaskState as T
from ..targets import make_target
from ..targets.base import TargetError
from . import notify, secrets
from .errors import JobError

S = SubjectStatus
SUBJECT_STATES = tuple(SubjectStatus)
# Which state a subject shows when its tasks disagree: the worst one.
_RANK = {S.FAILED: 6, S.CANCELLED: 5, S.RUNNING: 4, S.QUEUED: 3, S.RENDERED: 2, S.SKIPPED: 1,
         "": 0}
_FINISHED_BY_WORKER = (S.RENDERED, S.SKIPPED, S.FAILED)


@dataclass(slots=True)
class SubjectRow:
    """One subject in `orbitfarm status`."""

    name: str
    state: str  # a SubjectStatus
    frames_done: int
    frames_total: int
    reason: str = ""
    out: str = ""
    warnings: int = 0  # how many warnings the subject's result.json lists


@dataclass
class JobStatus:
    """A job's state: per subject, per task-state counts, totals."""

    id: str
    path: str
    target: str
    subjects: list[SubjectRow]
    tasks: dict[str, int]  # task state -> count
    frames_done: int
    frames_total: int
    frames_settled: int  # done + frames of subjects that ended skipped/failed (for progress)
    finished: bool
    failed_tasks: int
    retryable: list[str] = field(default_factory=list)  # failed/lost/cancelled, attempts left
    exhausted: list[str] = field(default_factory=list)  # failed for good (max attempts)
    created: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        counts = {str(s): 0 for s in SUBJECT_STATES}
        for row in self.subjects:
            counts[row.state] = counts.get(row.state, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        return self.finished and self.failed_tasks == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what asdict gives, built directly: asdict is slow for 100,000 rows)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(tasks=dict(self.tasks), retryable=list(self.retryable),
                    exhausted=list(self.exhausted), warnings=list(self.warnings),
                    subjects=[{"name": r.name, "state": r.state, "frames_done": r.frames_done,
                               "frames_total": r.frames_total, "reason": r.reason, "out": r.out,
                               "warnings": r.warnings}
                              for r in self.subjects])
        data["totals"] = self.totals
        return data


def one_line(reason: str, limit: int = 120) -> tuple[str, bool]:
    """A reason as one table cell: its first line cut to `limit`; and whether it was cut."""
    lines = reason.strip().splitlines()
    first = lines[0].strip() if lines else ""
    cut = len(lines) > 1 or len(first) > limit
    if len(first) > limit:
        first = first[: limit - 3].rstrip() + "..."
    return first, cut


def duration(seconds: float, precise: bool = False) -> str:
    """A time span for people: 2h05m, 3m07s, 12s (precise: 12.3s, for short spans)."""
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{seconds:.1f}s" if precise else f"{whole}s"


def reconcile(job: JobDir, states: dict[str, TaskSummary], warnings: list[str]) -> None:
    """Turn tasks the target no longer runs, without a final state, into failed or lost.

    Under the job's lock: a retry in progress (which reopens and submits tasks) is never
    mistaken for tasks that ended before starting."""
    try:
        with job.exclusive():
            _reconcile(job, states, warnings)
    except LockUnavailable as exc:
        warnings.append(f"task states not reconciled: {exc} (not your job, or read-only?)")


def _reconcile(job: JobDir, states: dict[str, TaskSummary], warnings: list[str]) -> None:
    ids = job.task_ids()
    if job.all_final and len(states) == len(ids):
        return  # every task has a final state: nothing to ask the target
    pending = [t for t in ids if t not in states or states[t].state not in FINAL_STATES]
    if not pending or not job.target_record():
        return  # nothing open, or never submitted (then tasks simply stay queued)
    try:
        sched = make_target(job.spec.target).poll(job, pending)
    except TargetError as exc:
        warnings.append(f"could not ask the target about running tasks: {exc}")
        return
    now = time.time()
    for task_id in pending:
        seen = sched.get(task_id)
        if seen is None or seen.state in (Phase.PENDING, Phase.RUNNING):
            continue
        fresh = job.read_state(task_id)  # the worker may have finished since we read
        if fresh.get("state") in FINAL_STATES:
            states[task_id] = summarize(fresh)
            continue
        was = fresh.get("state", T.QUEUED)
        if seen.state == Phase.ENDED and seen.end == EndReason.CANCELLED:
            verdict, reason = T.CANCELLED, seen.reason or "cancelled"
        elif seen.state == Phase.ENDED:
            verdict = T.FAILED
            reason = seen.reason or f"the worker ended with exit code {seen.exit_code}"
            reason += " without writing a final state" if was == T.RUNNING else \
                " before starting to render"
        else:
            # A fresh heartbeat may be a worker the target lost track of, unless the target
            # knows the process ended (the local target checks its pids on this machine).
            heartbeat = float(fresh.get("heartbeat") or 0)
            if was == T.RUNNING and seen.end is None and now - heartbeat < STALE_AFTER_SECONDS:
                continue
            verdict = T.LOST
            reason = seen.reason or "the target no longer knows this task"
        if was == T.QUEUED and verdict != T.CANCELLED:  # it never got to count its own attempt
            fresh["attempt"] = int(fresh.get("attempt", 0)) + 1
        fresh.update(state=verdict, reason=reason, exit_code=seen.exit_code, ended=now,
                     log_tail=job.log_tail(task_id))
        if seen.native_id:
            fresh["native_id"] = seen.native_id
        job.write_state(task_id, fresh)
        states[task_id] = summarize(fresh)


def status(job: JobDir, refresh: bool = True) -> JobStatus:
    """The job's state now; with refresh, dead tasks are detected and notifications sent."""
    warnings = list(job.spec.warnings)
    if refresh and job.target_record():
        make_target(job.spec.target).stage_out(job, job.task_ids())
    states = job.read_summaries()
    if refresh:
        reconcile(job, states, warnings)
    plan = job.plan
    ids = job.task_ids()
    max_attempts = job.spec.max_attempts
    n = plan.subject_count
    done = [0] * n
    total = [0] * n
    settled = [0] * n
    verdict: list[str] = [""] * n  # per subject: the worst state of its parts, and why
    reasons: list[str] = [""] * n
    warned = [0] * n
    rank = _RANK
    counts: dict[str, int] = {}
    retryable: list[str] = []
    exhausted: list[str] = []
    chunk_sizes = [len(c) for c in plan.chunks]
    names = plan.subject_names()
    per_group, n_chunks = plan.group, len(plan.chunks)
    for index, task_id in enumerate(ids):
        g, chunk = divmod(index, n_chunks)
        first = g * per_group
        members = range(first, min(first + per_group, n))
        summary = states.get(task_id, QUEUED_SUMMARY)
        state = summary.state
        counts[state] = counts.get(state, 0) + 1
        if state in RETRYABLE_STATES:
            (retryable if summary.attempt < max_attempts else exhausted).append(task_id)
        by_name = {e.name: e for e in summary.subjects} if summary.subjects else None
        size = chunk_sizes[chunk]
        for s in members:
            entry = by_name.get(names[s]) if by_name else None
            total[s] += size
            if entry is not None:
                part, got, why = entry.status or S.RUNNING, entry.frames_done, entry.reason
                warned[s] = max(warned[s], entry.warnings)  # every chunk lists them all
            else:
                part, got, why = S.QUEUED, 0, ""
            if part not in _FINISHED_BY_WORKER:
                if state == T.DONE:
                    part, got = S.RENDERED, size
                elif state == T.SKIPPED:
                    part = S.SKIPPED
                elif state in (T.FAILED, T.LOST):
                    part, why = S.FAILED, summary.reason or state
                elif state == T.CANCELLED:
                    part, why = S.CANCELLED, summary.reason or "cancelled"
                elif state == T.RUNNING:
                    part = S.RUNNING if entry is not None or len(members) == 1 else S.QUEUED
            got = min(got, size)
            done[s] += got
            settled[s] += size if part in (S.SKIPPED, S.FAILED, S.CANCELLED) else got
            if rank[part] > rank[verdict[s]]:
                verdict[s] = part
                reasons[s] = why
            elif not reasons[s] and why and part == verdict[s]:
                reasons[s] = why
    outs = plan.subject_outs()
    rows = [SubjectRow(names[s], str(verdict[s] or S.QUEUED), done[s], total[s], reasons[s],
                       outs[s], warned[s]) for s in range(n)]
    failed_tasks = counts.get(T.FAILED, 0) + counts.get(T.LOST, 0)
    finished = sum(counts.get(s, 0) for s in FINAL_STATES) == len(ids)
    result = JobStatus(
        id=plan.job_id, path=str(job.path),
        target=job.spec.target.get("name") or job.spec.target.get("kind", "?"),
        subjects=rows, tasks={str(k): v for k, v in counts.items()}, frames_done=sum(done),
        frames_total=sum(total), frames_settled=sum(settled), finished=finished,
        failed_tasks=failed_tasks, retryable=retryable, exhausted=exhausted,
        created=job.spec.created, warnings=warnings,
    )
    if refresh:
        _notify(job, result, states)
    return result


def _notify(job: JobDir, result: JobStatus, states: dict[str, TaskSummary]) -> None:
    ref = job.spec.notify or job.spec.target.get("notify")
    if not ref:
        return
    try:
        url = secrets.resolve(ref, job.path)
    except secrets.SecretError as exc:
        result.warnings.append(f"no notification sent: {exc}")
        return
    markers = job.path / layout.NOTIFIED_DIR
    log_file = job.path / layout.NOTIFY_LOG
    for task_id in result.exhausted:
        summary = states.get(task_id, QUEUED_SUMMARY)
        notify.notify_event(url, markers, f"{task_id}-failed-{summary.attempt}", {
            "event": "task_failed", "job": result.id, "job_dir": result.path, "task": task_id,
            "attempts": summary.attempt, "reason": summary.reason,
            "exit_code": summary.exit_code,
        }, log_file)
    if result.finished:
        # One notification per "finished" moment: a retry reopens the job and may finish again.
        generation = sum(s.attempt for s in states.values())
        notify.notify_event(url, markers, f"finished-{generation}", {
            "event": "job_finished", "job": result.id, "job_dir": result.path,
            "ok": result.ok, "totals": result.totals, "tasks": result.tasks,
            "frames_done": result.frames_done, "frames_total": result.frames_total,
            "failed": [{"subject": r.name, "reason": r.reason} for r in result.subjects
                       if r.state == S.FAILED][:50],
        }, log_file)


def outputs_dir(job: JobDir, subject: str) -> Path:
    """Where a subject's outputs are (rgb/, depth/, transforms.json, result.json)."""
    for s in job.plan.subjects:
        if s.name == subject:
            return Path(s.out)
    raise JobError(f"job {job.id} has no subject {subject!r}")
