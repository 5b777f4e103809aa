"""PAI-DLC's job and pod states as orbitfarm's scheduler states. Pure.

Job statuses (GetJob/ListJobs `Status`): Creating, Queuing, Dequeued, Bidding, EnvPreparing,
SanityChecking, Running, Restarting, Stopping, SucceededReserving, FailedReserving, Succeeded,
Failed, Stopped. A failed job carries `ReasonCode`/`ReasonMessage`; a preempted one (spot
instances, a higher-priority job on the quota) says so there, and counts as killed, so `retry`
sends it again. Pod statuses (workers mode): Pending, Running, Succeeded, Failed, Stopped.
"""

from __future__ import annotations

from typing import Any

from ...model.states import EndReason, Phase
from ..base import SchedulerState

PENDING = {"creating", "queuing", "dequeued", "bidding", "envpreparing", "sanitychecking",
           "pending", "restarting"}
RUNNING = {"running", "stopping", "succeededreserving", "failedreserving"}
SUCCEEDED = {"succeeded"}
STOPPED = {"stopped"}
FAILED = {"failed"}


def _reason(entry: dict[str, Any]) -> str:
    code = str(entry.get("ReasonCode") or "")
    message = str(entry.get("ReasonMessage") or "")
    return ": ".join(x for x in (code, message) if x)


def is_preempted(entry: dict[str, Any]) -> bool:
    return "preempt" in _reason(entry).lower()


def dlc_state(entry: dict[str, Any], native_id: str, cancelled: bool = False) -> SchedulerState:
    """One DLC job (per-task mode) or pod (workers mode) as a SchedulerState."""
    status = str(entry.get("Status") or "").lower()
    reason = _reason(entry)
    if status in PENDING:
        return SchedulerState(Phase.PENDING, reason=f"PAI-DLC: {entry.get('Status')}"
                              + (f" ({reason})" if reason else ""), native_id=native_id)
    if status in RUNNING:
        return SchedulerState(Phase.RUNNING, reason=f"PAI-DLC: {entry.get('Status')}",
                              native_id=native_id)
    if status in SUCCEEDED:
        return SchedulerState(Phase.ENDED, 0, "PAI-DLC: Succeeded", native_id, EndReason.EXITED)
    if status in STOPPED or cancelled:
        why = "stopped by orbitfarm cancel" if cancelled else f"PAI-DLC: Stopped {reason}".strip()
        return SchedulerState(Phase.ENDED, None, why, native_id, EndReason.CANCELLED)
    if status in FAILED:
        if is_preempted(entry):
            return SchedulerState(Phase.ENDED, None, f"PAI-DLC: preempted ({reason})",
                                  native_id, EndReason.KILLED)
        return SchedulerState(Phase.ENDED, None, f"PAI-DLC: Failed ({reason or 'no reason'})",
                              native_id, EndReason.EXITED)
    return SchedulerState(Phase.UNKNOWN, reason=f"PAI-DLC status {entry.get('Status')!r}",
                          native_id=native_id)
