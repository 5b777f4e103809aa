"""The recent-jobs index (~/.local/state/orbitfarm/jobs.jsonl) and finding a job by id or path."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..files import layout
from ..files.jobdir import JobDir
from .errors import JobError

INDEX_FILE = "jobs.jsonl"


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


def remember(job: JobDir, subjects: int, tasks: int) -> None:
    """Add a new job to the index."""
    home = orbitfarm_home()
    home.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"id": job.id, "path": str(job.path), "created": job.spec.created,
                       "subjects": subjects, "tasks": tasks,
                       "target": job.spec.target.get("name") or job.spec.target["kind"]},
                      ensure_ascii=False, allow_nan=False)
    with open(home / INDEX_FILE, "a", encoding="utf-8") as fh:  # O_APPEND: one write per line
        fh.write(line + "\n")


def _index() -> list[JobSummary]:
    try:
        lines = (orbitfarm_home() / INDEX_FILE).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    found: dict[str, JobSummary] = {}
    for line in lines:
        try:  # json.loads of bytes refuses what is not UTF-8 with a ValueError
            summary = JobSummary(**json.loads(line))
            if not (isinstance(summary.id, str) and isinstance(summary.path, str)
                    and isinstance(summary.created, (int, float))):
                continue
            found[summary.id] = summary
        except (ValueError, TypeError, KeyError):
            continue  # a torn, foreign or non-UTF-8 line must not hide the others
    return list(found.values())


def recent_jobs(limit: int = 20) -> list[JobSummary]:
    """The most recent jobs submitted from this account, newest first."""
    jobs = sorted(_index(), key=lambda j: j.created, reverse=True)[:limit]
    for job in jobs:
        job.exists = (Path(job.path) / layout.JOB_FILE).is_file()
    return jobs


def open_job(ref: str) -> JobDir:
    """A job by directory or id (a unique id prefix works too)."""
    path = Path(os.path.expanduser(ref))
    if (path / layout.JOB_FILE).is_file():
        return JobDir(path)
    jobs_folder = path.joinpath(*layout.JOBS_FOLDER)
    if path.is_dir() and jobs_folder.is_dir():  # an --out folder
        jobs = sorted(jobs_folder.glob(f"*/{layout.JOB_FILE}"))
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
