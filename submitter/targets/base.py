"""The Target interface: where a job's tasks run (local processes, SLURM, Kubernetes, ...).

A target only stages, starts, observes and stops tasks. It never decides what a task renders
(that is the plan in the job directory) nor what "done" means (that is the task state the
worker writes). Everything a target learns about a submission it records in the job directory,
so any later `orbitfarm status` from any process can poll it again.

A new engine is a new sub-package here with a Target subclass registered in TARGET_KINDS
(targets/__init__.py); it declares its own `submit` options (cli_options) and profile keys,
names the environment variable that carries a task's array index (index_variable), and
moves files in stage_in / stage_out when its nodes do not share the job directory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..model.states import EndReason, Phase

if TYPE_CHECKING:
    from ..files.jobdir import JobDir


class TargetError(RuntimeError):
    """A target cannot do what was asked (unreachable, misconfigured); message says what to do."""


@dataclass
class SchedulerState:
    """One task as the scheduler sees it."""

    state: Phase
    exit_code: int | None = None
    reason: str = ""  # e.g. "TIMEOUT: time limit 00:01:00 reached", "killed by signal 9"
    native_id: str = ""  # e.g. SLURM "1234_7", a local PID
    end: EndReason | None = None  # why an ended task ended (None while it has not)


@dataclass(frozen=True)
class TargetOption:
    """One `orbitfarm submit` option a target kind declares; it sets the profile key `key`."""

    flags: tuple[str, ...]
    key: str
    help: str
    type: Any = str
    metavar: str | None = None
    append: bool = False  # repeatable; adds to the profile's list instead of replacing it


@dataclass
class Target(ABC):
    """A place that runs tasks. Subclasses are built from a profile dict (targets.yaml)."""

    kind: ClassVar[str] = ""
    # The environment variable this target sets to a task's array index on the node; the
    # launch line names it and the worker reads its task from it (plus the array's offset).
    index_variable: ClassVar[str] = ""
    profile: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        """This kind's own `orbitfarm submit` options (they override the profile's values)."""
        return []

    @classmethod
    def profile_with_options(cls, profile: dict[str, Any],
                             values: dict[str, Any]) -> dict[str, Any]:
        """A copy of the profile with this kind's given option values (by profile key) merged
        in and checked; None means "not given"."""
        merged = dict(profile)
        appended = {o.key for o in cls.cli_options() if o.append}
        for key, value in values.items():
            if value is None or (key in appended and not value):
                continue
            merged[key] = (list(merged.get(key) or []) + list(value)) if key in appended else value
        cls.check_profile(merged)
        return merged

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        """Raise TargetError for a profile this kind cannot use (before anything is packed)."""
        return None

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """Files the scheduler itself wrote about a task (e.g. "cancelled: time limit")."""
        return []

    def describe(self) -> str:
        """One line for `orbitfarm targets` and the panel."""
        return self.kind

    def check(self) -> None:
        """Raise TargetError if the target cannot accept work now (e.g. cluster unreachable)."""
        return None

    def stage_in(self, job: JobDir) -> None:
        """Make the job's inputs and code (inputs/, code/, plan.json) visible to the nodes.

        A no-op where nodes share the job directory (local, SLURM on a shared filesystem); a
        target without shared storage uploads them here, before submit()."""
        return None

    def stage_out(self, job: JobDir, task_ids: list[str]) -> None:
        """Bring these tasks' outputs and state files (tasks/, logs/, result folders) back.

        Called before `status` reads task states; a no-op with shared storage."""
        return None

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        """Write into the job directory what submit() would hand to the engine, contacting
        nothing; the files written. Kinds with submission files of their own (scripts,
        manifests) write those; this default writes JOBDIR/dry-run/<kind>.json: the profile
        and the tasks with their attempts."""
        import json

        from ..files.atomic import atomic_write_text
        from ..files.layout import DRY_RUN_DIR

        folder = job.path / DRY_RUN_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"{self.kind}.json"
        atomic_write_text(path, json.dumps({"kind": self.kind, "profile": self.profile,
                                            "index_variable": self.index_variable,
                                            "tasks": attempts}, indent=1, allow_nan=False) + "\n")
        return [path]

    @abstractmethod
    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        """Start these tasks (task id -> which attempt this is: 1, 2, ...); record whatever
        poll/cancel need in the job directory."""

    @abstractmethod
    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        """Scheduler view of the tasks, in one batch (never one call per task)."""

    @abstractmethod
    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """Stop these tasks (None: every task of the job) and let them be marked cancelled."""
