"""The Ray target: each submission is one Ray job whose driver runs the tasks as Ray tasks.

The submitter talks HTTP to the head's dashboard (Jobs API + state API, see jobs_api.py); the
driver (driver.py, from the job directory's own code copy) runs on the cluster and survives the
submitter. Every submission is recorded in JOBDIR/target.json and its files live in JOBDIR/ray/:
`submission-N.json` (what the driver runs), `submission-N.ids.json` (Ray task id -> task id,
written by the driver), `cancel-N/` (cancel requests). The nodes must see the job directory
(shared storage, with `path_map` when mounted elsewhere) and have Blender or a Python with bpy.

Profile keys (targets YAML, kind: ray):
    address: http://head:8265 (the dashboard; required; `local`: a head on this machine,
    started on demand from `ray:` (default `ray` on PATH) with local_cpus/local_gpus, kept
    running for later jobs, see local_head.py), gpus (1; Ray's num_gpus per task, Ray
    sets CUDA_VISIBLE_DEVICES), cpus (1), mem (e.g. 8G: Ray's `memory` resource), resources
    ({name: amount} custom resources), parallelism (tasks at once per submission),
    blender: /path/on/nodes or python: /path/to/python-with-bpy, driver_python (python: the
    head's Python with Ray), path_map: [{local, remote}], escalate_mem (factor per retry).
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import RAY_DIR
from ...launch.runtime import Runtime, plan_worker_argv
from ...model.states import EndReason, Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..pathmap import PathMap
from ..slurm.units import UnitError, parse_mem, scale_mem
from .jobs_api import JobsApi
from .states import task_state, unstarted_state

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

INDEX_VARIABLE = "ORBITFARM_PLAN_INDEX"  # the driver sets it to each task's plan index
DRIVER = "submitter/targets/ray/driver.py"  # inside the job directory's code copy

_KEYS = {"kind", "name", "notify", "description", "address", "gpus", "cpus", "mem", "resources",
         "parallelism", "blender", "python", "driver_python", "path_map", "escalate_mem",
         "ray", "local_cpus", "local_gpus"}


def ray_task_name(job_id: str) -> str:
    """The name every Ray task of a job carries (the state API filters on it)."""
    return f"orbitfarm-{job_id}"


class RayTarget(Target):
    """Tasks as Ray tasks on an existing Ray cluster, driven by one Ray job per submission."""

    kind = "ray"
    index_variable = INDEX_VARIABLE
    _api: JobsApi | None = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--ray-address",), "address", "the Ray head's dashboard "
                         "(http://HEAD:8265), or `local` for a head on this machine",
                         metavar="URL"),
            TargetOption(("--ray-gpus",), "gpus", "Ray num_gpus per task (default 1)",
                         type=float, metavar="N"),
            TargetOption(("--ray-parallelism",), "parallelism", "at most N tasks at once",
                         type=int, metavar="N"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        cls.validate(profile)

    # -- configuration -----------------------------------------------------------------------

    @classmethod
    def validate(cls, profile: dict[str, Any]) -> dict[str, Any]:
        """Raise TargetError for unknown keys or bad values; return the profile."""
        name = profile.get("name", "")
        unknown = sorted(set(profile) - _KEYS)
        if unknown:
            raise TargetError(f"ray profile {name!r}: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(_KEYS))})")
        if not profile.get("address"):
            raise TargetError(f"ray profile {name!r}: `address:` is required: the head's "
                              "dashboard, e.g. http://head:8265")
        for key in ("gpus", "cpus"):
            value = profile.get(key)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise TargetError(f"ray profile {name!r}: {key} must be a number >= 0, "
                                  f"got {value!r}")
        parallelism = profile.get("parallelism")
        if parallelism is not None and (not isinstance(parallelism, int) or parallelism < 1):
            raise TargetError(f"ray profile {name!r}: parallelism must be a whole number >= 1")
        resources = profile.get("resources")
        if resources is not None and (not isinstance(resources, dict) or not all(
                isinstance(v, int | float) and v >= 0 for v in resources.values())):
            raise TargetError(f"ray profile {name!r}: resources must map names to amounts, "
                              "e.g. {ssd: 1}")
        try:
            if profile.get("mem") is not None:
                parse_mem(profile["mem"])
        except UnitError as exc:
            raise TargetError(f"ray profile {name!r}: {exc}") from None
        PathMap.from_profile(profile.get("path_map"))
        return profile

    @classmethod
    def escalated(cls, profile: dict[str, Any], attempt: int) -> dict[str, Any]:
        """The profile for retry `attempt` (2, 3, ...): memory times escalate_mem per retry."""
        factor = float(profile.get("escalate_mem") or 1)
        if attempt < 2 or factor == 1 or not profile.get("mem"):
            return profile
        return dict(profile, mem=scale_mem(profile["mem"], factor ** (attempt - 1)))

    @property
    def api(self) -> JobsApi:
        if self._api is None:
            address = str(self.validate(self.profile)["address"])
            if address == "local":
                from .local_head import ensure_local_head

                address = ensure_local_head(self.profile.get("ray"),
                                            self.profile.get("local_cpus"),
                                            self.profile.get("local_gpus"))
            self._api = JobsApi(address)
        return self._api

    @property
    def path_map(self) -> PathMap:
        return PathMap.from_profile(self.profile.get("path_map"))

    def runtime(self) -> Runtime:
        if self.profile.get("python"):
            return Runtime("python", str(self.profile["python"]))
        return Runtime("blender", str(self.profile.get("blender") or "blender"))

    def describe(self) -> str:
        gpus = self.profile.get("gpus", 1)
        return (f"ray: {self.profile.get('address')}, {gpus} GPU/task "
                f"({self.runtime().describe()})")

    def check(self) -> None:
        self.api.version()

    def resources(self, attempt: int) -> dict[str, Any]:
        """One task's Ray resources on this attempt (memory escalated by escalate_mem)."""
        profile = self.escalated(self.profile, attempt)
        found: dict[str, Any] = {"num_gpus": profile.get("gpus", 1),
                                 "num_cpus": profile.get("cpus", 1)}
        if profile.get("mem"):
            found["memory"] = parse_mem(profile["mem"]) * 1024 * 1024
        if profile.get("resources"):
            found["resources"] = dict(profile["resources"])
        return found

    # -- submission --------------------------------------------------------------------------

    def _record(self, job: JobDir) -> dict[str, Any]:
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              "not Ray")
        record.setdefault("kind", self.kind)
        record.setdefault("submissions", [])
        return record

    def submission_spec(self, job: JobDir, task_ids: list[str], number: int,
                        attempt: int) -> dict[str, Any]:
        """What the driver of submission `number` runs (paths as the cluster sees them)."""
        mapping = self.path_map
        remote = mapping.to_remote
        plan_file = cluster_plan_file(job, mapping)
        code_dir = remote(job.code_dir)
        runtime = self.runtime()
        argv = plan_worker_argv(runtime, code_dir, plan_file, INDEX_VARIABLE, 0)
        tasks = [{"task": t, "index": job.index_of(t), "log": remote(job.log_file(t)),
                  "argv": argv, "env": {INDEX_VARIABLE: str(job.index_of(t))}}
                 for t in task_ids]
        base = f"{remote(job.path)}/{RAY_DIR}/submission-{number}"
        return {"job": job.id, "name": ray_task_name(job.id), "attempt": attempt,
                "cwd": remote(job.path), "tasks": tasks,
                "env": {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
                "resources": self.resources(attempt),
                "parallelism": self.profile.get("parallelism"),
                "ids_file": f"{base}.ids.json", "results_file": f"{base}.results.json",
                "cancel_dir": f"{remote(job.path)}/{RAY_DIR}/cancel-{number}"}

    def entrypoint(self, job: JobDir, number: int) -> str:
        """The shell command the Jobs API runs on the head."""
        remote = self.path_map.to_remote
        python = str(self.profile.get("driver_python") or "python")
        return shlex.join([python, remote(job.code_dir / DRIVER),
                           f"{remote(job.path)}/{RAY_DIR}/submission-{number}.json"])

    def write_submission(self, job: JobDir, task_ids: list[str], number: int,
                         attempt: int) -> Path:
        """Write submission-N.json into JOBDIR/ray/ (also what --dry-run shows)."""
        folder = job.path / RAY_DIR
        (folder / f"cancel-{number}").mkdir(parents=True, exist_ok=True)
        path = folder / f"submission-{number}.json"
        spec = self.submission_spec(job, task_ids, number, attempt)
        atomic_write_text(path, json.dumps(spec, indent=1, allow_nan=False) + "\n")
        return path

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        """Write what a submission would run (driver spec, entrypoint); contact no cluster."""
        number = len(self._record(job)["submissions"]) + 1
        spec = self.write_submission(job, list(attempts), number, max(attempts.values()))
        entry = spec.with_suffix(".entrypoint.sh")
        atomic_write_text(entry, "#!/bin/sh\n# What the Ray Jobs API would run on the head "
                                 f"({self.profile.get('address')}):\n"
                                 f"{self.entrypoint(job, number)}\n")
        return [spec, entry]

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        by_attempt: dict[int, list[str]] = {}
        for t, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(t)
        job.logs_dir.mkdir(exist_ok=True)
        try:
            for attempt, ids in sorted(by_attempt.items()):
                number = len(record["submissions"]) + 1
                self.write_submission(job, ids, number, attempt)
                submission_id = self.api.submit(
                    submission_id=f"orbitfarm-{job.id}-{number}",
                    entrypoint=self.entrypoint(job, number),
                    metadata={"orbitfarm_job": job.id, "orbitfarm_job_dir": str(job.path)})
                record["submissions"].append({
                    "id": submission_id, "number": number, "attempt": attempt, "tasks": ids,
                    "submitted": time.time(), "resources": self.resources(attempt)})
        finally:
            job.save_target_record(record)

    # -- tracking ----------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[str, dict[str, Any]]:
        """Task id -> the record of its latest submission."""
        latest: dict[str, dict[str, Any]] = {}
        for sub in self._record(job)["submissions"]:
            for t in sub["tasks"]:
                latest[t] = sub
        return latest

    def _ray_ids(self, job: JobDir, number: int) -> dict[str, str]:
        """Ray task id -> task id, as the driver of submission `number` recorded them."""
        path = job.path / RAY_DIR / f"submission-{number}.ids.json"
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}  # the driver has not started (or not submitted anything) yet

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        numbers = {latest[t]["number"] for t in task_ids if t in latest}
        # Ray task of each (submission, task), from the driver's id files.
        ray_of: dict[tuple[int, str], str] = {}
        for number in numbers:
            for ray_id, t in self._ray_ids(job, number).items():
                ray_of[(number, t)] = ray_id
        records: dict[str, dict[str, Any]] = {}
        if ray_of:
            name = ray_task_name(job.id)
            tasks, _ = self.api.tasks_named(name)  # ONE list call for every task of the job
            records = {str(r.get("task_id")): r for r in tasks}
            if any(r.get("state") == "FAILED" for r in tasks):  # why: only in the details
                failed, _ = self.api.tasks_named(name, state="FAILED", detail=True)
                records.update({str(r.get("task_id")): r for r in failed})
        jobs: dict[str, dict[str, Any] | None] = {}
        results: dict[int, dict[str, Any]] = {}  # submission -> the driver's results file
        result: dict[str, SchedulerState] = {}
        for t in task_ids:
            sub = latest.get(t)
            if sub is None:
                result[t] = SchedulerState(Phase.UNKNOWN, reason="never submitted to Ray")
                continue
            ray_id = ray_of.get((sub["number"], t), "")
            if ray_id in records:
                state = task_state(records[ray_id], sub.get("resources"))
            else:
                # Not handed to Ray yet (driver starting, or throttled), or Ray forgot the
                # task: the driver's job tells which.
                if sub["id"] not in jobs:
                    jobs[sub["id"]] = self.api.job(sub["id"])
                state = unstarted_state(jobs[sub["id"]], sub["id"])
            if state.state == Phase.ENDED and state.exit_code is None:
                state = self._driver_result(job, sub["number"], t, state, results)
            if (state.state == Phase.ENDED and state.exit_code is None
                    and t not in results.get(sub["number"], {})
                    and not self._cancelled(job, sub, t)):
                # Ray can report the worker gone (it exits after each GPU task) a moment before
                # the driver records the exit code: while the driver runs, that record is due.
                if sub["id"] not in jobs:
                    jobs[sub["id"]] = self.api.job(sub["id"])
                if str((jobs[sub["id"]] or {}).get("status") or "") == "RUNNING":
                    state = SchedulerState(Phase.RUNNING, native_id=state.native_id,
                                           reason="ending: the driver records its exit code")
            if state.state == Phase.ENDED and state.exit_code != 0 and self._cancelled(job, sub, t):
                # A force-cancel kills the worker: Ray reports the kill, we know who asked.
                state.reason = f"cancelled by orbitfarm ({state.reason})"
                state.end = EndReason.CANCELLED
            result[t] = state
        return result

    def _driver_result(self, job: JobDir, number: int, task_id: str, state: SchedulerState,
                       cache: dict[int, dict[str, Any]]) -> SchedulerState:
        """An ended task without an exit code: the driver's own record, when it has one."""
        if number not in cache:
            path = job.path / RAY_DIR / f"submission-{number}.results.json"
            try:
                cache[number] = dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                cache[number] = {}
        seen = cache[number].get(task_id)
        if not seen or seen.get("exit_code") is None:
            return state
        code = int(seen["exit_code"])
        return SchedulerState(Phase.ENDED, exit_code=code, native_id=state.native_id,
                              reason="" if code == 0 else f"worker exit code {code}",
                              end=EndReason.EXITED)

    def _cancelled(self, job: JobDir, sub: dict[str, Any], task_id: str) -> bool:
        return bool(sub.get("cancelled")) or (
            job.path / RAY_DIR / f"cancel-{sub['number']}" / task_id).exists()

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """The driver's log of the task's latest submission, fetched from the Jobs API."""
        sub = self._latest(job).get(task_id)
        if sub is None:
            return []
        try:
            text = self.api.logs(sub["id"])
        except TargetError:
            return []
        path = job.path / RAY_DIR / f"submission-{sub['number']}.driver.log"
        atomic_write_text(path, text)
        return [path]

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        record = self._record(job)
        if task_ids is None:
            for sub in record["submissions"]:
                info = self.api.job(sub["id"])
                if info is not None and info.get("status") in ("PENDING", "RUNNING"):
                    sub["cancelled"] = time.time()
                    job.save_target_record(record)
                    self.api.stop(sub["id"])
            return
        latest = self._latest(job)
        for t in task_ids:
            sub = latest.get(t)
            if sub is not None:
                folder = job.path / RAY_DIR / f"cancel-{sub['number']}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / t).touch()
