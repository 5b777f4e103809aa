"""Jobs: submit, status, wait, retry, cancel, logs, recent jobs. The CLI and the panel call this.

Everything goes through the job directory (files/, the single source of truth) and the Target
interface (targets/), so new engines plug in without changes here. One module per concern:
submission (submit, create), job_status (status, reconcile), control (retry/cancel/wait),
task_logs (logs), index (recent jobs),
plus the steps of submitting: subjects (finding .blend files), preflight, pack, notify.
May import model/, files/, launch/ and targets/; never cli/ or the Blender UI.
"""

from .control import cancel, retry, wait
from .errors import JobError
from .index import JobSummary, open_job, orbitfarm_home, recent_jobs
from .job_status import JobStatus, SubjectRow, duration, one_line, outputs_dir, status
from .submission import ProgressFn, SubmitRequest, create, dry_run, start, submit
from .task_logs import logs

__all__ = [
    "JobError", "JobStatus", "JobSummary", "ProgressFn", "SubjectRow", "SubmitRequest", "cancel",
    "create", "dry_run", "duration", "logs", "one_line", "open_job", "orbitfarm_home",
    "outputs_dir", "recent_jobs", "retry",
    "start", "status", "submit", "wait",
]
