"""The AWS Deadline Cloud target: one OpenJD job per submission, its tasks = orbitfarm tasks.

submit() writes a job bundle (bundle.py) per submission into JOBDIR/deadline-cloud/bundle-N/,
validates its template with openjd-model and submits it with the `deadline` library
(service.py); the Deadline job id and which plan indices it runs are recorded in
JOBDIR/target.json. A retry is a new job over just the retried indices. poll() asks ListTasks
once per Deadline job (plus GetSessionAction for failed tasks, for the reason). Deadline's own
task retries default to 0: orbitfarm's retry and attempt count stay the one truth.

Task states: PENDING/READY/ASSIGNED/STARTING/SCHEDULED/SUSPENDED read pending, RUNNING and
INTERRUPTING running, SUCCEEDED/FAILED ended (exit code and message from the session action),
a FAILED task whose session action was INTERRUPTED (the worker's host went away: a spot
instance reclaimed) reads preempted, CANCELED cancelled, NOT_COMPATIBLE never started.

Profile keys (kind: deadline-cloud): farm_id, queue_id (required), aws_profile, priority (50),
max_retries_per_task (0), host_requirements (OpenJD hostRequirements, passed as written), env
(flat or per OS), os (the fleet's: linux or mac), path_map, setup, blender: or python:.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import DEADLINE_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.frames import format_frame_list
from ...model.states import EndReason, Phase
from ..arrays import expand_indices
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..nodes import ScriptNodes, refuse_unknown_keys
from . import bundle
from .service import DeadlineService, TaskView

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

_KEYS = {"kind", "name", "notify", "description", "farm_id", "queue_id", "aws_profile",
         "priority", "max_retries_per_task", "host_requirements", "env", "os", "path_map",
         "setup", "blender", "python"}
_PENDING = {"PENDING", "READY", "ASSIGNED", "STARTING", "SCHEDULED", "SUSPENDED"}
_RUNNING = {"RUNNING", "INTERRUPTING"}


def task_state(view: TaskView, native: str) -> SchedulerState:
    """orbitfarm's view of one Deadline Cloud task (pure; see the module doc)."""
    status = view.run_status
    if status in _PENDING:
        return SchedulerState(Phase.PENDING, reason=f"Deadline Cloud: {status}",
                              native_id=native)
    if status in _RUNNING:
        return SchedulerState(Phase.RUNNING, reason=f"Deadline Cloud: {status}",
                              native_id=native)
    why = view.message.strip()
    if status == "SUCCEEDED":
        return SchedulerState(Phase.ENDED, 0 if view.exit_code is None else view.exit_code,
                              "Deadline Cloud: SUCCEEDED", native, EndReason.EXITED)
    if status == "CANCELED":
        return SchedulerState(Phase.ENDED, view.exit_code, "cancelled in Deadline Cloud",
                              native, EndReason.CANCELLED)
    if status == "FAILED" and view.session_status == "INTERRUPTED":
        return SchedulerState(Phase.ENDED, view.exit_code,
                              "preempted: Deadline Cloud interrupted the task (its worker host "
                              f"went away){': ' + why if why else ''}", native, EndReason.KILLED)
    if status == "FAILED":
        code = f" (exit code {view.exit_code})" if view.exit_code is not None else ""
        return SchedulerState(Phase.ENDED, view.exit_code,
                              f"Deadline Cloud: task FAILED{code}{': ' + why if why else ''}",
                              native, EndReason.EXITED)
    if status == "NOT_COMPATIBLE":
        return SchedulerState(Phase.ENDED, None, "Deadline Cloud: no fleet of the queue meets "
                              "the host requirements (NOT_COMPATIBLE)", native,
                              EndReason.NEVER_STARTED)
    return SchedulerState(Phase.UNKNOWN, reason=f"Deadline Cloud says {status!r}",
                          native_id=native)


class DeadlineCloudTarget(ScriptNodes, Target):
    """Tasks as the OpenJD tasks of Deadline Cloud jobs."""

    kind = "deadline-cloud"
    _service: DeadlineService | None = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--deadline-farm",), "farm_id", "Deadline Cloud farm id (farm-...)",
                         metavar="FARM_ID"),
            TargetOption(("--deadline-queue",), "queue_id", "Deadline Cloud queue id "
                         "(queue-...)", metavar="QUEUE_ID"),
            TargetOption(("--deadline-priority",), "priority", "job priority 0-100 (default "
                         "50)", type=int, metavar="N"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        refuse_unknown_keys("deadline-cloud", profile, _KEYS)
        for key, prefix in (("farm_id", "farm-"), ("queue_id", "queue-")):
            value = profile.get(key)
            if not isinstance(value, str) or not value.startswith(prefix):
                raise TargetError(f"deadline-cloud profile {profile.get('name', '')!r} needs "
                                  f"{key}: {prefix}... (--{'deadline-' + key[:-3]})")
        priority = profile.get("priority", 50)
        if not isinstance(priority, int) or not 0 <= priority <= 100:
            raise TargetError("deadline-cloud profile: priority must be a whole number 0-100")
        cls.check_script_profile("deadline-cloud", profile)

    @property
    def service(self) -> DeadlineService:
        if self._service is None:
            self._service = DeadlineService(str(self.profile["farm_id"]),
                                            str(self.profile["queue_id"]),
                                            self.profile.get("aws_profile"))
        return self._service

    def describe(self) -> str:
        return (f"deadline-cloud: {self.profile.get('farm_id')}/{self.profile.get('queue_id')} "
                f"({self.runtime().describe()})")

    # -- the bundle ----------------------------------------------------------------------------

    def write_bundle(self, job: JobDir, folder: Path, indices: list[int], attempt: int) -> None:
        """Write and validate the job bundle that runs these plan indices into `folder`."""
        import yaml

        self.check_profile(self.profile)
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        job.logs_dir.mkdir(exist_ok=True)
        template = bundle.job_template(
            name=f"orbitfarm {job.id} attempt {attempt}", job_dir=remote_dir,
            plan_file=cluster_plan_file(job, mapping), code_dir=mapping.to_remote(job.code_dir),
            runtime=self.runtime(), indices=indices, task_id_digits=job.plan.task_id_digits,
            env=self.node_environment(),
            setup=list(self.profile.get("setup") or []),
            host_requirements=self.profile.get("host_requirements"),
            legacy_worker=code_layout(job.code_dir) == LAYOUT_1)
        try:
            bundle.validate(template)
        except ImportError as exc:
            raise TargetError("the deadline-cloud target needs openjd-model "
                              f"(pip install deadline openjd-model): {exc}") from None
        except ValueError as exc:
            raise TargetError(str(exc)) from None
        folder.mkdir(parents=True, exist_ok=True)
        outputs = sorted({mapping.to_remote(s.out) for s in job.plan.subjects})
        files = {
            "template.yaml": template,
            "parameter_values.yaml": bundle.parameter_values(remote_dir),
            "asset_references.yaml": bundle.asset_references(
                [mapping.to_remote(job.path / "inputs"), mapping.to_remote(job.code_dir)],
                outputs),
        }
        for name, data in files.items():
            atomic_write_text(folder / name, yaml.safe_dump(data, sort_keys=False, width=100))

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        folder = job.path / DEADLINE_DIR / "bundle-dry-run"
        self.write_bundle(job, folder, sorted(job.index_of(t) for t in attempts), 1)
        return sorted(folder.iterdir())

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        by_attempt: dict[int, list[int]] = {}
        for task_id, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(job.index_of(task_id))
        outs = [str(s.out) for s in job.plan.subjects]
        try:
            for attempt, indices in sorted(by_attempt.items()):
                number = len(record["jobs"]) + 1
                folder = job.path / DEADLINE_DIR / f"bundle-{number}"
                self.write_bundle(job, folder, indices, attempt)
                deadline_job = self.service.submit_bundle(
                    str(folder), known_paths=[str(job.path), *outs],
                    priority=int(self.profile.get("priority", 50)),
                    max_retries_per_task=int(self.profile.get("max_retries_per_task", 0)))
                record["jobs"].append({"job": deadline_job, "indices": format_frame_list(
                    sorted(indices)), "attempt": attempt, "bundle": folder.name,
                    "submitted": time.time()})
        finally:
            job.save_target_record(record)

    # -- tracking ------------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, dict[str, Any]]:
        """Plan index -> the record of the Deadline job that last ran it."""
        latest: dict[int, dict[str, Any]] = {}
        for entry in self._record(job)["jobs"]:
            for index in expand_indices(entry["indices"]):
                latest[index] = entry
        return latest

    def _step(self, job: JobDir, entry: dict[str, Any]) -> str:
        if not entry.get("step"):
            entry["step"] = self.service.step_id(entry["job"])
            record = self._record(job)
            for saved in record["jobs"]:
                if saved["job"] == entry["job"]:
                    saved["step"] = entry["step"]
            job.save_target_record(record)
        return str(entry["step"])

    def _views(self, job: JobDir, entries: list[dict[str, Any]]) -> dict[tuple[str, int],
                                                                           TaskView]:
        views: dict[tuple[str, int], TaskView] = {}
        for entry in entries:
            for view in self.service.tasks(entry["job"], self._step(job, entry)):
                views[(entry["job"], view.index)] = view
        return views

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        wanted = {job.index_of(t) for t in task_ids} & set(latest)
        entries = list({latest[i]["job"]: latest[i] for i in wanted}.values())
        views = self._views(job, entries)
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            index = job.index_of(task_id)
            entry = latest.get(index)
            if entry is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to Deadline Cloud")
                continue
            view = views.get((entry["job"], index))
            native = f"{entry['job']}/{view.task_id if view else index}"
            result[task_id] = task_state(view, native) if view else SchedulerState(
                Phase.UNKNOWN, native_id=native,
                reason=f"Deadline Cloud job {entry['job']} has no task with Index={index}")
        return result

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        if task_ids is None:
            for deadline_job in dict.fromkeys(e["job"] for e in self._record(job)["jobs"]):
                self.service.cancel_job(deadline_job)
            return
        latest = self._latest(job)
        entries = {latest[i]["job"]: latest[i] for t in task_ids
                   if (i := job.index_of(t)) in latest}
        views = self._views(job, list(entries.values()))
        for task_id in task_ids:
            entry = latest.get(job.index_of(task_id))
            view = entry and views.get((entry["job"], job.index_of(task_id)))
            if entry and view:
                self.service.cancel_task(entry["job"], self._step(job, entry), view.task_id)

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        return []

