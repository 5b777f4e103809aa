"""BatchCompute profile options and the job description orbitfarm submits: pure, no SDK needed.

One BatchCompute job per submission, type DAG, with one task `render` whose InstanceCount is the
number of orbitfarm tasks: instance i (BATCH_COMPUTE_DAG_INSTANCE_ID, set by the service) runs
the i-th plan index of the submission. The frame splitting of the seed's Blender app is
orbitfarm's own chunking. The docker image runs on an auto cluster (an ECS instance type and
image) or a named cluster; OSS paths are mounted (the job directory among them, seen at the
path_map's remote side); stdout/stderr go to OSS; each instance is retried `retries` times by
the service. JobFailOnInstanceFail is off: one bad task never stops the others. The dict uses
the API's field names: `--dry-run` writes it, submit hands it to the SDK's JobDescription.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields
from typing import Any

from ..base import TargetError
from ..cloud import ALIBABA_CREDENTIALS, profile_values
from ..container_line import NodeView, container_line

TASK_NAME = "render"
INSTANCE_VARIABLE = "BATCH_COMPUTE_DAG_INSTANCE_ID"


@dataclass(frozen=True)
class Mount:
    source: str  # oss://bucket/prefix/ (or a NAS path)
    destination: str  # where the container sees it
    write: bool = True

    @classmethod
    def from_profile(cls, entry: Any) -> Mount:
        if not isinstance(entry, dict) or not entry.get("source") or not entry.get("destination"):
            raise TargetError(f"mounts entry {entry!r} needs 'source' (oss://bucket/prefix/) "
                              "and 'destination' (its path in the container)")
        return cls(str(entry["source"]), str(entry["destination"]), bool(entry.get("write", True)))


@dataclass(frozen=True)
class BcsOptions:
    """The profile's keys (kind: batchcompute); unknown keys are refused."""

    image: str = ""  # docker image, e.g. localhost:5000/orbitfarm-blender
    registry_oss_path: str | None = None  # where BatchCompute's docker registry keeps it
    logs: str = ""  # oss://bucket/prefix/ for stdout and stderr
    region: str = "cn-hangzhou"
    endpoint: str | None = None  # host[:port]; default batchcompute.<region>.aliyuncs.com
    protocol: str = "https"
    cluster: str | None = None  # a named cluster (cls-...), else auto_cluster
    auto_cluster: dict[str, Any] = field(default_factory=dict)  # instance_type, ecs_image, ...
    mounts: tuple[Mount, ...] = ()
    retries: int = 0  # MaxRetryCount per instance (the service's own retry)
    timeout: int = 86400  # seconds per instance
    priority: int = 1
    env: dict[str, str] = field(default_factory=dict)
    setup: tuple[str, ...] = ()

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> BcsOptions:
        values = profile_values("batchcompute", profile, (f.name for f in fields(cls)),
                                ALIBABA_CREDENTIALS)
        try:
            values["mounts"] = tuple(Mount.from_profile(e) for e in profile.get("mounts") or [])
            return cls(**values).validate()
        except (TargetError, TypeError, ValueError) as exc:
            raise TargetError(f"batchcompute profile {profile.get('name', '')!r}: {exc}") from None

    def validate(self) -> BcsOptions:
        if not self.image or any(c.isspace() for c in self.image):
            raise TargetError("image is required: the docker image with Blender or bpy")
        if not self.logs.startswith("oss://"):
            raise TargetError("logs must be an oss:// folder for the instances' stdout/stderr")
        if not self.cluster and not self.auto_cluster.get("instance_type"):
            raise TargetError("give cluster (cls-...) or auto_cluster: {instance_type: ..., "
                              "ecs_image: ...}")
        if self.protocol not in ("http", "https"):
            raise TargetError(f"protocol must be http or https, got {self.protocol!r}")
        if int(self.retries) < 0 or int(self.timeout) < 1:
            raise TargetError("retries must be >= 0 and timeout >= 1 second")
        return self

    @property
    def host_and_port(self) -> tuple[str, int]:
        host, _, port = (self.endpoint or f"batchcompute.{self.region}.aliyuncs.com"
                         ).partition(":")
        return host, int(port or (443 if self.protocol == "https" else 80))


def job_name(job_id: str, number: int) -> str:
    return f"orbitfarm-{job_id}-s{number}"


def job_description(opts: BcsOptions, view: NodeView, *, name: str,
                    indices: list[int]) -> dict[str, Any]:
    """The CreateJob body: a DAG of one task whose instance i runs indices[i]."""
    line = container_line(view, list(opts.setup), indices, INSTANCE_VARIABLE)
    logs = opts.logs.rstrip("/") + "/"
    envs = dict(opts.env)
    if opts.registry_oss_path:
        envs["BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH"] = opts.registry_oss_path
    task: dict[str, Any] = {
        "InstanceCount": len(indices),
        "MaxRetryCount": int(opts.retries),
        "Timeout": int(opts.timeout),
        "Parameters": {
            "Command": {"CommandLine": f"sh -c {shlex.quote(line)}", "PackagePath": "",
                        "EnvVars": envs, "Docker": {"Image": opts.image}},
            "StdoutRedirectPath": f"{logs}{name}/stdout/",
            "StderrRedirectPath": f"{logs}{name}/stderr/",
        },
        "Mounts": {"Entries": [{"Source": m.source, "Destination": m.destination,
                                "WriteSupport": m.write} for m in opts.mounts]},
    }
    if opts.cluster:
        task["ClusterId"] = opts.cluster
    else:
        auto = opts.auto_cluster
        task["AutoCluster"] = {
            "InstanceType": str(auto["instance_type"]),
            "ECSImageId": str(auto.get("ecs_image") or ""),
            "ResourceType": str(auto.get("resource_type") or "OnDemand"),
        }
    return {
        "Name": name,
        "Description": f"orbitfarm plan indices of submission {name}",
        "Type": "DAG",
        "Priority": int(opts.priority),
        "JobFailOnInstanceFail": False,
        "AutoRelease": False,
        "DAG": {"Tasks": {TASK_NAME: task}, "Dependencies": {}},
    }
