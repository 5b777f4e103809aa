"""NGC job states as orbitfarm's scheduler states. Pure.

`jobStatus.status`: CREATED, QUEUED, STARTING, PENDING_STORAGE_CREATION, REQUESTING_RESOURCE,
RESOURCE_* (pending); RUNNING, PENDING_TERMINATION (running); FINISHED_SUCCESS; FAILED,
FAILED_RUN_LIMIT_EXCEEDED, TASK_LOST, KILLED_BY_SYSTEM, KILLED_BY_ADMIN, IM_INTERNAL_ERROR,
... (ended, with `statusDetails`); KILLED_BY_USER, CANCELED (cancelled); PREEMPTED,
PREEMPTED_BY_ADMIN (a RUNONCE job does not resume: ended, killed, retryable).
"""

from __future__ import annotations

from ...model.states import EndReason, Phase
from ..base import SchedulerState

PENDING = {"CREATED", "QUEUED", "STARTING", "PENDING_STORAGE_CREATION", "REQUESTING_RESOURCE",
           "RESOURCE_CONSUMPTION_REQUEST_IN_PROGRESS", "RESOURCE_GRANTED"}
RUNNING = {"RUNNING", "PENDING_TERMINATION"}
CANCELLED = {"KILLED_BY_USER", "CANCELED"}
KILLED = {"PREEMPTED", "PREEMPTED_BY_ADMIN", "KILLED_BY_SYSTEM", "KILLED_BY_ADMIN", "TASK_LOST",
          "RESOURCE_RELEASED", "INFINITY_POOL_MISSING", "IM_INTERNAL_ERROR"}
TIMEOUT = {"FAILED_RUN_LIMIT_EXCEEDED"}


def ngc_state(status: str, details: str, native_id: str, instance: str) -> SchedulerState:
    why = f"NGC: {status}" + (f" ({details})" if details else "") + f" on {instance}"
    if status in PENDING:
        return SchedulerState(Phase.PENDING, reason=why, native_id=native_id)
    if status in RUNNING:
        return SchedulerState(Phase.RUNNING, reason=why, native_id=native_id)
    if status == "FINISHED_SUCCESS":
        return SchedulerState(Phase.ENDED, 0, why, native_id, EndReason.EXITED)
    if status in CANCELLED:
        return SchedulerState(Phase.ENDED, None, why, native_id, EndReason.CANCELLED)
    if status in KILLED:
        return SchedulerState(Phase.ENDED, None, why, native_id, EndReason.KILLED)
    if status in TIMEOUT:
        return SchedulerState(Phase.ENDED, None, why, native_id, EndReason.TIMEOUT)
    if status == "FAILED":
        return SchedulerState(Phase.ENDED, None, why, native_id, EndReason.EXITED)
    return SchedulerState(Phase.UNKNOWN, reason=why, native_id=native_id)
