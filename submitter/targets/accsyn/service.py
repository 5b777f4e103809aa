"""The accsyn calls orbitfarm makes, through the official `accsyn-python-api` (imported only
when called: nothing contacts accsyn at import).

Credentials come from accsyn's own environment variables (ACCSYN_WORKSPACE, ACCSYN_API_USER,
ACCSYN_API_KEY) or its credentials file (ACCSYN_CREDENTIALS_PATH); a profile may name the
workspace, hostname and port, never the key. Without `hostname` the library first asks accsyn's
registry where the workspace lives; ACCSYN_PROXY=host:port sends everything there over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..base import TargetError


@dataclass
class AccsynService:
    """One accsyn workspace, reached with an API session (opened on first use)."""

    workspace: str | None = None
    hostname: str | None = None
    port: int | None = None
    _session: Any = field(default=None, repr=False)

    @property
    def session(self) -> Any:
        if self._session is None:
            try:
                from accsyn_api.session import Session
            except ImportError as exc:
                raise TargetError("the accsyn target needs accsyn-python-api "
                                  f"(pip install accsyn-python-api): {exc}") from None
            try:
                self._session = Session(workspace=self.workspace, hostname=self.hostname,
                                        port=self.port)
            except Exception as exc:  # AccsynException, AssertionError, connection errors
                raise TargetError(f"cannot log in to accsyn: {exc}") from None
        return self._session

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.session, method)(*args, **kwargs)
        except TargetError:
            raise
        except Exception as exc:
            raise TargetError(f"accsyn {what} failed: {exc}") from None

    def create_compute(self, payload: dict[str, Any]) -> str:
        """create("Compute", payload); the new job's id."""
        created = self._call("create compute job", "create", "Compute", payload)
        if isinstance(created, list):
            created = created[0] if created else {}
        if not isinstance(created, dict) or not created.get("id"):
            raise TargetError(f"accsyn did not return a job id: {created!r}")
        return str(created["id"])

    def tasks(self, job_id: str) -> list[dict[str, Any]]:
        """The job's tasks (find "Task" with the job as parent), finished ones included."""
        found = self._call("task query", "find", "Task", entityid=job_id)
        return list(found or [])

    def abort_job(self, job_id: str) -> None:
        self._call("abort", "update", "job", job_id, {"status": "aborted"})

    def exclude_tasks(self, job_id: str, task_ids: list[str]) -> None:
        self._call("exclude tasks", "update_many", "task", job_id,
                   [{"id": t, "status": "excluded"} for t in task_ids])
