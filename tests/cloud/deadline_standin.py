"""A stand-in for the AWS Deadline Cloud API (the 2023-10-12 REST paths boto3 uses), enough for
orbitfarm's calls: GetQueue, ListQueueEnvironments, CreateJob, GetJob, ListSteps, ListTasks,
GetSessionAction, UpdateJob, UpdateTask. Jobs and tasks live in memory; a test moves tasks
between states with set_task(). Each request is checked as the service would: SigV4-signed with
the (fake) key, for the right farm and queue, and CreateJob's template must parse with OpenJD.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from standin import Reply, Request

FARM = "farm-" + "1" * 32
QUEUE = "queue-" + "2" * 32
_PREFIX = re.compile(rf"^/2023-10-12/farms/{FARM}/queues/{QUEUE}(?P<rest>/.*)?$")


@dataclass
class FakeTask:
    task_id: str
    index: int
    run_status: str = "READY"
    session_status: str = ""
    exit_code: int | None = None
    message: str = ""


@dataclass
class FakeJob:
    job_id: str
    step_id: str
    create: dict[str, Any]  # the CreateJob body as sent
    tasks: dict[int, FakeTask] = field(default_factory=dict)


class DeadlineStandIn:
    """The service's state and its request handler (pass .handle to the standin fixture)."""

    def __init__(self, access_key: str) -> None:
        self.access_key = access_key
        self.jobs: dict[str, FakeJob] = {}
        self._ids = itertools.count(1)

    def set_task(self, job: str, index: int, run_status: str, session_status: str = "",
                 exit_code: int | None = None, message: str = "") -> None:
        task = self.jobs[job].tasks[index]
        task.run_status, task.session_status = run_status, session_status
        task.exit_code, task.message = exit_code, message

    def handle(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith(f"AWS4-HMAC-SHA256 Credential={self.access_key}/"):
            return Reply(403, {"message": f"unsigned or wrong key: {auth[:60]!r}"},
                         {"x-amzn-ErrorType": "AccessDeniedException"})
        match = _PREFIX.match(request.path)
        if not match:
            return Reply(404, {"message": f"no such farm/queue: {request.path}"},
                         {"x-amzn-ErrorType": "ResourceNotFoundException"})
        rest = match.group("rest") or ""
        parts = rest.strip("/").split("/") if rest else []
        now = time.time()
        method = request.method
        if method == "GET" and not parts:
            return Reply(200, {"queueId": QUEUE, "farmId": FARM, "displayName": "stand-in queue",
                               "status": "IDLE", "defaultBudgetAction": "NONE",
                               "createdAt": now, "createdBy": "standin"})
        if method == "GET" and parts == ["environments"]:
            return Reply(200, {"environments": []})
        if method == "POST" and parts == ["jobs"]:
            return self._create(request.json())
        if not parts or parts[0] != "jobs" or len(parts) < 2 or parts[1] not in self.jobs:
            return Reply(404, {"message": f"unknown resource {rest}"},
                         {"x-amzn-ErrorType": "ResourceNotFoundException"})
        job = self.jobs[parts[1]]
        sub = parts[2:]
        if method == "GET" and not sub:
            return Reply(200, {"jobId": job.job_id, "name": job.create["template"][:40],
                               "lifecycleStatus": "CREATE_COMPLETE", "lifecycleStatusMessage": "",
                               "priority": job.create.get("priority", 50), "createdAt": now,
                               "createdBy": "standin"})
        if method == "PATCH" and not sub:
            body = request.json()
            if body.get("targetTaskRunStatus") == "CANCELED":
                for task in job.tasks.values():
                    if task.run_status not in ("SUCCEEDED", "FAILED"):
                        task.run_status = "CANCELED"
            return Reply(200, {})
        if method == "GET" and sub == ["steps"]:
            return Reply(200, {"steps": [{"stepId": job.step_id, "name": "Render",
                                          "lifecycleStatus": "CREATE_COMPLETE",
                                          "taskRunStatus": "READY", "taskRunStatusCounts": {},
                                          "createdAt": now, "createdBy": "standin"}]})
        if method == "GET" and sub == ["steps", job.step_id, "tasks"]:
            return Reply(200, {"tasks": [self._task(job, t, now) for t in job.tasks.values()]})
        if method == "PATCH" and sub[:3] == ["steps", job.step_id, "tasks"] and len(sub) == 4:
            body = request.json()
            for task in job.tasks.values():
                if task.task_id == sub[3]:
                    task.run_status = body["targetRunStatus"]
                    return Reply(200, {})
        if method == "GET" and len(sub) == 2 and sub[0] == "session-actions":
            task = next(t for t in job.tasks.values() if f"sessionaction-{t.task_id}" == sub[1])
            body: dict[str, Any] = {"sessionActionId": sub[1], "status": task.session_status,
                                    "sessionId": "session-" + "3" * 32,
                                    "progressMessage": task.message,
                                    "definition": {"taskRun": {"taskId": task.task_id,
                                                               "stepId": job.step_id}}}
            if task.exit_code is not None:
                body["processExitCode"] = task.exit_code
            return Reply(200, body)
        return Reply(400, {"message": f"stand-in does not know {method} {rest}"},
                     {"x-amzn-ErrorType": "ValidationException"})

    def _create(self, body: dict[str, Any]) -> Reply:
        from openjd.model import (
            DocumentType,
            StepParameterSpaceIterator,
            create_job,
            decode_job_template,
            document_string_to_object,
        )

        kind = DocumentType.YAML if body.get("templateType") == "YAML" else DocumentType.JSON
        template = decode_job_template(
            template=document_string_to_object(document=body["template"], document_type=kind))
        number = next(self._ids)
        job_id = f"job-{number:032x}"
        job = FakeJob(job_id, f"step-{number:032x}", body)
        # The tasks the service would make: OpenJD's own expansion of the step's parameter space.
        created = create_job(job_template=template, job_parameter_values={})
        for task in StepParameterSpaceIterator(space=created.steps[0].parameterSpace):
            index = int(task["Index"].value)
            job.tasks[index] = FakeTask(f"task-{number:032x}-{index}", index)
        self.jobs[job_id] = job
        return Reply(201, {"jobId": job_id})

    @staticmethod
    def _task(job: FakeJob, task: FakeTask, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"taskId": task.task_id, "runStatus": task.run_status,
                               "createdAt": now, "createdBy": "standin",
                               "parameters": {"Index": {"int": str(task.index)}},
                               "failureRetryCount": 0}
        if task.session_status:
            out["latestSessionActionId"] = f"sessionaction-{task.task_id}"
        return out


def created_templates(standin_server) -> list[dict[str, Any]]:
    """The CreateJob bodies the stand-in received, in order."""
    return [json.loads(r.body) for r in standin_server.calls("POST", "/jobs")]
