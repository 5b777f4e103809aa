"""Acting on a running job: retry failed tasks, cancel, wait until it has finished."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..files.jobdir import JobDir
from ..files.locks import LockUnavailable
from ..model.states import FINAL_STATES, TaskState
from ..targets import make_target
from ..targets.base import TargetError
from .errors import JobError
from .job_status import JobStatus, status
from .submission import start


def retry(job: JobDir) -> list[str]:
    """Resubmit failed, lost and cancelled tasks with attempts left; returns their ids.

    Frames already written are kept (the worker renders only missing frames), so nothing
    finished is redone. Tasks never handed to the target (a refused submit) are sent too.
    Each task goes with its next attempt number, from which targets may grow resources.
    One retry at a time per job (the job's lock, which also covers the status it decides
    from); a target that refuses leaves every task state as it was and says why.
    """
    with _locked(job):
        return _retry(job)


def _retry(job: JobDir) -> list[str]:
    current = status(job)  # reconciles first: tasks of killed processes become retryable
    ids = list(current.retryable)
    if not job.target_record():  # never submitted (refused, or made with create())
        start(job)
        return job.task_ids()
    if not ids:
        return []
    try:
        target = make_target(job.spec.target)
        target.check()
    except TargetError as exc:
        raise _refused(job, exc) from None
    now = time.time()
    queued = {}
    attempts = {}
    previous = {}
    for task_id in ids:
        old = previous[task_id] = job.read_state(task_id)
        attempt = int(old.get("attempt", 0))
        attempts[task_id] = attempt + 1
        queued[task_id] = {
            "task": task_id, "state": TaskState.QUEUED, "attempt": attempt, "retried": now,
            "previous": {k: old.get(k) for k in ("state", "reason", "exit_code", "subjects")},
        }
    job.reopen(queued)  # withdraws the old attempts' markers first: none may still say failed
    try:
        target.stage_in(job)
        target.submit(job, attempts)
    except TargetError as exc:
        for task_id, old in previous.items():  # as they were, markers included
            job.write_state(task_id, old)
        raise _refused(job, exc) from None
    return ids


@contextmanager
def _locked(job: JobDir) -> Iterator[None]:
    """The job's lock, or one clear line when this account cannot take it (only opening the
    lock file raises LockUnavailable; the block's own errors pass through)."""
    try:
        with job.exclusive():
            yield
    except LockUnavailable as exc:
        raise JobError(f"cannot change job {job.id}: {exc} (not your job, or read-only?)") from None


def _refused(job: JobDir, exc: Exception) -> JobError:
    return JobError(f"the target refused the retry of job {job.id}: {exc}; no task state was "
                    f"changed (run `orbitfarm retry {job.path}` again once that is fixed)")


def cancel(job: JobDir) -> list[str]:
    """Stop every unfinished task; they read as cancelled. Returns the cancelled task ids."""
    with _locked(job):
        return _cancel(job)


def _cancel(job: JobDir) -> list[str]:
    # Mark first, then stop: whoever looks in between (the dying runner too) sees cancelled.
    cancelled = []
    now = time.time()
    for task_id in job.task_ids():
        state = job.read_state(task_id)
        if state.get("state", TaskState.QUEUED) in FINAL_STATES:
            continue
        state.update(state=TaskState.CANCELLED, reason="cancelled by the user", ended=now)
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
                retry(job)
                continue
            return current
        if timeout is not None and time.monotonic() - started > timeout:
            return current
        time.sleep(interval)
