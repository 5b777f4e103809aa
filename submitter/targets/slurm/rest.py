"""A slurmrestd client (requests): submit, status and cancel job arrays over HTTP.

For workstations that reach the cluster's REST endpoint but have no shell on it. Auth is a JWT
sent as X-SLURM-USER-NAME / X-SLURM-USER-TOKEN; the token comes from $SLURM_JWT or the
profile's `token_command` (default `scontrol token`) at run time and is never written anywhere.

slurmrestd ignores `#SBATCH` lines, so the options travel as job fields. The payload shape is
v0.0.38's (tested against Slurm 22.05); v0.0.39+ wrap numbers as {set, number} and take the
environment as a list, which `job_fields` and the parsers also handle.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import subprocess
from typing import Any

from ..base import TargetError
from .commands import ElementState, Key, expand_array_id
from .script import SlurmOptions
from .units import parse_mem, parse_time

DEFAULT_TOKEN_COMMAND = "scontrol token"
_VERSION_PATH = re.compile(r"^/slurm/v(\d+)\.(\d+)\.(\d+)/job/submit$")
_NEW_SHAPE = (0, 0, 39)  # from this version on numbers are {set, number} objects


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.lstrip("v").split("."))


def _number(value: Any) -> int | None:
    """v0.0.38 plain ints and v0.0.39+ {"set": true, "number": N} alike."""
    if isinstance(value, dict):
        return int(value["number"]) if value.get("set", True) and "number" in value else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _wrap(value: int, version: str) -> Any:
    if _version_tuple(version) >= _NEW_SHAPE:
        return {"set": True, "infinite": False, "number": value}
    return value


def job_fields(options: SlurmOptions, *, name: str, array: str, cwd: str, version: str,
               environment: dict[str, str] | None = None) -> dict[str, Any]:
    """The "job" object of a submit request for these options (pure; tested as data)."""
    if options.extra_sbatch:
        raise TargetError("extra_sbatch lines cannot travel through the REST API (slurmrestd "
                          "ignores #SBATCH lines); use the named options or submit via ssh")
    for unsupported in ("exclude", "nodelist"):
        if getattr(options, unsupported):
            raise TargetError(f"{unsupported} is not available through slurmrestd "
                              f"{version}; remove it from the profile or submit via ssh")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **(environment or {})}
    new_shape = _version_tuple(version) >= _NEW_SHAPE
    job: dict[str, Any] = {
        "name": name,
        "array": array,
        "current_working_directory": cwd,
        "standard_output": "slurm/%A_%a.out",
        "environment": [f"{k}={v}" for k, v in env.items()] if new_shape else env,
        "time_limit": _wrap(max(1, -(-parse_time(options.time) // 60)), version),
    }
    if options.gres:
        gres = options.gres
    elif options.gpus not in (None, 0, "0", ""):
        gres = f"gpu:{options.gpus}"
    else:
        gres = ""
    if gres:
        job["tres_per_node" if new_shape else "gres"] = f"gres/{gres}" if new_shape else gres
    for key, field in (("partition", "partition"), ("account", "account"), ("qos", "qos"),
                       ("constraint", "constraints")):
        value = getattr(options, key)
        if value:
            job[field] = value
    if options.cpus_per_task:
        job["cpus_per_task"] = options.cpus_per_task
    if options.mem:
        job["memory_per_node"] = _wrap(parse_mem(options.mem), version)
    return job


def element_from_rest(job: dict[str, Any]) -> tuple[list[Key], ElementState]:
    """One job record of GET /job/{id} -> the array elements it covers and their state."""
    state = job.get("job_state")
    if isinstance(state, list):
        state = state[0] if state else "UNKNOWN"
    raw = job.get("exit_code")
    code = sig = None
    if isinstance(raw, dict):  # v0.0.39+: {"status": [...], "return_code": N, "signal": {...}}
        code = _number(raw.get("return_code"))
        sig = _number((raw.get("signal") or {}).get("id"))
    elif raw is not None and _number(raw) is not None:
        status = _number(raw) or 0  # v0.0.38: the raw wait status
        code, sig = (status >> 8) & 0xFF, (status & 0x7F) or None
    element = ElementState(str(state or "UNKNOWN"), str(job.get("state_reason") or ""), code, sig)
    array_job = str(_number(job.get("array_job_id")) or _number(job.get("job_id")) or "")
    task = _number(job.get("array_task_id"))
    if task is not None and not job.get("array_task_string"):
        return [(array_job, task)], element
    spec = str(job.get("array_task_string") or "")
    return expand_array_id(f"{array_job}_[{spec}]") if spec else [], element


class RestClient:
    """slurmrestd at `url` for `user`, with a token fetched per client (never stored)."""

    def __init__(self, settings: dict[str, Any], timeout: float = 30.0) -> None:
        if not isinstance(settings, dict) or not settings.get("url"):
            raise TargetError("rest: needs at least url, e.g. rest: {url: http://login:6820}")
        self.url = str(settings["url"]).rstrip("/")
        self.user = str(settings.get("user") or os.environ.get("SLURM_USER") or getpass.getuser())
        self.token_command = str(settings.get("token_command") or DEFAULT_TOKEN_COMMAND)
        self.environment = dict(settings.get("environment") or {})
        self._version = str(settings["api_version"]).lstrip("v") if settings.get(
            "api_version") else None
        self.timeout = timeout
        self._token: str | None = None
        self.calls = 0

    def token(self) -> str:
        """$SLURM_JWT, else the output of token_command ('SLURM_JWT=...' or the bare token)."""
        if self._token:
            return self._token
        token = os.environ.get("SLURM_JWT", "")
        if not token:
            try:
                proc = subprocess.run(shlex.split(self.token_command), capture_output=True,
                                      text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TargetError(f"token_command `{self.token_command}` failed: {exc}") from None
            if proc.returncode != 0:
                raise TargetError(f"token_command `{self.token_command}` failed: "
                                  f"{proc.stderr.strip()[-200:]}")
            token = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            token = token.split("=", 1)[1] if token.startswith("SLURM_JWT=") else token
        if not token:
            raise TargetError("no SLURM token: set SLURM_JWT or token_command in the profile")
        self._token = token
        return token

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        headers = {"X-SLURM-USER-NAME": self.user, "X-SLURM-USER-TOKEN": self.token()}
        self.calls += 1
        try:
            response = requests.request(method, self.url + path, headers=headers,
                                        timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise TargetError(f"slurmrestd at {self.url} is unreachable: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        errors = [e for e in (data.get("errors") or []) if e.get("error_number", 1)]
        if response.status_code >= 400 or errors:
            detail = "; ".join(str(e.get("error") or e.get("description") or e) for e in errors)
            raise TargetError(f"slurmrestd {method} {path}: HTTP {response.status_code} "
                              f"{detail or response.text.strip()[:200]}")
        return data

    def version(self) -> str:
        """The configured API version, else the highest `/slurm/vX/job/submit` the server has."""
        if self._version is None:
            paths = self._request("GET", "/openapi").get("paths") or {}
            found = [m.groups() for p in paths if (m := _VERSION_PATH.match(p))]
            if not found:
                raise TargetError(f"slurmrestd at {self.url} offers no /slurm/vX/job/submit; "
                                  "set rest.api_version in the profile")
            self._version = ".".join(max(found, key=lambda g: tuple(int(x) for x in g)))
        return self._version

    def use_version(self, version: str) -> None:
        """Use this API version unless the profile configured one."""
        if self._version is None:
            self._version = str(version).lstrip("v")

    def submit(self, script: str, job: dict[str, Any]) -> str:
        """POST job/submit; returns the job id."""
        data = self._request("POST", f"/slurm/v{self.version()}/job/submit",
                             json={"script": script, "job": job})
        job_id = _number(data.get("job_id"))
        if job_id is None:
            raise TargetError(f"slurmrestd returned no job id: {str(data)[:200]}")
        return str(job_id)

    def states(self, job_ids: list[str]) -> dict[Key, ElementState]:
        """Element states of these arrays (one GET per array; purged arrays are skipped)."""
        states: dict[Key, ElementState] = {}
        for job in job_ids:
            try:
                data = self._request("GET", f"/slurm/v{self.version()}/job/{job}")
            except TargetError as exc:
                if "Invalid job id" in str(exc) or "HTTP 404" in str(exc):
                    continue
                raise
            for record in data.get("jobs") or []:
                keys, element = element_from_rest(record)
                for key in keys:
                    states[key] = element
        return states

    def cancel(self, ids: list[str]) -> None:
        """DELETE each job id (an array id cancels the whole array)."""
        for job in ids:
            self._request("DELETE", f"/slurm/v{self.version()}/job/{job}")
