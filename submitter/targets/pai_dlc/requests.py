"""PAI-DLC profile options and the CreateJob payloads orbitfarm sends: pure, no SDK needed.

Payloads use the API's own field names (DisplayName, JobSpecs, UserCommand, ...), so the same
dict is what `--dry-run` writes and what the SDK's CreateJobRequest.from_map() turns into the
signed request. Two shapes (`mode:`):
- `per-task` (default; the seed's one `dlc submit` per chunk): one DLC job per orbitfarm task,
  its plan index written into the command;
- `workers`: one DLC job per submission, a PyTorchJob of one master and N-1 workers; DLC sets
  RANK 0..N-1 on them (master first), and the command turns RANK into the plan index.
The job directory is seen in the containers through the profile's data sources (a NAS or OSS
data set mounted at a path; `path_map` says where the local job directory appears there).
Credentials never appear here: the client takes them from Alibaba Cloud's default chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..base import TargetError
from ..cloud import ALIBABA_CREDENTIALS, profile_values
from ..container_line import NodeView, container_line

MODES = ("per-task", "workers")
RANK_VARIABLE = "RANK"  # DLC's PyTorchJob: 0 on the master, 1.. on worker-0, worker-1, ...
NAME_PREFIX = "orbitfarm"


@dataclass(frozen=True)
class DataSource:
    """A DLC data set (NAS, OSS, CPFS) mounted in every container at `mount`."""

    id: str
    mount: str

    @classmethod
    def from_profile(cls, entry: Any) -> DataSource:
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("mount"):
            raise TargetError(f"data_sources entry {entry!r} needs both 'id' (a DLC data set, "
                              "d-...) and 'mount' (its path in the container)")
        return cls(str(entry["id"]), str(entry["mount"]))


@dataclass(frozen=True)
class DlcOptions:
    """The profile's keys (kind: pai-dlc); unknown keys are refused."""

    image: str = ""
    region: str = "cn-hangzhou"
    endpoint: str | None = None  # default pai-dlc.<region>.aliyuncs.com
    protocol: str = "https"
    workspace: str | None = None  # WorkspaceId
    quota: str | None = None  # ResourceId of a resource quota (then cpus/memory are needed)
    ecs_spec: str | None = None  # public resources: the instance type, e.g. ecs.gn6i-c4g1.xlarge
    cpus: int | None = None
    memory: str | None = None  # e.g. 32Gi
    gpus: int = 1  # per worker (with a quota); an ecs_spec brings its own
    gpu_type: str | None = None
    job_type: str = "PyTorchJob"
    mode: str = "per-task"
    data_sources: tuple[DataSource, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    priority: int | None = None
    max_running_minutes: int | None = None
    setup: tuple[str, ...] = ()

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> DlcOptions:
        values = profile_values("pai-dlc", profile, (f.name for f in fields(cls)),
                                ALIBABA_CREDENTIALS)
        try:
            values["data_sources"] = tuple(DataSource.from_profile(e)
                                           for e in profile.get("data_sources") or [])
            return cls(**values).validate()
        except (TargetError, TypeError, ValueError) as exc:
            raise TargetError(f"pai-dlc profile {profile.get('name', '')!r}: {exc}") from None

    def validate(self) -> DlcOptions:
        if not self.image or any(c.isspace() for c in self.image):
            raise TargetError("image is required: a Blender or Python+bpy image the DLC "
                              "workspace can pull")
        if self.mode not in MODES:
            raise TargetError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.quota and not self.ecs_spec:
            raise TargetError("give ecs_spec (public resources) or quota (a resource quota "
                              "with cpus and memory)")
        if self.quota and (not self.cpus or not self.memory):
            raise TargetError("a quota needs cpus and memory per worker")
        if int(self.gpus) < 0:
            raise TargetError(f"gpus must be >= 0, got {self.gpus!r}")
        if self.protocol not in ("http", "https"):
            raise TargetError(f"protocol must be http or https, got {self.protocol!r}")
        return self

    @property
    def service_endpoint(self) -> str:
        return self.endpoint or f"pai-dlc.{self.region}.aliyuncs.com"


def display_name(job_id: str, number: int, first_index: int) -> str:
    """Names every DLC job of an orbitfarm job share a prefix: ListJobs finds them by it."""
    return f"{name_prefix(job_id)}-s{number}-i{first_index}"


def name_prefix(job_id: str) -> str:
    return f"{NAME_PREFIX}-{job_id}"


def job_spec(opts: DlcOptions, role: str, pods: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"Type": role, "Image": opts.image, "PodCount": pods}
    if opts.quota:
        resources: dict[str, Any] = {"CPU": str(opts.cpus), "Memory": str(opts.memory),
                                     "GPU": str(int(opts.gpus))}
        if opts.gpu_type:
            resources["GPUType"] = opts.gpu_type
        spec["ResourceConfig"] = resources
    else:
        spec["EcsSpec"] = opts.ecs_spec
    return spec


def create_job_payload(opts: DlcOptions, view: NodeView, *, name: str,
                       indices: list[int]) -> dict[str, Any]:
    """The CreateJob body for a DLC job running these plan indices (one, or one per pod)."""
    workers = len(indices) > 1
    if workers and opts.mode != "workers":
        raise ValueError("per-task mode runs one plan index per DLC job")
    command = container_line(view, list(opts.setup), indices,
                             RANK_VARIABLE if workers else None)
    specs = ([job_spec(opts, "Master", 1)] + ([job_spec(opts, "Worker", len(indices) - 1)])
             if workers else [job_spec(opts, "Worker", 1)])
    payload: dict[str, Any] = {
        "DisplayName": name,
        "JobType": opts.job_type,
        "JobSpecs": specs,
        "UserCommand": command,
        "Envs": dict(opts.env),
    }
    if opts.workspace:
        payload["WorkspaceId"] = opts.workspace
    if opts.quota:
        payload["ResourceId"] = opts.quota
    if opts.data_sources:
        payload["DataSources"] = [{"DataSourceId": d.id, "MountPath": d.mount}
                                  for d in opts.data_sources]
    if opts.priority is not None:
        payload["Priority"] = int(opts.priority)
    if opts.max_running_minutes:
        payload["JobMaxRunningTimeMinutes"] = int(opts.max_running_minutes)
    return payload


def pod_rank(pod: dict[str, Any]) -> int | None:
    """RANK of a pod of a workers-mode job: master-0 is 0, worker-k is k+1 (None: unknown)."""
    kind = str(pod.get("Type") or "").lower()
    tail = str(pod.get("PodId") or "").rsplit("-", 1)[-1]
    if not tail.isdigit():
        return None
    if kind == "master":
        return int(tail)
    if kind == "worker":
        return int(tail) + 1
    return None
