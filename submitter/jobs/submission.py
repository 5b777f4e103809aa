"""Submitting: check, package and plan a job into its job directory, then hand it to its target.

Each step happens once: the target profile is resolved once (by the caller, or here from the
target's name), the .blend files are traced once (preflight; a report the panel already made is
reused), the job options are validated once, and the render settings are stored once (plan.json).
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..files import layout
from ..files.atomic import atomic_write_json
from ..files.jobdir import JobDir, copy_code, new_job_id
from ..launch.runtime import package_dir
from ..model.jobspec import JobSpec
from ..model.looks import hdri_problem
from ..model.plan import make_plan
from ..model.settings import JOB_DEFAULTS, JobOptions, RenderSettings, SettingsError
from ..model.task import Subject
from ..targets import make_target
from ..targets.base import Target, TargetError
from ..targets.profiles import resolve_profile
from . import preflight, secrets
from .errors import JobError
from .index import remember
from .shared_out import sharing_warnings
from .subjects import SubjectsError, find_blends, subject_names

ProgressFn = Callable[[str, float], None]
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # disk full, quota exceeded


@dataclass
class SubmitRequest:
    """What `orbitfarm submit` and the panel ask for."""

    files: list[str]
    out: str
    settings: RenderSettings
    target: str = "local"
    target_options: dict[str, Any] = field(default_factory=dict)
    chunk: int | None = JOB_DEFAULTS.chunk
    group: int = JOB_DEFAULTS.group
    pack: bool = True
    allow_missing: bool = False
    inplace: bool = False
    notify: str | None = None
    config: str | None = None
    max_attempts: int = JOB_DEFAULTS.max_attempts
    job_dir: str | None = None  # default OUT/.orbitfarm/jobs/<id>
    force: bool = False  # re-render frames that already exist
    subject_timeout: float | None = None
    profile: dict[str, Any] | None = None  # the resolved profile (None: resolve `target` here)
    preflight: preflight.PreflightReport | None = None  # a report made already (the panel's)


def submit(request: SubmitRequest, progress: ProgressFn | None = None,
           cancel: threading.Event | None = None) -> JobDir:
    """Check, package and plan a job, then hand its tasks to the target. Returns the job."""
    job, target = _create(request, progress, cancel)
    if progress:
        progress("submitting", 0.97)
    start(job, target)
    if progress:
        progress(f"submitted {job.id}", 1.0)
    return job


def dry_run(request: SubmitRequest, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> tuple[JobDir, list[Path]]:
    """Check, package and plan a job like submit(), then have the target write what it would
    submit into the job directory without contacting it. The job stays unsubmitted
    (`orbitfarm retry JOB` submits it later)."""
    job, target = _create(request, progress, cancel, dry=True)
    try:
        written = target.dry_run(job, dict.fromkeys(job.task_ids(), 1))
    except TargetError as exc:
        raise JobError(f"job {job.id} was created in {job.path}, but the target could not "
                       f"write its submission: {exc}") from None
    if progress:
        progress(f"planned {job.id} (dry run)", 1.0)
    return job, written


def start(job: JobDir, target: Target | None = None) -> None:
    """Hand every task of a created (not yet submitted) job to its target."""
    if job.target_record():
        raise JobError(f"job {job.id} was already submitted; use `orbitfarm retry`")
    try:
        target = target or make_target(job.spec.target)
        target.stage_in(job)
        target.submit(job, dict.fromkeys(job.task_ids(), 1))
    except TargetError as exc:
        raise JobError(f"job {job.id} was created in {job.path} but the target refused it: "
                       f"{exc}. If the target was only unreachable, run `orbitfarm retry "
                       f"{job.path}` once it is back; if the request itself was wrong, fix the "
                       "options and submit again") from None


def create(request: SubmitRequest, progress: ProgressFn | None = None,
           cancel: threading.Event | None = None) -> JobDir:
    """Check, package and plan a job into its job directory without starting it."""
    return _create(request, progress, cancel)[0]


def _profile(request: SubmitRequest) -> dict[str, Any]:
    profile = dict(request.profile) if request.profile is not None else \
        resolve_profile(request.target, request.config)
    profile.update({k: v for k, v in request.target_options.items() if v is not None})
    if request.notify:
        profile["notify"] = request.notify
    return profile


def _private_notify(profile: dict[str, Any]) -> str | None:
    """Replace the profile's notify URL by a reference (jobs/secrets.py); returns the literal
    URL the job directory must keep privately, if any."""
    notify = profile.get("notify")
    if not notify:
        return None
    try:
        secrets.check(notify)
    except secrets.SecretError as exc:
        raise JobError(str(exc)) from None
    profile["notify"], literal = secrets.private_reference(notify)
    return literal


def _job_dir_for(request: SubmitRequest, job_id: str, blends: list[Path]) -> Path:
    if request.job_dir:
        return Path(os.path.abspath(request.job_dir))
    root = Path(os.path.abspath(request.out)) if request.out else blends[0].parent
    return root.joinpath(*layout.JOBS_FOLDER, job_id)


def _create(request: SubmitRequest, progress: ProgressFn | None,
            cancel: threading.Event | None, dry: bool = False) -> tuple[JobDir, Target]:
    settings = request.settings.validate()
    problem = hdri_problem(settings.lighting)
    if problem:
        raise JobError(f"{problem}; nothing was submitted")
    if not request.out and not request.inplace:
        raise JobError("--out DIR is required (or --inplace to write next to each .blend)")
    try:
        options = JobOptions(request.chunk, request.group, request.max_attempts).validate()
    except SettingsError as exc:
        raise JobError(str(exc)) from None
    try:
        found = find_blends(request.files)
    except SubjectsError as exc:
        raise JobError(str(exc)) from None
    blends = [b for b, _ in found]
    names, notes = subject_names(blends)  # unique display names; --inplace outputs use the stem
    if request.inplace:
        notes = []
    profile = _profile(request)
    notify_url = _private_notify(profile)  # before anything (dry-run files) sees the profile
    target = make_target(profile)
    if not dry:  # a dry run contacts no cluster
        target.check()

    def check_progress(message: str, fraction: float) -> None:
        if progress:
            progress(message, 0.05 * fraction)
        if cancel is not None and cancel.is_set():
            raise JobError("submission cancelled; nothing was submitted")

    check_progress("preflight", 0.0)
    report = request.preflight or preflight.check(
        [str(b) for b in blends], {str(b): str(p) for b, p in found}, check_progress)
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
        if notify_url:
            secrets.write_private(staging, notify_url)
        copy_code(package_dir(), layout.code_dir(staging))
        if request.pack:
            sources, pack_info = _pack(request, names, blends, staging, report, progress, cancel)
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
        if out_root is not None:
            notes = notes + sharing_warnings(out_root, {s.out for s in subjects})
        spec = JobSpec(
            id=job_id, settings=None, target=profile, out=str(out_root or ""),
            sources=[str(b) for b in blends], created=time.time(), chunk=options.chunk,
            group=options.group, pack=request.pack, inplace=request.inplace,
            allow_missing=request.allow_missing, max_attempts=options.max_attempts,
            notify=profile.get("notify"), force=request.force,
            subject_timeout=request.subject_timeout,
            warnings=[p.line() for p in report.problems] + notes,
        )
        plan = make_plan(job_id, settings, subjects, options.chunk, options.group,
                         request.force, request.subject_timeout)
        staged = JobDir(staging)
        staged.write_new(spec, plan)
        atomic_write_json(staging / layout.PREFLIGHT_FILE, report.to_dict())
        atomic_write_json(staging / layout.PACK_FILE, pack_info)
        os.rename(staging, final)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            raise JobError(f"{exc.strerror} while writing the job directory "
                           f"({exc.filename or staging}); nothing was submitted: free some "
                           "space or choose another --job-dir / --out") from None
        raise
    job = JobDir(final)
    remember(job, len(subjects), plan.task_count)
    return job, target


def _pack(request: SubmitRequest, names: list[str], blends: list[Path], staging: Path,
          report: preflight.PreflightReport, progress: ProgressFn | None,
          cancel: threading.Event | None) -> tuple[list[Path], dict[str, Any]]:
    """Copy the subjects and their dependencies into the job directory (inputs/)."""
    from .pack import PackError, pack_subjects

    def pack_progress(message: str, fraction: float) -> None:
        if progress:
            progress(message, 0.05 + 0.9 * fraction)

    unreadable = {Path(p) for p in report.unreadable}
    try:
        packed, stats = pack_subjects(list(zip(names, blends, strict=True)),
                                      staging / layout.INPUTS_DIR, pack_progress, cancel,
                                      unreadable)
    except PackError as exc:
        raise JobError(f"{exc}; nothing was submitted") from None
    for name, why in stats.unpacked.items():
        report.problems.append(preflight.Problem(
            preflight.WARNING, str(packed[name]), f"cannot be packed ({why})",
            "it is rendered in place from this path, with its dependencies where they are: "
            "every worker must see it (local jobs and shared filesystems do)"))
    return [packed[n] for n in names], asdict(stats)
