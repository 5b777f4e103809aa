"""Jobs: submit, status, wait, retry, cancel, logs, recent jobs. The CLI and the panel call this.

Everything goes through the job directory (the single source of truth) and the Target
interface (submit / poll / cancel), so SLURM and later Kubernetes plug in without changes here.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import notify, preflight
from .atomic import atomic_write_json
from .jobdir import JobDir, copy_code, new_job_id, summarize
from .jobspec import JobSpec
from .launch import package_dir
from .plan import make_plan
from .profiles import resolve_profile
from .spec import RenderSettings, SettingsError, Subject
from .subjects import SubjectsError, find_blends, subject_names
from .targets import make_target, target_class
from .targets.base import ENDED, PENDING, RUNNING, TargetError
from .taskstate import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    LOST,
    QUEUED,
    SKIPPED,
    STALE_AFTER_SECONDS,
)
from .taskstate import RUNNING as TASK_RUNNING

JOBS_FOLDER = (".orbitfarm", "jobs")
INDEX_FILE = "jobs.jsonl"
RETRYABLE = (FAILED, LOST, CANCELLED)

# Per-subject states in `status`
RENDERED = "rendered"
SUBJECT_STATES = (RENDERED, SKIPPED, FAILED, "running", QUEUED, CANCELLED)


class JobError(SettingsError):
    """Something about a job the user can fix; the message says what to do."""


ProgressFn = Callable[[str, float], None]


@dataclass
class SubmitRequest:
    """What `orbitfarm submit` and the panel ask for."""

    files: list[str]
    out: str
    settings: RenderSettings
    target: str = "local"
    target_options: dict[str, Any] = field(default_factory=dict)
    chunk: int | None = None
    group: int = 1
    pack: bool = True
    allow_missing: bool = False
    inplace: bool = False
    notify: str | None = None
    config: str | None = None
    max_attempts: int = 3
    job_dir: str | None = None  # default OUT/.orbitfarm/jobs/<id>
    force: bool = False  # re-render frames that already exist
    subject_timeout: float | None = None


# -- the recent-jobs index -------------------------------------------------------------------


def orbitfarm_home() -> Path:
    """$ORBITFARM_HOME, else $XDG_STATE_HOME/orbitfarm, else ~/.local/state/orbitfarm."""
    home = os.environ.get("ORBITFARM_HOME")
    if home:
        return Path(home)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(state) / "orbitfarm"


@dataclass
class JobSummary:
    """One line of `orbitfarm jobs`."""

    id: str
    path: str
    created: float
    subjects: int
    tasks: int
    target: str
    exists: bool = True


def _remember(job: JobDir, subjects: int, tasks: int) -> None:
    home = orbitfarm_home()
    home.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"id": job.id, "path": str(job.path), "created": job.spec.created,
                       "subjects": subjects, "tasks": tasks,
                       "target": job.spec.target.get("name") or job.spec.target["kind"]},
                      ensure_ascii=False)
    with open(home / INDEX_FILE, "a", encoding="utf-8") as fh:  # O_APPEND: one write per line
        fh.write(line + "\n")


def _index() -> list[JobSummary]:
    try:
        lines = (orbitfarm_home() / INDEX_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found: dict[str, JobSummary] = {}
    for line in lines:
        try:
            data = json.loads(line)
            found[data["id"]] = JobSummary(**data)
        except (ValueError, TypeError, KeyError):
            continue  # a torn or foreign line must not hide the others
    return list(found.values())


def recent_jobs(limit: int = 20) -> list[JobSummary]:
    """The most recent jobs submitted from this account, newest first."""
    jobs = sorted(_index(), key=lambda j: j.created, reverse=True)[:limit]
    for job in jobs:
        job.exists = (Path(job.path) / "job.yaml").is_file()
    return jobs


def open_job(ref: str) -> JobDir:
    """A job by directory or id (a unique id prefix works too)."""
    path = Path(os.path.expanduser(ref))
    if (path / "job.yaml").is_file():
        return JobDir(path)
    if path.is_dir() and (path / ".orbitfarm" / "jobs").is_dir():  # an --out folder
        jobs = sorted((path / ".orbitfarm" / "jobs").glob("*/job.yaml"))
        if len(jobs) == 1:
            return JobDir(jobs[0].parent)
    matches = [j for j in _index() if j.id == ref] or [j for j in _index() if j.id.startswith(ref)]
    if len(matches) > 1:
        raise JobError(f"{ref!r} matches several jobs: {', '.join(j.id for j in matches[:5])}")
    if not matches:
        raise JobError(f"no job {ref!r}: give a job id from `orbitfarm jobs` or a job directory")
    job = JobDir(matches[0].path)
    if not job.job_file.is_file():
        raise JobError(f"job {ref} was at {job.path}, which no longer holds a job "
                       "(moved? pass the new directory instead of the id)")
    return job


# -- submit ----------------------------------------------------------------------------------


def _job_dir_for(request: SubmitRequest, job_id: str, blends: list[Path]) -> Path:
    if request.job_dir:
        return Path(os.path.abspath(request.job_dir))
    root = Path(os.path.abspath(request.out)) if request.out else blends[0].parent
    return root.joinpath(*JOBS_FOLDER, job_id)


def submit(request: SubmitRequest, progress: ProgressFn | None = None,
           cancel: threading.Event | None = None) -> JobDir:
    """Check, package and plan a job, then hand its tasks to the target. Returns the job."""
    job = create(request, progress, cancel)
    if progress:
        progress("submitting", 0.97)
    start(job)
    if progress:
        progress(f"submitted {job.id}", 1.0)
    return job


def start(job: JobDir) -> None:
    """Hand every task of a created (not yet submitted) job to its target."""
    if job.target_record():
        raise JobError(f"job {job.id} was already submitted; use `orbitfarm retry`")
    try:
        make_target(job.spec.target).submit(job, job.task_ids())
    except TargetError as exc:
        raise JobError(f"job {job.id} was created in {job.path} but the target refused it: "
                       f"{exc}. If the target was only unreachable, run `orbitfarm retry "
                       f"{job.path}` once it is back; if the request itself was wrong, fix the "
                       "options and submit again") from None


def create(request: SubmitRequest, progress: ProgressFn | None = None,
           cancel: threading.Event | None = None) -> JobDir:
    """Check, package and plan a job into its job directory without starting it."""
    settings = request.settings.validate()
    if not request.out and not request.inplace:
        raise JobError("--out DIR is required (or --inplace to write next to each .blend)")
    if request.max_attempts < 1:
        raise JobError(f"--max-attempts must be >= 1, got {request.max_attempts}")
    if request.group < 1:
        raise JobError(f"--group must be >= 1 subjects, got {request.group}")
    if request.chunk is not None and request.chunk < 1:
        raise JobError(f"--chunk must be >= 1 frames, got {request.chunk}")
    try:
        found = find_blends(request.files)
    except SubjectsError as exc:
        raise JobError(str(exc)) from None
    blends = [b for b, _ in found]
    names, notes = subject_names(blends)  # unique display names; --inplace outputs use the stem
    if request.inplace:
        notes = []
    profile = resolve_profile(request.target, request.config)
    profile.update({k: v for k, v in request.target_options.items() if v is not None})
    if request.notify:
        profile["notify"] = request.notify
    target = make_target(profile)
    target.check()

    def check_progress(message: str, fraction: float) -> None:
        if progress:
            progress(message, 0.05 * fraction)
        if cancel is not None and cancel.is_set():
            raise JobError("submission cancelled; nothing was submitted")

    check_progress("preflight", 0.0)
    report = preflight.check([str(b) for b in blends], {str(b): str(p) for b, p in found},
                             check_progress)
    if not report.ok and not request.allow_missing:
        raise JobError("preflight found problems; nothing was submitted:\n  "
                       + "\n  ".join(p.line() for p in report.problems)
                       + "\n(fix them, or pass --allow-missing to submit anyway)")

    job_id = new_job_id()
    final = _job_dir_for(request, job_id, blends)
    if final.exists():
        raise JobError(f"job directory {final} already exists; choose another --job-dir")
    staging = final.with_name(f".tmp-{final.name}")
    out_root = Path(os.path.abspath(request.out)) if request.out else None
    try:
        staging.mkdir(parents=True)
        copy_code(package_dir(), staging / "code" / "orbitfarm")
        if request.pack:
            from .pack import PackError, pack_subjects

            def pack_progress(message: str, fraction: float) -> None:
                if progress:
                    progress(message, 0.05 + 0.9 * fraction)

            unreadable = {Path(p) for p in report.unreadable}
            try:
                packed, stats = pack_subjects(list(zip(names, blends, strict=True)),
                                              staging / "inputs", pack_progress, cancel, unreadable)
            except PackError as exc:
                raise JobError(f"{exc}; nothing was submitted") from None
            sources = [packed[n] for n in names]
            pack_info: dict[str, Any] = asdict(stats)
        else:
            sources, pack_info = blends, {"packed": False}
        if cancel is not None and cancel.is_set():
            raise JobError("submission cancelled; nothing was submitted")
        # Packed files live in the job directory; plan.json stores them relative to it, so the
        # plan stays right after the rename below (and when the job directory moves).
        subjects = [
            Subject(blend=str(src),
                    out=str(blend.parent / blend.stem if request.inplace or out_root is None
                            else out_root / name),
                    name=name)
            for src, blend, name in zip(sources, blends, names, strict=True)
        ]
        spec = JobSpec(
            id=job_id, settings=settings, target=profile, out=str(out_root or ""),
            sources=[str(b) for b in blends], created=time.time(), chunk=request.chunk,
            group=request.group, pack=request.pack, inplace=request.inplace,
            allow_missing=request.allow_missing, max_attempts=request.max_attempts,
            notify=profile.get("notify"), force=request.force,
            subject_timeout=request.subject_timeout,
            warnings=[p.line() for p in report.problems] + notes,
        ).validate()
        plan = make_plan(job_id, settings, subjects, request.chunk, request.group,
                         request.force, request.subject_timeout)
        staged = JobDir(staging)
        staged.write_new(spec, plan)
        atomic_write_json(staging / "preflight.json", report.to_dict())
        atomic_write_json(staging / "pack.json", pack_info)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    job = JobDir(final)
    _remember(job, len(subjects), plan.task_count)
    return job


# -- status ----------------------------------------------------------------------------------


@dataclass(slots=True)
class SubjectRow:
    """One subject in `orbitfarm status`."""

    name: str
    state: str  # rendered | skipped | failed | running | queued | cancelled
    frames_done: int
    frames_total: int
    reason: str = ""
    out: str = ""


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
        counts = dict.fromkeys(SUBJECT_STATES, 0)
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
                               "frames_total": r.frames_total, "reason": r.reason, "out": r.out}
                              for r in self.subjects])
        data["totals"] = self.totals
        return data


def _reconcile(job: JobDir, states: dict[str, list], warnings: list[str]) -> None:
    """Turn tasks the target no longer runs, without a final state, into failed or lost."""
    ids = job.task_ids()
    if job.all_final and len(states) == len(ids):
        return  # every task has a final state: nothing to ask the target
    pending = [t for t in ids if t not in states or states[t][0] not in FINAL_STATES]
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
        if seen is None or seen.state in (PENDING, RUNNING):
            continue
        fresh = job.read_state(task_id)  # the worker may have finished since we read
        if fresh.get("state") in FINAL_STATES:
            states[task_id] = summarize(fresh)
            continue
        was = fresh.get("state", QUEUED)
        if seen.state == ENDED and seen.reason == "cancelled":
            verdict, reason = CANCELLED, "cancelled"
        elif seen.state == ENDED:
            verdict = FAILED
            reason = seen.reason or f"the worker ended with exit code {seen.exit_code}"
            reason += " without writing a final state" if was == TASK_RUNNING else \
                " before starting to render"
        else:
            heartbeat = float(fresh.get("heartbeat") or 0)
            if was == TASK_RUNNING and now - heartbeat < STALE_AFTER_SECONDS:
                continue
            verdict = LOST
            reason = seen.reason or "the target no longer knows this task"
        if was == QUEUED and verdict != CANCELLED:  # it never got to count its own attempt
            fresh["attempt"] = int(fresh.get("attempt", 0)) + 1
        fresh.update(state=verdict, reason=reason, exit_code=seen.exit_code, ended=now,
                     log_tail=job.log_tail(task_id))
        if seen.native_id:
            fresh["native_id"] = seen.native_id
        job.write_state(task_id, fresh)
        states[task_id] = summarize(fresh)


_RANK = {FAILED: 6, CANCELLED: 5, "running": 4, QUEUED: 3, RENDERED: 2, SKIPPED: 1, "": 0}
_QUEUED_SUMMARY: list = [QUEUED, 0, "", None, []]


def status(job: JobDir, refresh: bool = True) -> JobStatus:
    """The job's state now; with refresh, dead tasks are detected and notifications sent."""
    warnings = list(job.spec.warnings)
    states = job.read_summaries()
    if refresh:
        _reconcile(job, states, warnings)
    plan = job.plan
    ids = job.task_ids()
    max_attempts = job.spec.max_attempts
    n = plan.subject_count
    done = [0] * n
    total = [0] * n
    settled = [0] * n
    verdict: list[str] = [""] * n  # per subject: the worst state of its parts, and why
    reasons: list[str] = [""] * n
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
        state, attempt, task_reason, _, entries = states.get(task_id, _QUEUED_SUMMARY)
        counts[state] = counts.get(state, 0) + 1
        if state in RETRYABLE:
            (retryable if attempt < max_attempts else exhausted).append(task_id)
        by_name = {e[0]: e for e in entries} if entries else None
        size = chunk_sizes[chunk]
        for s in members:
            entry = by_name.get(names[s]) if by_name else None
            total[s] += size
            if entry is not None:
                part, got, why = entry[1] or "running", entry[2], entry[3]
            else:
                part, got, why = QUEUED, 0, ""
            if part not in (RENDERED, SKIPPED, FAILED):  # not finished by the worker itself
                if state == DONE:
                    part, got = RENDERED, size
                elif state == SKIPPED:
                    part = SKIPPED
                elif state in (FAILED, LOST):
                    part, why = FAILED, task_reason or state
                elif state == CANCELLED:
                    part, why = CANCELLED, task_reason or "cancelled"
                elif state == TASK_RUNNING:
                    part = "running" if entry is not None or len(members) == 1 else QUEUED
            got = min(got, size)
            done[s] += got
            settled[s] += size if part in (SKIPPED, FAILED, CANCELLED) else got
            if rank[part] > rank[verdict[s]]:
                verdict[s] = part
                reasons[s] = why
            elif not reasons[s] and why and part == verdict[s]:
                reasons[s] = why
    outs = plan.subject_outs()
    rows = [SubjectRow(names[s], verdict[s] or QUEUED, done[s], total[s], reasons[s], outs[s])
            for s in range(n)]
    failed_tasks = counts.get(FAILED, 0) + counts.get(LOST, 0)
    finished = sum(counts.get(s, 0) for s in FINAL_STATES) == len(ids)
    result = JobStatus(
        id=plan.job_id, path=str(job.path),
        target=job.spec.target.get("name") or job.spec.target.get("kind", "?"),
        subjects=rows, tasks=counts, frames_done=sum(done), frames_total=sum(total),
        frames_settled=sum(settled), finished=finished, failed_tasks=failed_tasks,
        retryable=retryable, exhausted=exhausted, created=job.spec.created, warnings=warnings,
    )
    if refresh:
        _notify(job, result, states)
    return result


def _notify(job: JobDir, result: JobStatus, states: dict[str, list]) -> None:
    url = job.spec.notify or job.spec.target.get("notify")
    if not url:
        return
    markers = job.path / "notified"
    log_file = job.path / "notify.log"
    for task_id in result.exhausted:
        _, attempt, reason, exit_code, _ = states.get(task_id, _QUEUED_SUMMARY)
        notify.notify_event(url, markers, f"{task_id}-failed-{attempt}", {
            "event": "task_failed", "job": result.id, "job_dir": result.path, "task": task_id,
            "attempts": attempt, "reason": reason, "exit_code": exit_code,
        }, log_file)
    if result.finished:
        # One notification per "finished" moment: a retry reopens the job and may finish again.
        generation = sum(s[1] for s in states.values())
        notify.notify_event(url, markers, f"finished-{generation}", {
            "event": "job_finished", "job": result.id, "job_dir": result.path,
            "ok": result.ok, "totals": result.totals, "tasks": result.tasks,
            "frames_done": result.frames_done, "frames_total": result.frames_total,
            "failed": [{"subject": r.name, "reason": r.reason} for r in result.subjects
                       if r.state == FAILED][:50],
        }, log_file)


# -- retry, cancel, wait, logs ---------------------------------------------------------------


def retry(job: JobDir, attempt_profile: dict[str, Any] | None = None) -> list[str]:
    """Resubmit failed, lost and cancelled tasks with attempts left; returns their ids.

    Frames already written are kept (the worker renders only missing frames), so nothing
    finished is redone. Tasks never handed to the target (a refused submit) are sent too.
    """
    current = status(job)
    ids = list(current.retryable)
    if not job.target_record():  # never submitted (refused, or made with create())
        start(job)
        return job.task_ids()
    if not ids:
        return []
    profile = attempt_profile or job.spec.target
    now = time.time()
    queued = {}
    for task_id in ids:
        old = job.read_state(task_id)
        queued[task_id] = {
            "task": task_id, "state": QUEUED, "attempt": int(old.get("attempt", 0)),
            "retried": now,
            "previous": {k: old.get(k) for k in ("state", "reason", "exit_code", "subjects")},
        }
    job.reopen(queued)  # withdraws the old attempts' markers first: none may still say failed
    make_target(profile).submit(job, ids)
    return ids


def escalated_profile(job: JobDir, attempt: int) -> dict[str, Any]:
    """The profile for retry round `attempt` (targets may raise memory/time; default same)."""
    profile = dict(job.spec.target)
    cls = target_class(profile.get("kind", "local"))
    escalate = getattr(cls, "escalate", None)
    return escalate(profile, attempt) if callable(escalate) else profile


def cancel(job: JobDir) -> list[str]:
    """Stop every unfinished task; they read as cancelled. Returns the cancelled task ids."""
    # Mark first, then stop: whoever looks in between (the dying runner too) sees cancelled.
    cancelled = []
    now = time.time()
    for task_id in job.task_ids():
        state = job.read_state(task_id)
        if state.get("state", QUEUED) in FINAL_STATES:
            continue
        state.update(state=CANCELLED, reason="cancelled by the user", ended=now)
        job.write_state(task_id, state)
        cancelled.append(task_id)
    if job.target_record():
        make_target(job.spec.target).cancel(job, None)
    return cancelled


def wait(job: JobDir, on_update: Callable[[JobStatus], None] | None = None,
         interval: float = 2.0, retries: int = 0,
         timeout: float | None = None) -> JobStatus:
    """Poll until the job has finished; retry failed tasks up to `retries` rounds."""
    started = time.monotonic()
    rounds = 0
    while True:
        current = status(job)
        if on_update:
            on_update(current)
        if current.finished:
            if rounds < retries and current.retryable:
                rounds += 1
                retry(job, escalated_profile(job, rounds))
                continue
            return current
        if timeout is not None and time.monotonic() - started > timeout:
            return current
        time.sleep(interval)


def logs(job: JobDir, task_id: str | None = None, tail: int | None = None) -> str:
    """A task's log; without a task, the logs of failed/lost tasks (or of all, if none)."""
    if task_id is not None:
        if task_id not in set(job.task_ids()):
            raise JobError(f"job {job.id} has no task {task_id!r} (tasks: {job.task_ids()[0]}.."
                           f"{job.task_ids()[-1]})")
        path = job.log_file(task_id)
        if not path.is_file():
            text = f"(task {task_id} has no log yet: it has not started)\n"
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
            text = "\n".join(text.splitlines()[-tail:]) + "\n" if tail else text
        for extra in _scheduler_logs(job, task_id):
            text += f"\n==> {extra} (the scheduler's own messages)\n"
            text += extra.read_text(encoding="utf-8", errors="replace")
        return text
    states = job.read_states()
    bad = [t for t, s in sorted(states.items()) if s.get("state") in (FAILED, LOST)]
    chosen = bad or [t for t in job.task_ids() if job.log_file(t).is_file()][:50]
    parts = []
    for t in chosen:
        st = states.get(t, {})
        header = f"==> {t} [{st.get('state', QUEUED)}] {st.get('reason', '')} ({job.log_file(t)})"
        parts.append(header.rstrip() + "\n" + job.log_tail(t, lines=tail or 40))
    return "\n\n".join(parts) + "\n" if parts else "(no logs yet)\n"


def _scheduler_logs(job: JobDir, task_id: str) -> list[Path]:
    """What the target's scheduler wrote about the task; never fails `logs`."""
    try:
        return make_target(job.spec.target).extra_logs(job, task_id)
    except (TargetError, OSError, KeyError, ValueError):
        return []


def outputs_dir(job: JobDir, subject: str) -> Path:
    """Where a subject's outputs are (rgb/, depth/, transforms.json, result.json)."""
    for s in job.plan.subjects:
        if s.name == subject:
            return Path(s.out)
    raise JobError(f"job {job.id} has no subject {subject!r}")
