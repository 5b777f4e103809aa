"""The job's web page: JOBDIR/report.html, static, plus thumbnails (and `orbitfarm serve`).

One module per step: facts (what the page shows, from the job directory), thumbs (per-subject
RGB and depth strips, made once), page (the HTML), write (atomic, throttled writing), serve
(read-only HTTP on localhost with a live index of jobs). May import files/, model/ and jobs/.
"""

from .write import is_due, keep_current, report_path, write_report

__all__ = ["is_due", "keep_current", "report_path", "write_report"]
