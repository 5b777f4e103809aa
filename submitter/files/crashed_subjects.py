"""Subjects that killed their worker process: failed at once when the task's next attempt starts.

A crash inside Blender's C code (SIGABRT/SIGSEGV while a subject loads, evaluates or renders,
e.g. a Mesh Sequence Cache reading a truncated .abc) ends the whole grouped worker, and the same
subject would crash every retry, so the subjects after it would never render. The worker marks
each subject `rendering` in the task state before it loads it; a new attempt that finds its
previous attempt ended without a final state (or with one the submitter wrote for it) while a
subject was still `rendering` fails that subject with a one-line reason and goes on with the
others. Not blamed: a cancel, a lost node, or a stop from outside (SIGTERM, SIGKILL, SIGINT,
SIGHUP: preemption, time limits), which any subject could have met. A subject failed this way stays failed on every later attempt of the task (`crashed`
lists the attempts it killed), so it never runs again. Plain Python (worker and submitter).
"""

from __future__ import annotations

import signal
from typing import Any

from ..model.states import SubjectStatus, TaskState

# Deaths the subject did not cause; also as shell exit codes 128 + N.
STOPPED_FROM_OUTSIDE = frozenset({signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP})
IN_PROGRESS = "rendering"  # the status the worker records before loading a subject
CRASHED = "crashed"  # entry field: the attempts this subject killed


def previous_attempt(state: dict[str, Any]) -> dict[str, Any]:
    """The last attempt's account: kept under "previous" by a retry, else the file itself."""
    if state.get("state") == TaskState.QUEUED:
        return state.get("previous") or {}
    return state


def how_it_ended(exit_code: Any) -> str:
    """`signal 6 (SIGABRT)`, `exit code 3`, or that the exit is unknown."""
    if not isinstance(exit_code, int):
        return "no exit code known"
    if exit_code < 0:
        try:
            return f"signal {-exit_code} ({signal.Signals(-exit_code).name})"
        except ValueError:
            return f"signal {-exit_code}"
    return f"exit code {exit_code}"


def stopped_from_outside(exit_code: Any) -> bool:
    """The process ended by a signal someone else sent (not a crash of its own)."""
    if not isinstance(exit_code, int) or exit_code == 0:
        return False
    number = -exit_code if exit_code < 0 else exit_code - 128
    return number in STOPPED_FROM_OUTSIDE


def crashed_subjects(state: dict[str, Any], attempt: int) -> dict[str, dict[str, Any]]:
    """Subject entries (failed, with reason and `crashed`) to start attempt `attempt` with.

    `state` is the task's state file as the new attempt finds it.
    """
    last = previous_attempt(state)
    died = (last.get("state") in (TaskState.RUNNING, TaskState.FAILED)
            and not stopped_from_outside(last.get("exit_code")))
    ended = how_it_ended(last.get("exit_code"))
    failed: dict[str, dict[str, Any]] = {}
    for name, entry in (last.get("subjects") or {}).items():
        killed = list(entry.get(CRASHED) or [])
        if died and entry.get("status") == IN_PROGRESS:
            killed.append(attempt - 1)
            reason = ("the worker process died while rendering this subject "
                      f"(attempt {attempt - 1}: {ended})")
        elif killed:
            reason = entry.get("reason") or "the worker process died while rendering it"
        else:
            continue
        failed[name] = {"status": SubjectStatus.FAILED.value, "reason": reason, CRASHED: killed,
                        "frames_done": int(entry.get("frames_done") or 0),
                        "frames_total": int(entry.get("frames_total") or 0)}
    return failed
