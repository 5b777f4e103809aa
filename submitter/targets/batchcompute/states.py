"""BatchCompute's instance states as orbitfarm's scheduler states. Pure.

Instances (ListInstances `State`): Waiting, Running, Finished, Failed, Stopped; an ended one
carries `Result` {ExitCode, ErrorCode, ErrorMessage, Detail} and `RetryCount`. A spot instance
taken back by Alibaba Cloud (ErrorCode mentioning spot, release or preemption) counts as killed:
`retry` sends it again on another instance.
"""

from __future__ import annotations

from typing import Any

from ...model.states import EndReason, Phase
from ..base import SchedulerState

_RECLAIMED = ("spot", "releas", "preempt", "reclaim")


def instance_state(entry: dict[str, Any], native_id: str,
                   cancelled: bool = False) -> SchedulerState:
    state = str(entry.get("State") or "")
    result = entry.get("Result") or {}
    code = result.get("ExitCode")
    why = ": ".join(str(x) for x in (result.get("ErrorCode"), result.get("ErrorMessage"),
                                     result.get("Detail")) if x)
    retries = int(entry.get("RetryCount") or 0)
    tried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    if state == "Waiting":
        return SchedulerState(Phase.PENDING, reason="BatchCompute: Waiting", native_id=native_id)
    if state == "Running":
        return SchedulerState(Phase.RUNNING, reason="BatchCompute: Running", native_id=native_id)
    exit_code = int(code) if isinstance(code, int | float) else None
    if state == "Finished":
        return SchedulerState(Phase.ENDED, exit_code if exit_code is not None else 0,
                              "BatchCompute: Finished", native_id, EndReason.EXITED)
    if state == "Stopped" or cancelled:
        return SchedulerState(Phase.ENDED, exit_code, "stopped by orbitfarm cancel"
                              if cancelled else "BatchCompute: Stopped", native_id,
                              EndReason.CANCELLED)
    if state == "Failed":
        if any(word in why.lower() for word in _RECLAIMED):
            return SchedulerState(Phase.ENDED, exit_code, f"BatchCompute: preempted ({why})",
                                  native_id, EndReason.KILLED)
        return SchedulerState(Phase.ENDED, exit_code,
                              f"BatchCompute: Failed{tried} ({why or f'exit code {code}'})",
                              native_id, EndReason.EXITED)
    return SchedulerState(Phase.UNKNOWN, reason=f"BatchCompute state {state!r}",
                          native_id=native_id)
