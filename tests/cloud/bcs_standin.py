"""A stand-in for Alibaba Cloud BatchCompute's API (2015-11-11) on 127.0.0.1: CreateJob,
GetJob, ListInstances, GetInstance and StopJob, answered as the documented API does. It checks
the SDK's signature (`acs KEYID:SIGNATURE`, HMAC-SHA1, by the key the test gave the default
credential chain), the API version, and that the job is the DAG orbitfarm must send: one task
with InstanceCount = tasks, a docker image, OSS mounts, stdout/stderr to OSS, a cluster or an
auto cluster, retries per instance. Tests move instances through their states with `set`."""

from __future__ import annotations

import itertools
from typing import Any

from standin import Reply, Request, Service, require

VERSION = "2015-11-11"


class BcsStandIn(Service):
    def __init__(self, access_key_id: str) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.numbers = itertools.count(1)

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"Code": "InvalidParameter", "Message": message},
                      {"x-acs-request-id": "standin"})

    def _check_signed(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        require(auth.startswith(f"acs {self.access_key_id}:") and len(auth) > 30,
                f"not signed by the test's key: {auth!r}")
        require(request.headers.get("x-acs-signature-method") == "HMAC-SHA1", "signature method")
        require(request.headers.get("x-acs-version") == VERSION, "wrong API version")
        require(request.headers.get("x-acs-signature-nonce"), "no signature nonce")

    def route(self, request: Request) -> Reply:
        self._check_signed(request)
        parts = request.path.strip("/").split("/")
        require(parts[0] == "jobs", f"unknown path {request.path}")
        if request.method == "POST" and len(parts) == 1:
            return self.create_job(request.json())
        if request.method == "GET" and len(parts) == 1:
            return Reply(200, {"Items": [self._job_view(j) for j in self.jobs.values()],
                                "NextMarker": ""})
        job = self.jobs.get(parts[1])
        if job is None:
            return Reply(404, {"Code": "JobNotFound", "Message": f"no job {parts[1]}"})
        if request.method == "GET" and len(parts) == 2:
            return Reply(200, self._job_view(job))
        if request.method == "POST" and parts[2:] == ["stop"]:
            # The documented rule: only running or waiting jobs can be stopped.
            require(job["State"] in ("Waiting", "Running"),
                    f"job {job['Id']} is {job['State']}: only waiting or running jobs stop")
            job["State"] = "Stopped"
            for instance in job["instances"]:
                if instance["State"] in ("Waiting", "Running"):
                    instance["State"] = "Stopped"
            return Reply(200, {})
        if request.method == "GET" and parts[2] == "tasks" and parts[4] == "instances":
            require(parts[3] == "render", f"no task {parts[3]}")
            if len(parts) == 6:
                return Reply(200, dict(job["instances"][int(parts[5])]))
            start = int(request.arg("Marker") or 0)
            count = int(request.arg("MaxItemCount") or 50)
            items = job["instances"][start:start + count]
            more = start + count < len(job["instances"])
            return Reply(200, {"Items": [dict(i) for i in items],
                                "NextMarker": str(start + count) if more else ""})
        require(False, f"unexpected {request.method} {request.path}")
        raise AssertionError

    def create_job(self, body: dict[str, Any]) -> Reply:
        require(body.get("Type") == "DAG" and body.get("Name"), "a named DAG job")
        require(body.get("JobFailOnInstanceFail") is False, "one bad instance must not fail all")
        tasks = body["DAG"]["Tasks"]
        require(list(tasks) == ["render"], f"one task named render, got {list(tasks)}")
        task = tasks["render"]
        count = task.get("InstanceCount")
        require(isinstance(count, int) and count >= 1, "InstanceCount")
        command = task["Parameters"]["Command"]
        require(command.get("Docker", {}).get("Image"), "no docker image")
        require(count == 1 or "BATCH_COMPUTE_DAG_INSTANCE_ID" in command["CommandLine"],
                "instances must read their index")
        for key in ("StdoutRedirectPath", "StderrRedirectPath"):
            require(str(task["Parameters"].get(key, "")).startswith("oss://"), f"{key} to OSS")
        require(task.get("ClusterId") or task.get("AutoCluster", {}).get("InstanceType"),
                "a cluster or an auto cluster")
        require(task["Mounts"]["Entries"], "no OSS mounts")
        require("MaxRetryCount" in task, "no per-instance retries")
        job_id = f"job-{next(self.numbers):08d}"
        self.created.append(body)
        self.jobs[job_id] = {"Id": job_id, "Name": body["Name"], "State": "Waiting",
                             "Message": "", "Priority": body.get("Priority", 1),
                             "instances": [self._instance(i, task) for i in range(count)]}
        return Reply(201, {"Id": job_id})

    @staticmethod
    def _instance(number: int, task: dict[str, Any]) -> dict[str, Any]:
        params = task["Parameters"]
        return {"InstanceId": number, "State": "Waiting", "RetryCount": 0, "Progress": 0,
                "NodeIp": "", "Outputs": {},
                "StdoutRedirectPath": f"{params['StdoutRedirectPath']}{number}",
                "StderrRedirectPath": f"{params['StderrRedirectPath']}{number}",
                "Result": {"ExitCode": 0, "ErrorCode": "", "ErrorMessage": "", "Detail": ""}}

    @staticmethod
    def _job_view(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if k != "instances"}

    def set(self, job_id: str, number: int, state: str, exit_code: int = 0, code: str = "",
            message: str = "", retries: int = 0) -> None:
        with self.lock:
            job = self.jobs[job_id]
            instance = job["instances"][number]
            instance.update(State=state, RetryCount=retries,
                            Result={"ExitCode": exit_code, "ErrorCode": code,
                                    "ErrorMessage": message, "Detail": ""})
            states = {i["State"] for i in job["instances"]}
            if states <= {"Finished", "Failed", "Stopped"}:  # the job ends with its instances
                job["State"] = "Failed" if "Failed" in states else "Finished"
            elif "Running" in states:
                job["State"] = "Running"
