"""Ray's view of a task (state API record, Jobs API record) -> the scheduler state orbitfarm uses.

Pure functions of the JSON Ray returns, so every reason can be tested without a cluster.
"""

from __future__ import annotations

import re
from typing import Any

from ...model.states import EndReason, Phase
from ..base import SchedulerState

# Ray's TaskStatus names (src/ray/protobuf/common.proto), grouped as orbitfarm sees them.
_PENDING = {"NIL", "PENDING_ARGS_AVAIL", "PENDING_NODE_ASSIGNMENT",
            "PENDING_OBJ_STORE_MEM_AVAIL", "PENDING_ARGS_FETCH"}
_RUNNING = {"SUBMITTED_TO_WORKER", "RUNNING", "RUNNING_IN_RAY_GET", "RUNNING_IN_RAY_WAIT"}

# Written by driver.run_worker.
_EXIT = re.compile(r"orbitfarm worker exit code (-?\d+)")
_SIGNAL = re.compile(r"orbitfarm worker killed by signal (\d+)")

# Ray's ErrorType names for a task that did not end by itself.
_ERROR_REASONS = {
    "TASK_CANCELLED": "cancelled (ray.cancel)",
    "WORKER_DIED": "the Ray worker process died (killed, or its node was lost)",
    "NODE_DIED": "the Ray node running it died",
    "OUT_OF_MEMORY": "killed by Ray's memory monitor: the node ran out of memory",
    "TASK_UNSCHEDULABLE_ERROR": "no node can ever provide the resources it asks for",
    "RUNTIME_ENV_SETUP_FAILED": "Ray could not set up the runtime environment",
    "LOCAL_RAYLET_DIED": "the Ray node running it died",
}

# Jobs API statuses of the driver.
_JOB_ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}


def describe_resources(resources: dict[str, Any] | None) -> str:
    """The target's per-task resources (num_gpus, num_cpus, memory, custom) in Ray's words."""
    res = resources or {}
    parts = [f"GPU {res['num_gpus']:g}" if res.get("num_gpus") else "",
             f"CPU {res['num_cpus']:g}" if res.get("num_cpus") else "",
             f"memory {res['memory'] / 2**20:.0f} MiB" if res.get("memory") else ""]
    parts += [f"{k} {v:g}" for k, v in sorted((res.get("resources") or {}).items())]
    return ", ".join(p for p in parts if p) or "no resources"


def task_state(record: dict[str, Any], resources: dict[str, Any] | None = None) -> SchedulerState:
    """One state API task record -> SchedulerState (native id: Ray's task id).

    `resources`: what the task asked for (the state API's summary records do not say)."""
    state = str(record.get("state") or "NIL")
    native = str(record.get("task_id") or "")
    if state in _PENDING:
        return SchedulerState(Phase.PENDING, native_id=native,
                              reason=f"waiting for a Ray node with free "
                                     f"{describe_resources(resources)} ({state})")
    if state in _RUNNING:
        return SchedulerState(Phase.RUNNING, native_id=native)
    if state == "FINISHED":
        return SchedulerState(Phase.ENDED, exit_code=0, native_id=native, end=EndReason.EXITED)
    if state != "FAILED":
        return SchedulerState(Phase.UNKNOWN, native_id=native, reason=f"Ray task state {state}")
    message = str(record.get("error_message") or "")
    if m := _EXIT.search(message):
        code = int(m.group(1))
        return SchedulerState(Phase.ENDED, exit_code=code, native_id=native,
                              reason=f"worker exit code {code}", end=EndReason.EXITED)
    if m := _SIGNAL.search(message):
        signal = int(m.group(1))
        return SchedulerState(Phase.ENDED, exit_code=128 + signal, native_id=native,
                              reason=f"worker killed by signal {signal}", end=EndReason.KILLED)
    error_type = str(record.get("error_type") or "")
    reason = _ERROR_REASONS.get(error_type)
    if reason is None:
        last = message.strip().splitlines()[-1] if message.strip() else "no message"
        reason = f"Ray task failed ({error_type or 'unknown error'}): {last[:200]}"
    end = {"TASK_CANCELLED": EndReason.CANCELLED, "TASK_UNSCHEDULABLE_ERROR":
           EndReason.NEVER_STARTED, "RUNTIME_ENV_SETUP_FAILED": EndReason.NEVER_STARTED
           }.get(error_type, EndReason.KILLED)
    return SchedulerState(Phase.ENDED, native_id=native, reason=reason, end=end)


def unstarted_state(job: dict[str, Any] | None, submission_id: str) -> SchedulerState:
    """A task the driver has not handed to Ray (yet): what the driver's Ray job says."""
    if job is None:
        return SchedulerState(Phase.UNKNOWN, native_id=submission_id,
                              reason=f"Ray no longer knows the job {submission_id} "
                                     "(head restarted?)")
    status = str(job.get("status") or "")
    if status in _JOB_ENDED:
        # Ray's message starts with boilerplate and ends with the driver's error: keep the end.
        lines = [x for x in str(job.get("message") or "").strip().splitlines() if x.strip()]
        message = " | ".join(lines[-3:])[-300:]
        what = {"STOPPED": "cancelled: the Ray job was stopped",
                "FAILED": "the orbitfarm driver of the Ray job failed",
                "SUCCEEDED": "the orbitfarm driver ended without running it"}[status]
        return SchedulerState(Phase.ENDED, native_id=submission_id,
                              reason=f"{what}{': ' + message if message else ''}",
                              end=EndReason.CANCELLED if status == "STOPPED"
                              else EndReason.NEVER_STARTED)
    if status == "RUNNING":
        return SchedulerState(Phase.PENDING, native_id=submission_id,
                              reason="queued in the orbitfarm driver (parallelism limit)")
    return SchedulerState(Phase.PENDING, native_id=submission_id,
                          reason=f"Ray job {status.lower() or 'pending'}: "
                                 f"{str(job.get('message') or '')[:200]}".rstrip(": "))
