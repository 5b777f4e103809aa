"""The accsyn target: one accsyn compute job per group of subjects and submission.

submit() writes each group's node script (JOBDIR/accsyn/group-G.aN.sh: task_script.py's, with
the bucket -> plan index lookup of payload.py) and its create("Compute", ...) payload
(JOBDIR/accsyn/group-G.aN.json, what `--dry-run` writes too), then submits it; the accsyn job
id, its frames and attempt are recorded in JOBDIR/target.json. A retry is a new compute job over
the retried chunks. poll() asks for each job's tasks once; a task's `item` (its bucket of frames)
names the plan task. cancel() aborts whole jobs, or excludes single tasks.

Task states (accsyn's words): init/queued/pending/waiting/paused read pending, executing/running
running, done/finished succeeded, failed failed (with accsyn's message), aborted/excluded
cancelled, offline/interrupted (the node went away) preempted.

Profile keys (kind: accsyn): app (the compute app that runs `bash INPUT` with ACCSYN_ITEM;
default "orbitfarm"), workspace, hostname, port, filters (list or "ram:>32g,site:sthlm"),
settings (accsyn transfer settings), parameters (extra compute parameters, e.g. site), env (flat
or per OS: becomes `envs`), path_map (becomes `mapped_share_paths`, per OS), os (the nodes':
linux or mac), setup, blender: or python:.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import ACCSYN_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.states import EndReason, Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..node_env import environments
from ..nodes import ScriptNodes, refuse_unknown_keys
from ..task_script import task_script
from . import payload as payloads
from .ranges import RangeError, from_accsyn
from .service import AccsynService

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

_KEYS = {"kind", "name", "notify", "description", "app", "workspace", "hostname", "port",
         "filters", "settings", "parameters", "env", "path_map", "os", "setup", "blender",
         "python"}
STATES: dict[str, tuple[Phase, EndReason | None]] = {
    **dict.fromkeys(("init", "queued", "pending", "waiting", "paused"), (Phase.PENDING, None)),
    **dict.fromkeys(("executing", "running", "booting"), (Phase.RUNNING, None)),
    **dict.fromkeys(("done", "finished"), (Phase.ENDED, EndReason.EXITED)),
    "failed": (Phase.ENDED, EndReason.EXITED),
    **dict.fromkeys(("aborted", "excluded"), (Phase.ENDED, EndReason.CANCELLED)),
    **dict.fromkeys(("offline", "interrupted"), (Phase.ENDED, EndReason.KILLED)),
}


def task_state(task: dict[str, Any], native: str) -> SchedulerState:
    """orbitfarm's view of one accsyn task (pure; see the module doc)."""
    status = str(task.get("status", "")).lower()
    found = STATES.get(status)
    if found is None:
        return SchedulerState(Phase.UNKNOWN, native_id=native,
                              reason=f"accsyn says {status or 'nothing'!r}")
    phase, end = found
    message = str(task.get("message") or "").strip()
    code = task.get("exitcode")
    exit_code = int(code) if isinstance(code, int) else (0 if status in ("done", "finished")
                                                          else None)
    if status == "failed":
        reason = f"accsyn: task failed{': ' + message if message else ''}"
    elif end == EndReason.KILLED:
        reason = f"preempted: accsyn lost the task's node ({status}){': ' + message if message else ''}"
    elif end == EndReason.CANCELLED:
        reason = f"accsyn: task {status}"
    else:
        reason = f"accsyn: {status}"
    return SchedulerState(phase, exit_code, reason, native, end)


class AccsynTarget(ScriptNodes, Target):
    """Tasks as the buckets of accsyn compute jobs."""

    kind = "accsyn"
    _service: AccsynService | None = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--accsyn-app",), "app", "accsyn compute app (default orbitfarm)",
                         metavar="APP"),
            TargetOption(("--accsyn-filter",), "filters", "accsyn filter, e.g. 'ram:>32g' or "
                         "'site:sthlm' (repeatable)", metavar="FILTER", append=True),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        refuse_unknown_keys("accsyn", profile, _KEYS)
        for key in ("settings", "parameters"):
            if not isinstance(profile.get(key) or {}, dict):
                raise TargetError(f"accsyn profile: {key} must be a mapping")
        cls.check_script_profile("accsyn", profile)

    @property
    def service(self) -> AccsynService:
        if self._service is None:
            port = self.profile.get("port")
            self._service = AccsynService(self.profile.get("workspace"),
                                          self.profile.get("hostname"),
                                          int(port) if port else None)
        return self._service

    def describe(self) -> str:
        return f"accsyn: app {self.profile.get('app', 'orbitfarm')} ({self.runtime().describe()})"

    # -- payloads ------------------------------------------------------------------------------

    def payloads(self, job: JobDir, attempts: dict[str, int]) -> list[tuple[Path, dict[str, Any],
                                                                           list[int], int]]:
        """Write each group's node script and payload; (payload file, payload, plan indices,
        attempt) per compute job."""
        self.check_profile(self.profile)
        plan = job.plan
        n_chunks = len(plan.chunks)
        by_key: dict[tuple[int, int], list[int]] = {}
        for task_id, attempt in attempts.items():
            index = job.index_of(task_id)
            by_key.setdefault((index // n_chunks, max(1, attempt)), []).append(index)
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        plan_file = cluster_plan_file(job, mapping)
        (job.path / ACCSYN_DIR).mkdir(exist_ok=True)
        job.logs_dir.mkdir(exist_ok=True)
        bucket = max(len(c) for c in plan.chunks)
        out = []
        for (group, attempt), indices in sorted(by_key.items()):
            indices.sort()
            firsts = {plan.chunks[i % n_chunks][0]: i for i in indices}
            frames = sorted(f for i in indices for f in plan.chunks[i % n_chunks])
            stem = f"{ACCSYN_DIR}/group-{group}.a{attempt}"
            atomic_write_text(job.path / f"{stem}.sh", task_script(
                job_dir=remote_dir, plan_file=plan_file,
                code_dir=mapping.to_remote(job.code_dir), runtime=self.runtime(),
                index="$PLAN_INDEX", task_id_digits=plan.task_id_digits,
                env=self.node_environment(),
                setup=list(self.profile.get("setup") or []),
                note=f"group {group} of job {job.id}, attempt {attempt}, one accsyn bucket",
                legacy_worker=code_layout(job.code_dir) == LAYOUT_1,
                pick=payloads.bucket_pick(firsts)))
            members, _ = plan.task(indices[0])
            subjects = [plan.subject(s) for s in members]
            body = payloads.compute_job(
                code=f"orbitfarm {job.id} {subjects[0].name}"
                     f"{' +' + str(len(subjects) - 1) if len(subjects) > 1 else ''} "
                     f"attempt {attempt}",
                app=str(self.profile.get("app") or "orbitfarm"),
                script=str(job.path / f"{stem}.sh"),
                output=str(Path(subjects[0].out).parent),
                frames=frames, bucket=bucket,
                dependencies=self._dependencies(job, [s.blend for s in subjects]),
                envs=environments(self.profile), path_map=self.profile.get("path_map"),
                filters=payloads.filters_text(self.profile.get("filters")),
                settings=self.profile.get("settings"),
                parameters=self.profile.get("parameters"))
            path = job.path / f"{stem}.json"
            atomic_write_text(path, json.dumps(body, indent=1, allow_nan=False) + "\n")
            out.append((path, body, indices, attempt))
        return out

    @staticmethod
    def _dependencies(job: JobDir, blends: list[str]) -> list[str]:
        """The packed files the tasks read: the group's .blend files, the shared packed inputs,
        the plan and the code copy (paths of this machine; accsyn maps them)."""
        inputs = job.path / "inputs"
        shared = [str(p) for p in inputs.rglob("*") if p.is_file()
                  and "subjects" not in p.relative_to(inputs).parts[:1]] if inputs.is_dir() \
            else []
        return sorted({*blends, *shared, str(job.plan_file), str(job.code_dir)})

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        written = self.payloads(job, attempts)
        return [p for path, *_ in written for p in (path, path.with_suffix(".sh"))]

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        try:
            for path, body, indices, attempt in self.payloads(job, attempts):
                accsyn_job = self.service.create_compute(body)
                record["jobs"].append({"job": accsyn_job, "indices": indices,
                                       "attempt": attempt, "payload": path.name,
                                       "submitted": time.time()})
        finally:
            job.save_target_record(record)

    # -- tracking ------------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, str]:
        """Plan index -> the accsyn job that last ran it."""
        return {i: str(entry["job"]) for entry in self._record(job)["jobs"]
                for i in entry["indices"]}

    def _task_map(self, job: JobDir, accsyn_job: str) -> dict[int, dict[str, Any]]:
        """Plan index -> the accsyn task whose bucket is that plan task's chunk."""
        plan = job.plan
        n_chunks = len(plan.chunks)
        by_first = {plan.chunks[c][0]: c for c in range(n_chunks)}
        entry = next(e for e in self._record(job)["jobs"] if str(e["job"]) == accsyn_job)
        group = entry["indices"][0] // n_chunks
        found: dict[int, dict[str, Any]] = {}
        for task in self.service.tasks(accsyn_job):
            try:
                first = from_accsyn(str(task.get("item", "")))[0]
            except RangeError:
                continue
            if first in by_first:
                found[group * n_chunks + by_first[first]] = task
        return found

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        wanted = {latest[i] for t in task_ids if (i := job.index_of(t)) in latest}
        tasks: dict[tuple[str, int], dict[str, Any]] = {}
        for accsyn_job in sorted(wanted):
            for index, task in self._task_map(job, accsyn_job).items():
                tasks[(accsyn_job, index)] = task
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            index = job.index_of(task_id)
            owner = latest.get(index)
            if owner is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to accsyn")
                continue
            found = tasks.get((owner, index))
            native = f"{owner}/{found.get('id', '?')}" if found else owner
            result[task_id] = task_state(found, native) if found else SchedulerState(
                Phase.PENDING, native_id=native,
                reason="accsyn has not split the job into tasks yet")
        return result

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        if task_ids is None:
            for accsyn_job in dict.fromkeys(str(e["job"]) for e in self._record(job)["jobs"]):
                self.service.abort_job(accsyn_job)
            return
        latest = self._latest(job)
        by_job: dict[str, list[int]] = {}
        for task_id in task_ids:
            if (index := job.index_of(task_id)) in latest:
                by_job.setdefault(latest[index], []).append(index)
        for accsyn_job, indices in by_job.items():
            tasks = self._task_map(job, accsyn_job)
            ids = [str(tasks[i]["id"]) for i in indices if i in tasks]
            if ids:
                self.service.exclude_tasks(accsyn_job, ids)
