"""The PAI-DLC target: DLC jobs through Alibaba Cloud's official SDK (alibabacloud-pai-dlc20201203).

Every submission's CreateJob payloads are written to JOBDIR/pai-dlc/submission-N.json before
anything is sent (the same file `--dry-run` leaves), and each DLC job id is recorded in
JOBDIR/target.json with the plan indices it runs. A poll is ListJobs with the recorded JobIds
(one call per 100 DLC jobs) plus GetJob for each workers-mode job (its pods); cancel
is StopJob; `logs` saves GetPodLogs of the task's pod. The client reads credentials from Alibaba
Cloud's default chain (ALIBABA_CLOUD_ACCESS_KEY_ID/..._SECRET, ~/.alibabacloud or ~/.aliyun
config, RAM role on ECS); nothing secret is written to the job directory. No SDK import happens
before the first call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.layout import PAI_DLC_DIR
from ...model.frames import format_frame_list
from ...model.states import Phase
from ..arrays import expand_indices
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cloud import CloudSubmissions
from ..container_line import NodeView
from .requests import DlcOptions, create_job_payload, display_name, pod_rank
from .states import PENDING, RUNNING, dlc_state

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

PAGE_SIZE = 100


class PaiDlcTarget(CloudSubmissions, Target):
    """Tasks as PAI-DLC jobs (one per task) or as the pods of one DLC job (workers mode)."""

    kind = "pai-dlc"
    service = "PAI-DLC"
    folder = PAI_DLC_DIR
    _client: Any = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--dlc-image",), "image", "the Blender or Python+bpy image",
                         metavar="IMAGE"),
            TargetOption(("--dlc-workspace",), "workspace", "PAI workspace id", metavar="ID"),
            TargetOption(("--dlc-quota",), "quota", "resource quota id (ResourceId)",
                         metavar="ID"),
            TargetOption(("--dlc-ecs-spec",), "ecs_spec", "instance type of public resources",
                         metavar="TYPE"),
            TargetOption(("--dlc-gpus",), "gpus", "GPUs per worker (with a quota)", type=int,
                         metavar="N"),
            TargetOption(("--dlc-mode",), "mode", "per-task (one DLC job per task) or workers "
                         "(one job, one pod per task)", metavar="MODE"),
            TargetOption(("--dlc-priority",), "priority", "job priority (1-9)", type=int,
                         metavar="N"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        DlcOptions.from_profile(profile)

    @property
    def options(self) -> DlcOptions:
        return DlcOptions.from_profile(self.profile)

    def describe(self) -> str:
        opts = self.options
        where = f"quota {opts.quota}" if opts.quota else opts.ecs_spec
        return f"pai-dlc: {opts.region}, {where}, {opts.image}, {opts.mode}"

    # -- the service ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The official DLC client, credentials from the default chain (built on first use)."""
        if self._client is None:
            try:
                from alibabacloud_credentials.client import Client as Credentials
                from alibabacloud_pai_dlc20201203.client import Client
                from alibabacloud_tea_openapi.models import Config
            except ImportError:
                raise TargetError("the pai-dlc target needs the official SDK: "
                                  "pip install alibabacloud-pai-dlc20201203") from None
            opts = self.options
            try:
                config = Config(credential=Credentials(), region_id=opts.region,
                                endpoint=opts.service_endpoint, protocol=opts.protocol)
                self._client = Client(config)
            except Exception as exc:  # noqa: BLE001 (credential chain errors vary)
                raise TargetError(f"PAI-DLC client: {exc}") from None
        return self._client

    def sdk_models(self) -> Any:
        """The SDK's request models; the client first, so a missing SDK gets its one line."""
        self.client  # noqa: B018
        from alibabacloud_pai_dlc20201203 import models

        return models

    def _call(self, what: str, fn: Any, *args: Any) -> dict[str, Any]:
        """Call the SDK; the response body as the API's dict, or TargetError with its message."""
        try:
            response = fn(*args)
        except Exception as exc:  # noqa: BLE001 (TeaException, connection errors)
            message = getattr(exc, "message", None) or str(exc)
            raise TargetError(f"PAI-DLC {what} failed: {str(message)[:400]}") from None
        return response.body.to_map() if response.body is not None else {}

    def check(self) -> None:
        models = self.sdk_models()
        self._call("ListJobs", self.client.list_jobs,
                   models.ListJobsRequest(page_size=1, workspace_id=self.options.workspace))

    # -- payloads --------------------------------------------------------------------------------

    def units(self, indices: list[int]) -> list[list[int]]:
        """The plan indices of each DLC job: one job per task, or one for all (workers)."""
        ordered = sorted(indices)
        return [ordered] if self.options.mode == "workers" else [[i] for i in ordered]

    def payloads(self, job: JobDir, units: list[list[int]], number: int) -> list[dict[str, Any]]:
        """The CreateJob bodies of submission `number`, one per unit."""
        opts = self.options
        view = NodeView.of(job, self.path_map, self.runtime())
        return [create_job_payload(opts, view, name=display_name(job.id, number, unit[0]),
                                   indices=unit) for unit in units]

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        number = self.next_number(job)
        units = self.units([job.index_of(t) for t in attempts])
        return [self.write_requests(job, number, {"CreateJob": self.payloads(job, units,
                                                                             number)})]

    # -- submission ------------------------------------------------------------------------------

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        models = self.sdk_models()
        record = self._record(job)
        opts = self.options
        record.update(region=opts.region, workspace=opts.workspace)
        job.logs_dir.mkdir(exist_ok=True)
        number = len(record["submissions"]) + 1
        units = self.units([job.index_of(t) for t in attempts])
        payloads = self.payloads(job, units, number)
        self.write_requests(job, number, {"CreateJob": payloads})
        sub: dict[str, Any] = {"number": number, "tasks": list(attempts),
                               "attempts": dict(attempts), "submitted": time.time(),
                               "units": []}
        record["submissions"].append(sub)
        try:
            for indices, payload in zip(units, payloads, strict=True):
                body = self._call("CreateJob", self.client.create_job,
                                  models.CreateJobRequest().from_map(payload))
                if not body.get("JobId"):
                    raise TargetError(f"PAI-DLC CreateJob returned no JobId: {body}")
                sub["units"].append({"dlc_job": body["JobId"], "name": payload["DisplayName"],
                                     "indices": format_frame_list(indices),
                                     "workers": len(indices) > 1})
        finally:
            job.save_target_record(record)  # whatever DLC accepted is recorded

    # -- tracking --------------------------------------------------------------------------------

    def _latest_units(self, job: JobDir) -> dict[int, dict[str, Any]]:
        """Plan index -> the unit (DLC job) of its latest submission."""
        latest: dict[int, dict[str, Any]] = {}
        for sub in self._record(job)["submissions"]:
            for unit in sub["units"]:
                for index in expand_indices(unit["indices"]):
                    latest[index] = unit
        return latest

    def _list_jobs(self, dlc_jobs: list[str]) -> dict[str, dict[str, Any]]:
        """These DLC jobs by JobId: ListJobs with JobIds, one call per PAGE_SIZE jobs."""
        models = self.sdk_models()
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(dlc_jobs), PAGE_SIZE):
            part = dlc_jobs[start:start + PAGE_SIZE]
            body = self._call("ListJobs", self.client.list_jobs, models.ListJobsRequest(
                job_ids=",".join(part), workspace_id=self.options.workspace, page_number=1,
                page_size=PAGE_SIZE))
            found.update({j["JobId"]: j for j in body.get("Jobs") or [] if j.get("JobId")})
        return found

    def _get_job(self, dlc_job: str) -> dict[str, Any]:
        models = self.sdk_models()
        return self._call("GetJob", self.client.get_job, dlc_job, models.GetJobRequest())

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest_units(job)
        wanted = {job.index_of(t): latest.get(job.index_of(t)) for t in task_ids}
        units = {u["dlc_job"]: u for u in wanted.values() if u is not None}
        listed = self._list_jobs(sorted(units)) if units else {}
        cancelled = set(self._record(job).get("cancelled", []))
        details = {d: self._get_job(d) for d, u in units.items()
                   if u["workers"] or d not in listed}
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            index = job.index_of(task_id)
            unit = wanted[index]
            if unit is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to PAI-DLC")
                continue
            dlc_job = unit["dlc_job"]
            entry = details.get(dlc_job) or listed.get(dlc_job)
            if not entry:
                result[task_id] = SchedulerState(Phase.UNKNOWN, native_id=dlc_job,
                                                 reason=f"PAI-DLC has no job {dlc_job}")
                continue
            if unit["workers"]:
                entry = _pod_of(entry, expand_indices(unit["indices"]).index(index))
            result[task_id] = dlc_state(entry, f"{dlc_job}/{entry.get('PodId', '')}".rstrip("/"),
                                        cancelled=dlc_job in cancelled
                                        and str(entry.get("Status")).lower() != "succeeded")
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """The pod's own log (GetPodLogs), saved as JOBDIR/pai-dlc/<task>.pod.log."""
        models = self.sdk_models()
        unit = self._latest_units(job).get(job.index_of(task_id))
        if unit is None:
            return []
        entry = self._get_job(unit["dlc_job"])
        rank = expand_indices(unit["indices"]).index(job.index_of(task_id))
        pod = _pod_of(entry, rank if unit["workers"] else None)
        if not pod.get("PodId"):
            return []
        body = self._call("GetPodLogs", self.client.get_pod_logs, unit["dlc_job"],
                          pod["PodId"], models.GetPodLogsRequest(max_lines=500))
        lines = body.get("Logs") or []
        if not lines:
            return []
        return [self.service_log(job, task_id, "pod.log",
                                 "\n".join(str(x) for x in lines) + "\n")]

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """StopJob for each DLC job of these tasks that has not ended (workers mode: the whole
        job); DLC refuses to stop an ended one, and ListJobs tells which they are."""
        record = self._record(job)
        latest = self._latest_units(job)
        if task_ids is None:
            targets = {u["dlc_job"] for sub in record["submissions"] for u in sub["units"]}
        else:
            targets = {u["dlc_job"] for t in task_ids
                       if (u := latest.get(job.index_of(t))) is not None}
        record["cancelled"] = sorted(set(record.get("cancelled", [])) | targets)
        job.save_target_record(record)
        listed = self._list_jobs(sorted(targets)) if targets else {}
        for dlc_job in sorted(targets):
            status = str(listed.get(dlc_job, {}).get("Status") or "").lower()
            if status in PENDING or status in RUNNING:
                self._call("StopJob", self.client.stop_job, dlc_job)


def _pod_of(entry: dict[str, Any], rank: int | None) -> dict[str, Any]:
    """The pod with RANK `rank` of a GetJob answer (None: its only/first pod); when the job has
    no such pod yet, the job itself stands for it (pending, or ended before the pods)."""
    pods = entry.get("Pods") or []
    for pod in pods:
        if rank is None or pod_rank(pod) == rank:
            merged = dict(pod)
            if not merged.get("ReasonCode"):
                merged.update(ReasonCode=entry.get("ReasonCode"),
                              ReasonMessage=entry.get("ReasonMessage"))
            return merged
    return entry
