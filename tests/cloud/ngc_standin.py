"""A stand-in for NVIDIA NGC's API (v2, Base Command jobs) on 127.0.0.1, for ngcsdk 3.169.4.

It answers what the SDK asks before it submits (the API-key token exchange, the org, team and
ACE checks, the image's tags) and the job calls: submit (POST .../jobs), list by label and
date, get, kill (DELETE), and a job's log from its result set. It checks that every API call
carries the bearer token it issued for the test's API key, and that a submitted job has what
orbitfarm must set (ACE instance, image, command, result mount, workspace mounts, priority, its
label). Tests move jobs through NGC's states with `set_status`."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from standin import Reply, Request, Service, require

TOKEN = "standin-bearer-token"
PAGING = {"index": 0, "size": 100, "totalPages": 1, "totalResults": 1}


class NgcStandIn(Service):
    def __init__(self, api_key: str, org: str, team: str, ace: str,
                 instances: list[str], image_repo: str, image_tag: str) -> None:
        super().__init__()
        self.api_key, self.org, self.team, self.ace = api_key, org, team, ace
        self.instances = instances
        self.image_repo, self.image_tag = image_repo, image_tag
        self.jobs: dict[int, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.numbers = itertools.count(4_000_001)
        self.logs: dict[int, list[str]] = {}  # job id -> its joblog.log lines

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"requestStatus": {"statusCode": "INVALID_REQUEST",
                                                 "statusDescription": message}})

    def route(self, request: Request) -> Reply:
        if request.path == "/token":
            basic = base64.b64decode(request.headers.get("authorization", "Basic ")[6:]).decode()
            require(basic == f"$oauthtoken:{self.api_key}", "token asked with another API key")
            return Reply(200, {"token": TOKEN, "expires_in": 3600})
        # The SDK's file transfers send the token base64-encoded.
        encoded = base64.b64encode(TOKEN.encode()).decode()
        require(request.headers.get("authorization") in (f"Bearer {TOKEN}", f"Bearer {encoded}"),
                f"{request.path} without the bearer token")
        parts = request.path.strip("/").split("/")
        require(parts[0] == "v2", f"unknown path {request.path}")
        if parts[1:] == ["orgs"]:
            return Reply(200, {"organizations": [{"name": self.org}], "paginationInfo": PAGING})
        if parts[1:] == ["orgs", self.org]:
            return Reply(200, {"organizations": {"name": self.org,
                                                  "isDatasetServiceEnabled": False}})
        require(parts[1:3] == ["org", self.org], f"another org: {request.path}")
        rest = parts[3:]
        if rest[:2] == ["team", self.team]:
            rest = rest[2:]
        elif rest[:1] == ["team"]:
            require(False, f"another team: {request.path}")
        if rest == ["teams"]:
            return Reply(200, {"teams": [{"name": self.team}], "paginationInfo": PAGING})
        if rest == ["aces"]:
            return Reply(200, {"aces": [self._ace()], "paginationInfo": PAGING})
        if rest[:1] == ["aces"]:
            require(rest[1] == self.ace, f"unknown ACE {rest[1]}")
            return Reply(200, {"ace": self._ace()})
        if rest[:1] == ["repos"]:
            return self._image(rest)
        if rest[:1] == ["resultsets"]:
            return self._resultset(rest, request)
        if rest == ["jobs"] and request.method == "POST":
            return self.submit(request.json())
        if rest == ["jobs"] and request.method == "GET":
            return self.list_jobs(request)
        if rest[:1] == ["jobs"] and len(rest) == 2:
            job = self.jobs.get(int(rest[1]))
            if job is None:
                return Reply(404, {"requestStatus": {"statusCode": "NOT_FOUND"}})
            if request.method == "DELETE":
                if job["jobStatus"]["status"] not in ("FINISHED_SUCCESS", "FAILED"):
                    job["jobStatus"].update(status="KILLED_BY_USER",
                                            statusDetails="killed by the user")
                return Reply(200, {"requestStatus": {"statusCode": "SUCCESS"}})
            return Reply(200, {"job": job, "jobStatusHistory": [],
                                "requestStatus": {"statusCode": "SUCCESS"}})
        require(False, f"unexpected {request.method} {request.path}")
        raise AssertionError

    def _resultset(self, rest: list[str], request: Request) -> Reply:
        """A job's result set (its log file, joblog.log); the log is what `logs[job]` says."""
        number = int(rest[1])
        require(number in self.jobs, f"no result set {number}")
        if rest[-2:] == ["file", "joblog.log"]:
            require(request.arg("log-order") == "LAST", "log asked without tail")
            lines = self.logs.get(number, [])[-int(request.arg("lines") or 10):]
            return Reply(200, "".join(f"{x}\n" for x in lines).encode(),
                          {"Content-Type": "application/octet-stream"})
        return Reply(200, {"resultset": {"id": str(number), "replicaId": 0,
                                          "files": ["joblog.log"]},
                            "requestStatus": {"statusCode": "SUCCESS"}})

    def _ace(self) -> dict[str, Any]:
        return {"name": self.ace, "id": 357, "instances": [
            {"name": name, "type": "GPU", "gpus": 1} for name in self.instances]}

    def _image(self, rest: list[str]) -> Reply:
        repo = "/".join(rest[1:rest.index("images")])
        require(repo == self.image_repo.rsplit("/", 1)[1], f"unknown image repository {repo}")
        if rest[-1] == "images":
            return Reply(200, {"images": [{"tag": self.image_tag}], "paginationInfo": PAGING})
        require(rest[-1] == self.image_tag, f"unknown tag {rest[-1]}")
        return Reply(200, {"tag": self.image_tag})

    def submit(self, body: dict[str, Any]) -> Reply:
        require(body.get("aceName") == self.ace, f"aceName {body.get('aceName')!r}")
        require(body.get("aceInstance") in self.instances, f"instance {body.get('aceInstance')}")
        require(body.get("dockerImageName") == f"{self.image_repo}:{self.image_tag}",
                f"image {body.get('dockerImageName')!r}")
        require(body.get("command"), "no command")
        require(body.get("resultContainerMountPoint"), "no result mount point")
        require(body.get("workspaceMounts"), "no workspace mounts")
        require(body.get("jobPriority") in ("LOW", "NORMAL", "HIGH"), "no priority")
        require(any(str(x).startswith("orbitfarm_") for x in body.get("userLabels") or []),
                "the job carries no orbitfarm label")
        number = next(self.numbers)
        self.created.append(body)
        self.jobs[number] = {"id": number, "orgName": self.org, "teamName": self.team,
                             "aceName": self.ace, "labels": body.get("userLabels"),
                             "jobDefinition": body,
                             "jobStatus": {"status": "CREATED", "jobId": number}}
        return Reply(200, {"job": self.jobs[number],
                            "requestStatus": {"statusCode": "SUCCESS"}})

    def list_jobs(self, request: Request) -> Reply:
        wanted = request.arg("includeLabels", "")
        require(request.arg("filter") == "FILTER_BY_LABELS" and wanted,
                "jobs listed without orbitfarm's label")
        require(request.arg("fromDate"), "no fromDate")
        jobs = [j for j in self.jobs.values() if wanted in (j["labels"] or [])]
        return Reply(200, {"jobs": jobs, "paginationInfo": dict(PAGING, totalResults=len(jobs)),
                            "requestStatus": {"statusCode": "SUCCESS"}})

    def set_status(self, number: int, status: str, details: str = "") -> None:
        with self.lock:
            self.jobs[number]["jobStatus"].update(status=status, statusDetails=details)
