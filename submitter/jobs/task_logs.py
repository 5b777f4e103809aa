"""`orbitfarm logs`: a task's log (plus what its scheduler wrote), or the logs of failed tasks."""

from __future__ import annotations

from pathlib import Path

from ..files.jobdir import JobDir
from ..model.states import TaskState
from ..targets import make_target
from ..targets.base import TargetError
from .errors import JobError


def logs(job: JobDir, task_id: str | None = None, tail: int | None = None) -> str:
    """A task's log; without a task, the logs of failed/lost tasks (or of all, if none)."""
    if task_id is not None:
        ids = job.task_ids()
        if task_id not in set(ids):
            raise JobError(f"job {job.id} has no task {task_id!r} (tasks: {ids[0]}..{ids[-1]})")
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
    bad = [t for t, s in sorted(states.items())
           if s.get("state") in (TaskState.FAILED, TaskState.LOST)]
    chosen = bad or [t for t in job.task_ids() if job.log_file(t).is_file()][:50]
    parts = []
    for t in chosen:
        st = states.get(t, {})
        header = (f"==> {t} [{st.get('state', TaskState.QUEUED)}] {st.get('reason', '')} "
                  f"({job.log_file(t)})")
        parts.append(header.rstrip() + "\n" + job.log_tail(t, lines=tail or 40))
    return "\n\n".join(parts) + "\n" if parts else "(no logs yet)\n"


def _scheduler_logs(job: JobDir, task_id: str) -> list[Path]:
    """What the target's scheduler wrote about the task; never fails `logs`."""
    try:
        return make_target(job.spec.target).extra_logs(job, task_id)
    except (TargetError, OSError, KeyError, ValueError):
        return []
