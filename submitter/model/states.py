"""Every state and end reason the job model knows, as enums, and the worker's exit codes.

Values are the strings written to state files, markers and `status --json`, so a job directory
written by an older version reads the same. str/int enums compare equal to those raw values.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class TaskState(StrEnum):
    """A task as the job directory records it (tasks/<task>.json, markers)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    LOST = "lost"  # the process vanished without a final state (the submitter's verdict)
    CANCELLED = "cancelled"


FINAL_STATES = (TaskState.DONE, TaskState.FAILED, TaskState.SKIPPED, TaskState.LOST,
                TaskState.CANCELLED)
RETRYABLE_STATES = (TaskState.FAILED, TaskState.LOST, TaskState.CANCELLED)


class Phase(StrEnum):
    """A task as its target's scheduler sees it, independent of what the worker wrote."""

    PENDING = "pending"  # accepted, waiting for resources
    RUNNING = "running"  # started by the scheduler
    ENDED = "ended"  # the scheduler no longer runs it (see the end reason and exit code)
    UNKNOWN = "unknown"  # never submitted, or forgotten by the scheduler


class EndReason(StrEnum):
    """Why the scheduler ended a task (typed, so no target has to spell a magic string)."""

    EXITED = "exited"  # the process ended by itself; the exit code says how
    CANCELLED = "cancelled"  # stopped on request (orbitfarm cancel, scancel, ...)
    TIMEOUT = "timeout"  # the target's time limit
    KILLED = "killed"  # a signal, out of memory, node failure
    NEVER_STARTED = "never_started"


class SubjectStatus(StrEnum):
    """A subject in `orbitfarm status` (the first three are also result.json's statuses)."""

    RENDERED = "rendered"
    SKIPPED = "skipped"
    FAILED = "failed"
    RUNNING = "running"
    QUEUED = "queued"
    CANCELLED = "cancelled"


RESULT_STATUSES = (SubjectStatus.RENDERED, SubjectStatus.SKIPPED, SubjectStatus.FAILED)


class WorkerExit(IntEnum):
    """The worker process's exit codes (plus the one a launcher uses for a killed worker)."""

    OK = 0  # every subject rendered or skipped
    FAILED = 1  # some subject failed (its reason is in result.json and the task state)
    BAD_TASK = 2  # the task could not be read
    TIMEOUT = 124  # killed by a launcher's time limit, like coreutils `timeout`

    def describe(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    WorkerExit.OK: "exited normally",
    WorkerExit.FAILED: "worker reported failed subjects (exit code 1)",
    WorkerExit.BAD_TASK: "worker could not use its task (exit code 2)",
    WorkerExit.TIMEOUT: "timed out (task time limit reached) and was killed",
}
