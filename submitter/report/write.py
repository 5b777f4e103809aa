"""Write JOBDIR/report.html: status -> thumbnails -> facts -> page, atomically.

`write_report` is what `orbitfarm report` runs. `keep_current` is what the runner, `wait` and
the panel call while a job runs: at most once every MIN_INTERVAL seconds (judged by the page's
own mtime, so several processes share the throttle), once more when the job has finished, and
with a small thumbnail budget; it never raises for a job directory it cannot write.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..files import layout
from ..files.atomic import atomic_write_bytes
from ..files.jobdir import JobDir
from ..jobs.job_status import JobStatus, status
from . import facts, page, thumbs

MIN_INTERVAL = 5.0  # seconds between two automatic rewrites of one job's page
AUTO_THUMBS_BUDGET = 3.0  # seconds of thumbnail making per automatic rewrite


def report_path(job: JobDir) -> Path:
    return job.path / layout.REPORT_FILE


def write_report(job: JobDir, st: JobStatus | None = None, refresh: bool = True,
                 thumbs_budget: float | None = None,
                 timings_limit: int | None = facts.TIMINGS_PER_WRITE) -> Path:
    """Write the job's page (with a fresh status unless given one); return its path.

    thumbs_budget: seconds of thumbnail making (None: all); timings_limit: result.json files
    read for frame timings (None: all); what is left comes with the next writes."""
    if st is None:
        st = status(job, refresh=refresh)
    finished = [(i, row.out) for i, row in enumerate(st.subjects)
                if row.out and row.frames_done and row.state in facts.FINISHED_SUBJECT]
    have = thumbs.strips(job.path, finished, thumbs_budget)
    html = page.render(facts.gather(job, st, have, timings_limit))
    path = report_path(job)
    atomic_write_bytes(path, html.encode("utf-8", "replace"))
    return path


def is_due(job: JobDir, st: JobStatus, min_interval: float = MIN_INTERVAL) -> bool:
    """Whether the page should be rewritten: missing; or older than min_interval while the
    job runs; or the job has finished and the page does not say so yet (it still reloads)."""
    path = report_path(job)
    try:
        age = time.time() - os.stat(path).st_mtime
        if not st.finished:
            return age >= min_interval
        with open(path, "rb") as fh:
            return page.REFRESH_MARK in fh.read(1024)
    except OSError:
        return True


def keep_current(job: JobDir, st: JobStatus) -> Path | None:
    """Rewrite the page if it is due (see is_due); None when it was not (or cannot be)."""
    if not is_due(job, st):
        return None
    try:
        return write_report(job, st, refresh=False, thumbs_budget=AUTO_THUMBS_BUDGET)
    except OSError:
        return None  # a read-only or full job directory: the job itself goes on
