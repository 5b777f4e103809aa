"""Ray's HTTP APIs as the submitter uses them: the Jobs API and the state API, over `requests`.

The dashboard address (`http://head:8265`) serves both, so the submitter needs no `ray` package
(and no matching Python or Ray version): only the cluster runs Ray. Counts calls per endpoint
(tests and the benchmark read them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..base import TargetError

DEFAULT_TIMEOUT = 30.0
# The state API's own ceiling on one list call (RAY_MAX_LIMIT_FROM_API_SERVER).
STATE_LIST_LIMIT = 10_000


@dataclass
class JobsApi:
    """Client of one Ray cluster's dashboard (Jobs API + state API)."""

    address: str
    timeout: float = DEFAULT_TIMEOUT
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.address = normalize_address(self.address)

    def _request(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        self.calls[what] += 1
        url = f"{self.address}{path}"
        try:
            response = requests.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise TargetError(f"the Ray cluster at {self.address} does not answer ({exc}); "
                              "is the head up and `address:` its dashboard (port 8265)?") from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise TargetError(f"Ray {method} {path} failed: HTTP {response.status_code}: "
                              f"{response.text.strip()[:300]}")
        return response.json() if response.content else {}

    def version(self) -> str:
        """Ray's version on the cluster (also checks the address)."""
        answer = self._request("version", "GET", "/api/version")
        if not isinstance(answer, dict) or "ray_version" not in answer:
            raise TargetError(f"{self.address} is not a Ray dashboard (no /api/version)")
        return str(answer["ray_version"])

    def submit(self, *, submission_id: str, entrypoint: str, metadata: dict[str, str],
               entrypoint_resources: dict[str, float] | None = None) -> str:
        """Start a Ray job running `entrypoint` on the head; its submission id."""
        body: dict[str, Any] = {"submission_id": submission_id, "entrypoint": entrypoint,
                                "metadata": metadata, "entrypoint_num_cpus": 0}
        if entrypoint_resources:
            body["entrypoint_resources"] = entrypoint_resources
        answer = self._request("submit", "POST", "/api/jobs/", json=body)
        if not answer:
            raise TargetError(f"Ray refused the job {submission_id}")
        return str(answer.get("submission_id") or submission_id)

    def job(self, submission_id: str) -> dict[str, Any] | None:
        """The Jobs API's record of one submission (None: Ray does not know it)."""
        return self._request("job", "GET", f"/api/jobs/{submission_id}")

    def stop(self, submission_id: str) -> None:
        """Stop the job: SIGTERM to its driver (which force-cancels its tasks), then SIGKILL."""
        self._request("stop", "POST", f"/api/jobs/{submission_id}/stop")

    def logs(self, submission_id: str) -> str:
        answer = self._request("logs", "GET", f"/api/jobs/{submission_id}/logs")
        return str((answer or {}).get("logs", ""))

    def tasks_named(self, name: str, state: str | None = None, detail: bool = False,
                    limit: int = STATE_LIST_LIMIT) -> tuple[list[dict], int]:
        """Ray tasks called `name` (one state API list call); (tasks, total Ray knows).

        Without `detail` a record has no error message and is five times smaller (10,000
        tasks: 4.9 MB instead of 25 MB); ask for details of the FAILED ones only.
        """
        keys, values = ["name"], [name]
        if state:
            keys.append("state")
            values.append(state)
        answer = self._request(
            "tasks", "GET", "/api/v0/tasks",
            params={"limit": limit, "detail": "true" if detail else "false",
                    "filter_keys": keys, "filter_predicates": ["="] * len(keys),
                    "filter_values": values})
        result = ((answer or {}).get("data") or {}).get("result") or {}
        return list(result.get("result") or []), int(result.get("total") or 0)


def normalize_address(address: str) -> str:
    """'head:8265' or 'http://head:8265/' -> 'http://head:8265'; Ray Client addresses refused."""
    text = str(address).strip().rstrip("/")
    if text.startswith("ray://"):
        raise TargetError(f"address {address!r} is a Ray Client address; give the head's "
                          "dashboard instead (http://HEAD:8265), which serves the Jobs API")
    if "://" not in text:
        text = f"http://{text}"
    return text
