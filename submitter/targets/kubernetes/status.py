"""Kubernetes' view of tasks (Jobs and Pods as the API returns them) -> orbitfarm's scheduler state.

Pure functions of the API's JSON (plain dicts, as `kubectl get -o json` or the client with
`_preload_content=False` gives them), so every reason can be tested without a cluster. A task's
pod is found by label (orbitfarm.io/index, one pod per task) or by the Job's completion index
(Indexed Jobs: the `batch.kubernetes.io/job-completion-index` annotation); the newest pod of an
index wins (the Job controller may have replaced a disrupted one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model.states import EndReason, Phase
from ..base import SchedulerState
from .manifests import INDEX_LABEL

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
_PULL_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                "RegistryUnavailable"}
_NEVER_PULLS = {"InvalidImageName", "ErrImageNeverPull"}  # waiting on these never ends


@dataclass
class Unit:
    """One recorded Kubernetes object of a submission and the plan indices it runs."""

    name: str  # Job name, or the pods' common name prefix
    kind: str  # "job" (Indexed Job) or "pods" (one pod per task)
    indices: list[int]
    cancelled: bool = False  # the whole submission was cancelled
    cancelled_indices: frozenset[int] = frozenset()  # single tasks cancelled


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or []}


def _parse_index_set(text: str | None) -> set[int]:
    """completedIndexes/failedIndexes ('1,3-5') -> {1, 3, 4, 5}."""
    found: set[int] = set()
    for part in str(text or "").split(","):
        if part.strip():
            lo, _, hi = part.partition("-")
            found.update(range(int(lo), int(hi or lo) + 1))
    return found


def pod_state(pod: dict[str, Any]) -> SchedulerState:
    """One pod -> SchedulerState (native id: the pod's name)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    name = str(meta.get("name") or "")
    phase = str(status.get("phase") or "Pending")
    container = ((status.get("containerStatuses") or [{}]) + [{}])[0]
    image = str(container.get("image") or ((pod.get("spec") or {}).get("containers")
                                           or [{}])[0].get("image") or "?")
    cstate = container.get("state") or {}
    if phase == "Pending":
        waiting = cstate.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason in _PULL_ERRORS:
            text = f"cannot pull image {image}: {reason}: {waiting.get('message') or ''}"
            never = reason in _NEVER_PULLS
            return SchedulerState(Phase.ENDED if never else Phase.PENDING, native_id=name,
                                  reason=text.rstrip(": "),
                                  end=EndReason.NEVER_STARTED if never else None)
        scheduled = _conditions(pod).get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            return SchedulerState(Phase.PENDING, native_id=name,
                                  reason=f"unschedulable: {scheduled.get('message') or ''}"
                                  .rstrip(": "))
        if reason:
            return SchedulerState(Phase.PENDING, native_id=name,
                                  reason=f"{reason}: {waiting.get('message') or ''}".rstrip(": "))
        return SchedulerState(Phase.PENDING, native_id=name, reason="pod pending")
    if phase == "Running":
        return SchedulerState(Phase.RUNNING, native_id=name)
    if phase == "Succeeded":
        return SchedulerState(Phase.ENDED, exit_code=0, native_id=name, end=EndReason.EXITED)
    if phase != "Failed":
        return SchedulerState(Phase.UNKNOWN, native_id=name, reason=f"pod phase {phase}")
    terminated = cstate.get("terminated") or \
        (container.get("lastState") or {}).get("terminated") or {}
    code = terminated.get("exitCode")
    code = int(code) if code is not None else None
    pod_reason = str(status.get("reason") or "")
    disruption = _conditions(pod).get("DisruptionTarget") or {}
    end = EndReason.KILLED
    if pod_reason == "DeadlineExceeded":
        reason = f"DeadlineExceeded: {status.get('message') or 'time limit reached'}"
        end = EndReason.TIMEOUT
    elif pod_reason == "Evicted":
        reason = f"evicted: {status.get('message') or ''}".rstrip(": ")
    elif disruption.get("status") == "True":
        reason = (f"preempted/disrupted ({disruption.get('reason') or '?'}): "
                  f"{disruption.get('message') or ''}").rstrip(": ")
    elif terminated.get("reason") == "OOMKilled":
        reason = "OOMKilled: the worker went over its memory limit"
    elif code is not None:
        end = EndReason.EXITED
        reason = f"exit code {code}" + (f" ({terminated['reason']})"
                                        if terminated.get("reason") not in (None, "Error",
                                                                            "Completed") else "")
        if terminated.get("signal"):
            reason += f", signal {terminated['signal']}"
    else:
        reason = f"pod failed: {pod_reason or status.get('message') or 'no reason given'}"
    return SchedulerState(Phase.ENDED, exit_code=code, native_id=name, reason=reason, end=end)


def _newest(pods: list[dict[str, Any]]) -> dict[str, Any]:
    return max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))


def _job_failure(job: dict[str, Any]) -> str:
    failed = _conditions(job).get("Failed") or {}
    if failed.get("status") == "True":
        return f"Job failed: {failed.get('reason') or ''}: {failed.get('message') or ''}"
    return ""


def unit_states(unit: Unit, job: dict[str, Any] | None,
                pods: list[dict[str, Any]]) -> dict[int, SchedulerState]:
    """Plan index -> state for every task of one unit, from its Job (if any) and pods."""
    by_index: dict[int, list[dict[str, Any]]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        if unit.kind == "pods":
            value = (meta.get("labels") or {}).get(INDEX_LABEL)
            if value is not None and int(value) in unit.indices:
                by_index.setdefault(int(value), []).append(pod)
        else:
            value = (meta.get("annotations") or {}).get(COMPLETION_INDEX)
            if value is not None and int(value) < len(unit.indices):
                by_index.setdefault(unit.indices[int(value)], []).append(pod)
    status = (job or {}).get("status") or {}
    completed = _parse_index_set(status.get("completedIndexes"))
    failed = _parse_index_set(status.get("failedIndexes"))
    job_failure = _job_failure(job) if job else ""
    result: dict[int, SchedulerState] = {}
    for position, index in enumerate(unit.indices):
        cancelled = unit.cancelled or index in unit.cancelled_indices
        if index in by_index:
            state = pod_state(_newest(by_index[index]))
            if cancelled and state.state == Phase.ENDED and state.exit_code != 0:
                state.reason = f"cancelled by orbitfarm ({state.reason})"
                state.end = EndReason.CANCELLED
            result[index] = state
        elif cancelled:
            result[index] = SchedulerState(Phase.ENDED, native_id=unit.name,
                                           reason="cancelled by orbitfarm (pod deleted)",
                                           end=EndReason.CANCELLED)
        elif unit.kind == "job" and position in completed:
            result[index] = SchedulerState(Phase.ENDED, exit_code=0, native_id=unit.name,
                                           end=EndReason.EXITED)
        elif unit.kind == "job" and position in failed:
            result[index] = SchedulerState(Phase.ENDED, native_id=unit.name,
                                           reason="failed (its pod is gone)",
                                           end=EndReason.KILLED)
        elif job_failure:
            result[index] = SchedulerState(
                Phase.ENDED, native_id=unit.name, reason=job_failure,
                end=EndReason.TIMEOUT if "DeadlineExceeded" in job_failure
                else EndReason.NEVER_STARTED)
        elif unit.kind == "job" and job is not None:
            result[index] = SchedulerState(Phase.PENDING, native_id=unit.name,
                                           reason="waiting for the Job controller "
                                                  "(parallelism limit)")
        else:
            result[index] = SchedulerState(Phase.UNKNOWN, native_id=unit.name,
                                           reason=f"Kubernetes no longer knows {unit.name} "
                                                  "(deleted outside orbitfarm?)")
    return result
