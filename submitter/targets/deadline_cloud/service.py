"""The Deadline Cloud calls orbitfarm makes, through the official `deadline` library (and the
boto3 client it configures): imported only when called, so nothing contacts AWS at import.

Credentials come from the `deadline` configuration's AWS profile or boto3's default chain
(environment, ~/.aws, Deadline Cloud monitor login); orbitfarm never reads, stores or logs them.
`AWS_ENDPOINT_URL_DEADLINE` redirects every call (the tests' stand-in uses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base import TargetError


@dataclass
class TaskView:
    """One Deadline Cloud task of a step, as ListTasks (and GetSessionAction) report it."""

    task_id: str
    index: int  # the OpenJD Index parameter = orbitfarm's plan index
    run_status: str  # PENDING, READY, ..., RUNNING, SUCCEEDED, FAILED, CANCELED, ...
    session_status: str = ""  # the latest session action's: FAILED, INTERRUPTED, ...
    exit_code: int | None = None
    message: str = ""


def _sdk_error(action: str, exc: Exception) -> TargetError:
    return TargetError(f"Deadline Cloud {action} failed: {exc}")


@dataclass
class DeadlineService:
    """One farm and queue, reached with the `deadline` library's session."""

    farm_id: str
    queue_id: str
    aws_profile: str | None = None
    _client: Any = None

    def _config(self) -> Any:
        try:
            from deadline.client.config import config_file
        except ImportError as exc:
            raise TargetError("the deadline-cloud target needs the `deadline` package "
                              f"(pip install deadline openjd-model): {exc}") from None
        # A copy of the user's settings; orbitfarm never writes the user's config file.
        config = config_file.read_config()
        config_file.set_setting("defaults.farm_id", self.farm_id, config=config)
        config_file.set_setting("defaults.queue_id", self.queue_id, config=config)
        if self.aws_profile:
            config_file.set_setting("defaults.aws_profile_name", self.aws_profile, config=config)
        return config

    @property
    def client(self) -> Any:
        if self._client is None:
            from deadline.client import api

            self._client = api.get_boto3_client("deadline", config=self._config())
        return self._client

    def submit_bundle(self, bundle_dir: str, known_paths: list[str], priority: int,
                      max_retries_per_task: int) -> str:
        """create_job_from_job_bundle(); the new job's id."""
        from deadline.client import api

        messages: list[str] = []
        try:
            job_id = api.create_job_from_job_bundle(
                bundle_dir, config=self._config(), queue_parameter_definitions=None,
                priority=priority, max_retries_per_task=max_retries_per_task,
                known_asset_paths=known_paths, submitter_name="orbitfarm",
                print_function_callback=messages.append,
                # The asset references are orbitfarm's own job folders: nothing to confirm.
                interactive_confirmation_callback=lambda message, default: True)
        except Exception as exc:  # botocore, deadline and OpenJD errors alike
            raise _sdk_error("CreateJob", exc) from None
        if not job_id:
            raise TargetError("Deadline Cloud did not return a job id: " + " ".join(messages))
        return str(job_id)

    def step_id(self, job_id: str) -> str:
        try:
            steps = self.client.list_steps(farmId=self.farm_id, queueId=self.queue_id,
                                           jobId=job_id)["steps"]
        except Exception as exc:
            raise _sdk_error("ListSteps", exc) from None
        if not steps:
            raise TargetError(f"Deadline Cloud job {job_id} has no step")
        return str(steps[0]["stepId"])

    def tasks(self, job_id: str, step_id: str) -> list[TaskView]:
        """Every task of the step (all pages), failed ones with their session action's why."""
        found: list[TaskView] = []
        try:
            pages = self.client.get_paginator("list_tasks").paginate(
                farmId=self.farm_id, queueId=self.queue_id, jobId=job_id, stepId=step_id)
            for page in pages:
                for task in page["tasks"]:
                    index = int(task["parameters"]["Index"]["int"])
                    view = TaskView(str(task["taskId"]), index, str(task["runStatus"]))
                    action = task.get("latestSessionActionId")
                    if view.run_status in ("FAILED", "CANCELED") and action:
                        self._explain(job_id, str(action), view)
                    found.append(view)
        except TargetError:
            raise
        except Exception as exc:
            raise _sdk_error("ListTasks", exc) from None
        return found

    def _explain(self, job_id: str, action_id: str, view: TaskView) -> None:
        got = self.client.get_session_action(farmId=self.farm_id, queueId=self.queue_id,
                                             jobId=job_id, sessionActionId=action_id)
        view.session_status = str(got.get("status", ""))
        view.exit_code = got.get("processExitCode")
        view.message = str(got.get("progressMessage") or "")

    def cancel_job(self, job_id: str) -> None:
        try:
            self.client.update_job(farmId=self.farm_id, queueId=self.queue_id, jobId=job_id,
                                   targetTaskRunStatus="CANCELED")
        except Exception as exc:
            raise _sdk_error("UpdateJob", exc) from None

    def cancel_task(self, job_id: str, step_id: str, task_id: str) -> None:
        try:
            self.client.update_task(farmId=self.farm_id, queueId=self.queue_id, jobId=job_id,
                                    stepId=step_id, taskId=task_id, targetRunStatus="CANCELED")
        except Exception as exc:
            raise _sdk_error("UpdateTask", exc) from None
