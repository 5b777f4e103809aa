"""The BatchCompute target: one DAG job per submission through the official `batchcompute` SDK.

Alibaba Cloud marks BatchCompute deprecated; this target keeps existing users of the seed's
Blender app working. The job description is written to
JOBDIR/batchcompute/submission-N.json before it is sent (the file `--dry-run` leaves); the
BatchCompute job id and the plan index of each instance are recorded in JOBDIR/target.json.
A poll is ListInstances of the render task (one call per 100 instances) per submission still
open, plus GetJob for a job whose instances are not listed yet; cancel is StopJob; `logs` writes
where the instance's stdout/stderr went in OSS (GetInstance). Credentials come from Alibaba
Cloud's default chain; the SDK is imported on first use only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.layout import BATCHCOMPUTE_DIR
from ...model.frames import format_frame_list
from ...model.states import EndReason, Phase
from ..arrays import expand_indices
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cloud import CloudSubmissions
from ..container_line import NodeView
from .requests import INSTANCE_VARIABLE, TASK_NAME, BcsOptions, job_description, job_name
from .states import instance_state

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

PAGE = 100


class BatchComputeTarget(CloudSubmissions, Target):
    """Tasks as the instances of one BatchCompute DAG task per submission."""

    kind = "batchcompute"
    service = "BatchCompute"
    folder = BATCHCOMPUTE_DIR
    _client: Any = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--bcs-image",), "image", "docker image with Blender or bpy",
                         metavar="IMAGE"),
            TargetOption(("--bcs-cluster",), "cluster", "a named cluster (cls-...)",
                         metavar="ID"),
            TargetOption(("--bcs-logs",), "logs", "oss:// folder for stdout/stderr",
                         metavar="OSS"),
            TargetOption(("--bcs-retries",), "retries", "service retries per instance",
                         type=int, metavar="N"),
            TargetOption(("--bcs-priority",), "priority", "job priority (1-1000)", type=int,
                         metavar="N"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        BcsOptions.from_profile(profile)

    @property
    def options(self) -> BcsOptions:
        return BcsOptions.from_profile(self.profile)

    def describe(self) -> str:
        opts = self.options
        where = opts.cluster or f"auto cluster {opts.auto_cluster.get('instance_type')}"
        return f"batchcompute: {opts.region}, {where}, {opts.image} (deprecated service)"

    # -- the service ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from alibabacloud_credentials.client import Client as Credentials
                from batchcompute import Client
            except ImportError:
                raise TargetError("the batchcompute target needs the official SDK: pip install "
                                  "--no-build-isolation 'setuptools<81' wheel batchcompute "
                                  "alibabacloud-credentials") from None
            opts = self.options
            host, port = opts.host_and_port
            try:
                found = Credentials().get_credential()
            except Exception as exc:  # noqa: BLE001 (each link of the chain has its errors)
                raise TargetError(f"no Alibaba Cloud credentials: {exc}") from None
            # The SDK's one way to an endpoint of our choosing (a private one, or a stand-in):
            # register it as the region (it also sets the SDK's plain-HTTP port).
            Client.register_region(opts.region, host, port)
            self._client = Client(host, found.access_key_id, found.access_key_secret,
                                  found.security_token or "",
                                  security_conn=opts.protocol == "https")
        return self._client

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 (ClientError, socket errors)
            status = getattr(exc, "get_status_code", lambda: None)()
            if status == 404:
                return None
            message = exc.get_msg() if hasattr(exc, "get_msg") else str(exc)
            raise TargetError(f"BatchCompute {what} failed: {str(message)[:400]}") from None

    def check(self) -> None:
        self._call("ListJobs", self.client.list_jobs, "", 1)

    # -- payloads --------------------------------------------------------------------------------

    def description(self, job: JobDir, indices: list[int], number: int) -> dict[str, Any]:
        view = NodeView.of(job, self.path_map, self.runtime())
        return job_description(self.options, view, name=job_name(job.id, number),
                               indices=sorted(indices))

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        number = self.next_number(job)
        body = self.description(job, [job.index_of(t) for t in attempts], number)
        return [self.write_requests(job, number, body)]

    # -- submission ------------------------------------------------------------------------------

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        from batchcompute.resources import JobDescription

        record = self._record(job)
        record["region"] = self.options.region
        job.logs_dir.mkdir(exist_ok=True)
        number = len(record["submissions"]) + 1
        indices = sorted(job.index_of(t) for t in attempts)
        body = self.description(job, indices, number)
        self.write_requests(job, number, body)
        created = self._call("CreateJob", self.client.create_job, JobDescription(body))
        if created is None or not getattr(created, "Id", ""):
            raise TargetError("BatchCompute CreateJob returned no job id")
        record["submissions"].append({
            "number": number, "bcs_job": created.Id, "indices": format_frame_list(indices),
            "order": indices, "attempts": dict(attempts), "submitted": time.time(),
        })
        job.save_target_record(record)

    # -- tracking --------------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, tuple[dict[str, Any], int]]:
        """Plan index -> (its latest submission, its instance id there)."""
        latest: dict[int, tuple[dict[str, Any], int]] = {}
        for sub in self._record(job)["submissions"]:
            for instance, index in enumerate(sub["order"]):
                latest[index] = (sub, instance)
        return latest

    def _instances(self, bcs_job: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        marker = ""
        while True:
            page = self._call("ListInstances", self.client.list_instances, bcs_job, TASK_NAME,
                              marker, PAGE)
            if page is None:
                return found
            for item in page.Items:
                entry = _plain(item)
                found[int(entry["InstanceId"])] = entry
            marker = str(page.NextMarker or "")
            if not marker:
                return found

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        subs = {latest[i][0]["bcs_job"] for t in task_ids if (i := job.index_of(t)) in latest}
        instances = {s: self._instances(s) for s in sorted(subs)}
        jobs: dict[str, Any] = {}
        cancelled = set(self._record(job).get("cancelled", []))
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            found = latest.get(job.index_of(task_id))
            if found is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to BatchCompute")
                continue
            sub, instance = found
            native = f"{sub['bcs_job']}/{TASK_NAME}/{instance}"
            entry = instances[sub["bcs_job"]].get(instance)
            if entry is not None:
                result[task_id] = instance_state(entry, native,
                                                 cancelled=sub["bcs_job"] in cancelled
                                                 and entry.get("State") != "Finished")
                continue
            if sub["bcs_job"] not in jobs:
                jobs[sub["bcs_job"]] = self._call("GetJob", self.client.get_job, sub["bcs_job"])
            result[task_id] = _from_job(jobs[sub["bcs_job"]], native,
                                        sub["bcs_job"] in cancelled)
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """Where the instance's stdout/stderr are in OSS (GetInstance), as a small file."""
        found = self._latest(job).get(job.index_of(task_id))
        if found is None:
            return []
        sub, instance = found
        info = self._call("GetInstance", self.client.get_instance, sub["bcs_job"], TASK_NAME,
                          instance)
        if info is None:
            return []
        entry = _plain(info)
        return [self.service_log(job, task_id, "instance.log", "".join(
            f"{key}: {entry.get(key)}\n" for key in ("State", "RetryCount", "NodeIp",
                                                     "StdoutRedirectPath",
                                                     "StderrRedirectPath", "Result")))]

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """StopJob for each BatchCompute job whose every task is being cancelled (the service
        stops jobs, not single instances) and that is still waiting or running (GetJob): it
        refuses to stop the others."""
        record = self._record(job)
        if task_ids is None:
            targets = {s["bcs_job"] for s in record["submissions"]}
        else:
            asked = {job.index_of(t) for t in task_ids}
            targets = {s["bcs_job"] for s in record["submissions"]
                       if set(expand_indices(s["indices"])) <= asked}
        record["cancelled"] = sorted(set(record.get("cancelled", [])) | targets)
        job.save_target_record(record)
        for bcs_job in sorted(targets):
            found = self._call("GetJob", self.client.get_job, bcs_job)
            if found is not None and str(getattr(found, "State", "")) in ("Waiting", "Running"):
                self._call("StopJob", self.client.stop_job, bcs_job)


def _plain(resource: Any) -> dict[str, Any]:
    """An SDK resource (nested Jsonizable objects) as plain JSON data."""
    return dict(json.loads(resource.dump()))


def _from_job(found: Any, native: str, cancelled: bool) -> SchedulerState:
    """An instance not listed yet reads as its job does (Waiting, or ended before it ran)."""
    if found is None:
        return SchedulerState(Phase.UNKNOWN, native_id=native,
                              reason="BatchCompute has no record of this job")
    state = str(getattr(found, "State", ""))
    if state in ("Waiting", "Running"):
        return SchedulerState(Phase.PENDING, reason=f"BatchCompute: job {state}",
                              native_id=native)
    if state == "Stopped" or cancelled:
        return SchedulerState(Phase.ENDED, None, "BatchCompute: job stopped", native,
                              EndReason.CANCELLED)
    return SchedulerState(Phase.ENDED, None, f"BatchCompute: job {state} before this "
                          f"instance ran ({getattr(found, 'Message', '') or 'no message'})",
                          native, EndReason.NEVER_STARTED)


__all__ = ["BatchComputeTarget", "INSTANCE_VARIABLE"]
