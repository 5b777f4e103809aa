"""A stand-in for an accsyn workspace's REST API (v3), as accsyn-python-api speaks it through
ACCSYN_PROXY (plain HTTP): PUT /api/v3/api/login with basic user:key, then events at
/api/v3/event (POST create, GET find with the event as quoted JSON in the query, PUT edit).
It checks the login, that every event carries the session, and keeps compute jobs in memory;
a test moves their tasks between states with set_task().
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from standin import Reply, Request

SESSION = "standin-session-1"


@dataclass
class ComputeJob:
    job_id: str
    payload: dict[str, Any]  # create("Compute", ...) as received
    status: str = "queued"
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # item -> task


def buckets(frames: list[int], size: int) -> list[list[int]]:
    return [frames[i:i + size] for i in range(0, len(frames), size)]


class AccsynStandIn:
    def __init__(self, workspace: str, user: str, key: str) -> None:
        self.workspace, self.user, self.key = workspace, user, key
        self.jobs: dict[str, ComputeJob] = {}
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def set_task(self, job_id: str, item: str, status: str, message: str = "") -> None:
        task = self.jobs[job_id].tasks[item]
        task["status"], task["message"] = status, message

    def handle(self, request: Request) -> Reply:
        if request.path == "/api/v3/api/login" and request.method == "PUT":
            want = (f"basic {base64.b64encode(self.user.encode()).decode()}:"
                    f"{base64.b64encode(self.key.encode()).decode()}")
            if request.headers.get("authorization") != want or \
                    request.headers.get("x-accsyn-workspace") != self.workspace:
                return Reply(200, {"message": "wrong user, key or workspace"})
            return Reply(200, {"result": {"role": "employee", "id": "u" * 24,
                                          "session_id": SESSION}})
        if request.path != "/api/v3/event":
            return Reply(404, {"message": f"no such endpoint {request.path}"})
        event = json.loads(unquote(request.raw_query)) if request.method == "GET" \
            else request.json()
        if event.get("session") != SESSION or event.get("workspace") != self.workspace:
            return Reply(200, {"message": "not logged in"})
        if "gz_data" in event:  # large payloads arrive compressed
            event["data"] = json.loads(gzip.decompress(base64.b64decode(event["gz_data"])))
        self.events.append(event)
        uri = event["uri"]
        if request.method == "POST" and uri == "compute/create":
            return self._create(event["data"])
        if request.method == "GET" and uri == "task/find":
            job = self.jobs[event["data"]["parent"]]
            return Reply(200, {"result": list(job.tasks.values())})
        if request.method == "PUT" and uri == "job/edit":
            job = self.jobs[event["id"]]
            job.status = event["data"]["status"]
            if job.status == "aborted":
                for task in job.tasks.values():
                    if task["status"] not in ("done", "failed"):
                        task["status"] = "aborted"
            return Reply(200, {"result": [{"id": job.job_id, "status": job.status}]})
        if request.method == "PUT" and uri == "task/edit":
            job = self.jobs[event["id"]]
            by_id = {t["id"]: t for t in job.tasks.values()}
            for change in event["data"]:
                by_id[change["id"]]["status"] = change["status"]
            return Reply(200, {"result": event["data"]})
        return Reply(200, {"message": f"stand-in does not know {request.method} {uri}"})

    def _create(self, payload: dict[str, Any]) -> Reply:
        from orbitfarm.submitter.targets.accsyn.ranges import from_accsyn, to_accsyn

        for key in ("app", "input", "output", "range", "settings", "parameters"):
            if key not in payload:
                return Reply(200, {"message": f"compute job without {key!r}"})
        job_id = f"{next(self._ids):024x}"
        job = ComputeJob(job_id, payload)
        size = int(payload["settings"]["task_bucketsize"])
        for number, bucket in enumerate(buckets(from_accsyn(payload["range"]), size)):
            item = to_accsyn(bucket)
            job.tasks[item] = {"id": f"task-{job_id}-{number}", "item": item,
                               "status": "queued", "message": ""}
        self.jobs[job_id] = job
        return Reply(200, {"result": [{"id": job_id, "code": payload.get("code"),
                                       "status": "queued"}]})
