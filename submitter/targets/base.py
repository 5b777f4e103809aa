"""The Target interface: where a job's tasks run (local processes, SLURM, Kubernetes, ...).

A target only starts, observes and stops tasks. It never decides what a task renders (that is
the plan in the job directory) nor what "done" means (that is the task state the worker writes).
Everything a target learns about a submission it records in the job directory, so any later
`orbitfarm status` from any process can poll it again.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..jobdir import JobDir


class TargetError(RuntimeError):
    """A target cannot do what was asked (unreachable, misconfigured); message says what to do."""


# What the scheduler says about one task, independent of what the worker wrote.
PENDING = "pending"  # accepted, waiting for resources
RUNNING = "running"  # started by the scheduler
ENDED = "ended"  # the scheduler no longer runs it (see exit_code / reason)
UNKNOWN = "unknown"  # never submitted, or forgotten by the scheduler


@dataclass
class SchedulerState:
    """One task as the scheduler sees it."""

    state: str
    exit_code: int | None = None
    reason: str = ""  # e.g. "TIMEOUT: time limit 00:01:00 reached", "killed by signal 9"
    native_id: str = ""  # e.g. SLURM "1234_7", a local PID


@dataclass
class Target(ABC):
    """A place that runs tasks. Subclasses are built from a profile dict (targets.yaml)."""

    kind: ClassVar[str] = ""
    profile: dict[str, Any]

    @classmethod
    def add_cli_options(cls, parser: argparse.ArgumentParser) -> None:
        """Target-specific `orbitfarm submit` options (they override the profile's values)."""
        return None

    @classmethod
    def profile_from_args(cls, profile: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
        """Merge CLI options given for this target into a copy of the profile."""
        return dict(profile)

    @classmethod
    def escalate(cls, profile: dict[str, Any], attempt: int) -> dict[str, Any]:
        """Profile for retry `attempt` (2, 3, ...) of `wait --retry`; default: unchanged."""
        return profile

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """Files the scheduler itself wrote about a task (e.g. "cancelled: time limit")."""
        return []

    def describe(self) -> str:
        """One line for `orbitfarm targets` and the panel."""
        return self.kind

    def check(self) -> None:
        """Raise TargetError if the target cannot accept work now (e.g. cluster unreachable)."""
        return None

    @abstractmethod
    def submit(self, job: JobDir, task_ids: list[str]) -> None:
        """Start these tasks; record whatever poll/cancel need in the job directory."""

    @abstractmethod
    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        """Scheduler view of the tasks, in one batch (never one call per task)."""

    @abstractmethod
    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """Stop these tasks (None: every task of the job) and let them be marked cancelled."""
