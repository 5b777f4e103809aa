"""Two jobs writing to one --out: the second is told, and the work is shared, not repeated.

Both jobs' workers render into the same subject folders; a frame either of them has published
is never rendered again by the other (the worker looks before each frame, and --force is the
only way to redo one). The submission warns which unfinished jobs it shares subjects with.
"""

from __future__ import annotations

from pathlib import Path

from ..files import layout
from ..files.jobdir import JobDir
from ..model.jobspec import JobSpecError
from .job_status import status


def sharing_warnings(out_root: Path, subject_outs: set[str]) -> list[str]:
    """One line per unfinished job under out_root that renders some of these subject folders."""
    jobs_folder = out_root.joinpath(*layout.JOBS_FOLDER)
    lines = []
    for job_file in sorted(jobs_folder.glob(f"*/{layout.JOB_FILE}")):
        job = JobDir(job_file.parent)
        try:
            if not job.target_record():
                continue  # never submitted: nothing of it runs
            shared = subject_outs.intersection(job.plan.subject_outs())
            if not shared or status(job, refresh=False).finished:
                continue
        except (OSError, ValueError, JobSpecError):
            continue  # a damaged or foreign job folder is not ours to judge
        lines.append(f"warning: job {job.id} is still rendering {len(shared)} of the same "
                     f"subject folder(s) in {out_root}; the two jobs share the work (a frame "
                     f"either publishes is not rendered again) unless one uses --force")
    return lines
