"""A stand-in for PAI-DLC's API (2020-12-03, ROA style) on 127.0.0.1: CreateJob, GetJob,
ListJobs, StopJob and GetPodLogs, answered as the documented API answers them. It checks that
every request is signed (ACS3-HMAC-SHA256, by the access key the test gave the default
credential chain), names its action and version, and that CreateJob carries what orbitfarm must
set. Tests move jobs through DLC's states with `set_status`."""

from __future__ import annotations

import itertools
from typing import Any

from standin import Reply, Request, Service, require

VERSION = "2020-12-03"


class DlcStandIn(Service):
    def __init__(self, access_key_id: str, expect: dict[str, Any]) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.expect = expect  # CreateJob fields whose value orbitfarm must set
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # CreateJob bodies, in order
        self.numbers = itertools.count(1)

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"Code": "InvalidParameter", "Message": message,
                               "RequestId": "standin"})

    def _check_signed(self, request: Request, action: str) -> None:
        auth = request.headers.get("authorization", "")
        require(auth.startswith("ACS3-HMAC-SHA256 "), f"unsigned request: {auth!r}")
        require(f"Credential={self.access_key_id}," in auth, f"signed by another key: {auth!r}")
        require("Signature=" in auth and "SignedHeaders=" in auth, "signature incomplete")
        require(request.headers.get("x-acs-action") == action,
                f"x-acs-action {request.headers.get('x-acs-action')!r}, expected {action}")
        require(request.headers.get("x-acs-version") == VERSION, "wrong API version")
        require(request.headers.get("x-acs-content-sha256"), "no x-acs-content-sha256")

    def route(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        require(parts[:3] == ["api", "v1", "jobs"], f"unknown path {request.path}")
        if request.method == "POST" and len(parts) == 3:
            self._check_signed(request, "CreateJob")
            return self.create_job(request.json())
        if request.method == "GET" and len(parts) == 3:
            self._check_signed(request, "ListJobs")
            wanted = [j for j in request.arg("JobIds", "").split(",") if j] or \
                list(self.jobs)[:int(request.arg("PageSize") or 10)]
            jobs = [self._view(self.jobs[j], pods=False) for j in wanted if j in self.jobs]
            return Reply(200, {"Jobs": jobs, "TotalCount": len(jobs), "RequestId": "r"})
        job = self.jobs.get(parts[3]) if len(parts) > 3 else None
        if job is None:
            return Reply(404, {"Code": "JobNotFound", "Message": "job not found",
                                "RequestId": "r"})
        if request.method == "GET" and len(parts) == 4:
            self._check_signed(request, "GetJob")
            return Reply(200, {**self._view(job, pods=True), "RequestId": "r"})
        if request.method == "POST" and parts[4:] == ["stop"]:
            self._check_signed(request, "StopJob")
            require(job["Status"] not in ("Succeeded", "Failed", "Stopped"),
                    f"job {job['JobId']} is {job['Status']}: it cannot be stopped")
            job.update(Status="Stopped", ReasonCode="JobStoppedByUser",
                       ReasonMessage="stopped by the user")
            return Reply(200, {"JobId": job["JobId"], "RequestId": "r"})
        if request.method == "GET" and parts[4] == "pods" and parts[6:] == ["logs"]:
            self._check_signed(request, "GetPodLogs")
            require(any(p["PodId"] == parts[5] for p in job["Pods"]), f"no pod {parts[5]}")
            return Reply(200, {"JobId": job["JobId"], "PodId": parts[5],
                                "Logs": [f"log of {parts[5]}", "orbitfarm: job directory "
                                         "/mnt/data/x is not mounted"], "RequestId": "r"})
        require(False, f"unexpected {request.method} {request.path}")
        raise AssertionError

    def create_job(self, body: dict[str, Any]) -> Reply:
        for key, value in self.expect.items():
            require(body.get(key) == value, f"CreateJob {key}={body.get(key)!r}, "
                                            f"expected {value!r}")
        for key in ("DisplayName", "JobType", "JobSpecs", "UserCommand"):
            require(body.get(key), f"CreateJob without {key}")
        for spec in body["JobSpecs"]:
            require(spec.get("Image") and spec.get("PodCount"), f"incomplete JobSpec {spec}")
            require(spec.get("EcsSpec") or spec.get("ResourceConfig"), "JobSpec without resources")
        job_id = f"dlc{next(self.numbers):012d}"
        pods = []
        for spec in body["JobSpecs"]:
            for i in range(int(spec["PodCount"])):
                pods.append({"PodId": f"{job_id}-{spec['Type'].lower()}-{i}",
                             "Type": spec["Type"].lower(), "Status": "Pending"})
        self.created.append(body)
        self.jobs[job_id] = {"JobId": job_id, "DisplayName": body["DisplayName"],
                             "Status": "Creating", "ReasonCode": "", "ReasonMessage": "",
                             "Pods": pods, "UserCommand": body["UserCommand"]}
        return Reply(200, {"JobId": job_id, "RequestId": "r"})

    @staticmethod
    def _view(job: dict[str, Any], pods: bool) -> dict[str, Any]:
        view = {k: v for k, v in job.items() if k != "Pods"}
        if pods:
            view["Pods"] = [dict(p) for p in job["Pods"]]
        return view

    def set_status(self, job_id: str, status: str, code: str = "", message: str = "",
                   pod: str | None = None) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if pod is not None:
                for p in job["Pods"]:
                    if p["PodId"] == pod:
                        p["Status"] = status
                return
            job.update(Status=status, ReasonCode=code, ReasonMessage=message)
            for p in job["Pods"]:
                p["Status"] = {"Queuing": "Pending", "Creating": "Pending"}.get(status, status)
