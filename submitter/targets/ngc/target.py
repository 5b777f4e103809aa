"""The NGC target: one Base Command batch job per task through NVIDIA's ngcsdk (3.169.4).

ngcsdk 4.x dropped the batch API and no release ships an `ngc` CLI, hence the pin. The SDK reads
NGC_CLI_API_URL/NGC_CLI_AUTH_URL when it is imported, so the profile's `api_url`/`auth_url` are
set in the environment before the first import (tracing is turned off the same way). The API
key comes from NGC_CLI_API_KEY or ~/.ngc/config, as for `ngc` itself; never from the job dir.

Each submission's requests (jobs.run() arguments = `ngc batch run` flags) are written to
JOBDIR/ngc/submission-N.json before they are sent; each NGC job id is recorded in
JOBDIR/target.json with its task, attempt and instance type. Job state comes from the job
directory: only tasks without a final state there are asked about, by the NGC job recorded for
their latest attempt, so a finished task is never relaunched however old it is (seed 001's
monitor read a 7-day job history and relaunched finished jobs after a week). A poll is one list
call (by the job's label, since its first submission), plus a get for any job the list misses.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.layout import NGC_DIR
from ...model.states import Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cloud import CloudSubmissions
from ..container_line import NodeView
from .requests import NgcOptions, job_label, run_request
from .states import ngc_state

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

_URL_VARIABLES = {"api_url": "NGC_CLI_API_URL", "auth_url": "NGC_CLI_AUTH_URL"}


class NgcTarget(CloudSubmissions, Target):
    """Tasks as NGC batch jobs; retries climb the profile's instance ladder."""

    kind = "ngc"
    service = "NGC"
    folder = NGC_DIR
    _client: Any = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--ngc-ace",), "ace", "NGC ACE", metavar="ACE"),
            TargetOption(("--ngc-org",), "org", "NGC org", metavar="ORG"),
            TargetOption(("--ngc-team",), "team", "NGC team", metavar="TEAM"),
            TargetOption(("--ngc-image",), "image", "image, org/team/image:tag", metavar="IMAGE"),
            TargetOption(("--ngc-instance",), "instances", "an instance type added to the end "
                         "of the profile's retry ladder (repeatable)", metavar="TYPE",
                         append=True),
            TargetOption(("--ngc-priority",), "priority", "LOW, NORMAL or HIGH",
                         metavar="PRIORITY"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        NgcOptions.from_profile(profile)

    @property
    def options(self) -> NgcOptions:
        return NgcOptions.from_profile(self.profile)

    def describe(self) -> str:
        opts = self.options
        return (f"ngc: {opts.org}/{opts.team or '-'} on {opts.ace}, "
                f"{' -> '.join(opts.instances)}, {opts.image}")

    # -- the service ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            opts = self.options
            for key, variable in _URL_VARIABLES.items():
                wanted = getattr(opts, key)
                if not wanted:
                    continue
                if "ngcbase.environ" in sys.modules and os.environ.get(variable) != wanted:
                    raise TargetError(f"ngcsdk was imported before {key} could be set "
                                      f"({variable}); run this profile in its own process")
                os.environ[variable] = wanted
            os.environ.setdefault("NGC_CLI_TRACE_DISABLE", "true")
            try:
                from ngcsdk import Client
            except ImportError:
                raise TargetError("the ngc target needs NVIDIA's SDK with the batch API: "
                                  "pip install 'ngcsdk[telemetry]==3.169.4'") from None
            client = Client()
            self._guard("configure", client.configure, org_name=opts.org,
                        team_name=opts.team, ace_name=opts.ace)
            self._client = client
        return self._client

    @staticmethod
    def _guard(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (NgcException, HTTP and config errors)
            raise TargetError(f"NGC {what} failed: {str(exc)[:400]}") from None

    @property
    def jobs_api(self) -> Any:
        return self.client.basecommand.jobs

    def check(self) -> None:
        self.client  # noqa: B018 (configure() validates org, team and ACE with the service)

    # -- requests --------------------------------------------------------------------------------

    def requests(self, job: JobDir, attempts: dict[str, int]) -> list[dict[str, Any]]:
        opts = self.options
        view = NodeView.of(job, self.path_map, self.runtime())
        return [run_request(opts, view, job_id=job.id, task_id=t, index=job.index_of(t),
                            attempt=max(1, a)) for t, a in sorted(attempts.items())]

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        number = self.next_number(job)
        return [self.write_requests(job, number, {"jobs.run": self.requests(job, attempts)})]

    # -- submission ------------------------------------------------------------------------------

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        job.logs_dir.mkdir(exist_ok=True)
        number = len(record["submissions"]) + 1
        requests = self.requests(job, attempts)
        self.write_requests(job, number, {"jobs.run": requests})
        record.setdefault("first_submitted", time.time())
        sub: dict[str, Any] = {"number": number, "submitted": time.time(), "units": []}
        record["submissions"].append(sub)
        api = self.jobs_api
        try:
            for (task_id, attempt), request in zip(sorted(attempts.items()), requests,
                                                   strict=True):
                kwargs = dict(request)
                seconds = kwargs.pop("total_runtime_seconds", None)
                if seconds:
                    kwargs["total_runtime"] = dt.timedelta(seconds=seconds)
                created = self._guard(f"batch run of {task_id}", api.run, **kwargs)
                sub["units"].append({"task": task_id, "ngc_job": int(created.id),
                                     "attempt": max(1, attempt),
                                     "instance": request["instance"]})
        finally:
            job.save_target_record(record)  # whatever NGC accepted is recorded

    # -- tracking --------------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[str, dict[str, Any]]:
        """Task id -> the unit (NGC job) of its latest attempt, from the job directory."""
        latest: dict[str, dict[str, Any]] = {}
        for sub in self._record(job)["submissions"]:
            for unit in sub["units"]:
                latest[unit["task"]] = unit
        return latest

    def _listed(self, job: JobDir) -> dict[int, tuple[str, str]]:
        """NGC job id -> (status, details) of every job with this job's label, listed since
        the first submission (one paginated call)."""
        record = self._record(job)
        since = float(record.get("first_submitted") or time.time()) - 3600
        utc = dt.UTC
        jobs = self._guard("job list", self.jobs_api.list, list_all=True,
                           begin_time=dt.datetime.fromtimestamp(since, utc).replace(tzinfo=None),
                           end_time=dt.datetime.now(utc).replace(tzinfo=None)
                           + dt.timedelta(hours=1), labels=[job_label(job.id)])
        return {int(j.id): (str(j.jobStatus.status), str(j.jobStatus.statusDetails or ""))
                for j in jobs}

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        listed = self._listed(job) if any(t in latest for t in task_ids) else {}
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            unit = latest.get(task_id)
            if unit is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN, reason="never submitted to NGC")
                continue
            number = int(unit["ngc_job"])
            if number not in listed:
                found, _ = self._guard(f"job info {number}", self.jobs_api.info, number)
                listed[number] = (str(found.jobStatus.status),
                                  str(found.jobStatus.statusDetails or ""))
            status, details = listed[number]
            result[task_id] = ngc_state(status, details, str(number), unit["instance"])
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """The NGC job's own log (jobs.log), saved as JOBDIR/ngc/<task>.job.log."""
        unit = self._latest(job).get(task_id)
        if unit is None:
            return []
        try:
            lines = list(self.jobs_api.log(int(unit["ngc_job"]), tail=True, lines=500))
        except Exception:  # noqa: BLE001 (no log yet, or none kept: the task log is enough)
            return []
        return [self.service_log(job, task_id, "job.log", "".join(lines))]

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """Kill the NGC jobs of these tasks that are still pending or running (one list call, one
        kill each): ended jobs, and jobs NGC no longer lists, are left alone."""
        latest = self._latest(job)
        units = list(latest.values()) if task_ids is None else \
            [latest[t] for t in task_ids if t in latest]
        if not units:
            return
        listed = self._listed(job)
        opts = self.options
        for number in sorted({int(u["ngc_job"]) for u in units}):
            status = listed.get(number, ("", ""))[0]
            if ngc_state(status, "", "", "").state not in (Phase.PENDING, Phase.RUNNING):
                continue
            self._guard(f"kill {number}", self.jobs_api.kill_job, org_name=opts.org,
                        job_id=number, team_name=opts.team)
