"""A `kind: kubernetes` profile, validated: what every manifest is built from.

Profile keys (the issue's contract, extended):
    context (kubeconfig context; default current), namespace (default), image (required: a
    Blender or Python+bpy image), blender: /path/in/image or python: /path/in/image (default
    `blender`), gpus (1; 0 for none) with gpu_resource (nvidia.com/gpu), cpus and mem
    (requests; mem is also the limit), cpus_limit / mem_limit (override the limits),
    volume: {claim: NAME | nfs: "server:/export" | host_path: /dir, path: /mount/in/pod,
    read_only: false}, path_map: [{local, remote}], parallelism, time (per task, like SLURM's;
    becomes the pod's activeDeadlineSeconds), node_selector: {k: v}, tolerations: [...],
    priority_class, service_account, image_pull_secrets: [names], setup: [shell lines],
    labels: {k: v}, mode: auto | indexed | pods (auto: Indexed Jobs on servers >= 1.24, one
    pod per task before), server_version (what --dry-run builds for; default: newest),
    escalate_mem (factor per retry), max_completions (split Jobs above it; default 100000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from ..base import TargetError
from ..pathmap import PathMap
from ..slurm.units import UnitError, parse_time
from .quantities import QuantityError, parse_quantity

MODES = ("auto", "indexed", "pods")
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
MAX_INDEXED_COMPLETIONS = 100_000  # the API's limit on completions of an Indexed Job
NEWEST_SERVER = (1, 37)

_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_RESOURCE_NAME = re.compile(r"^([a-z0-9.-]+/)?[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", re.I)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")

# Profile keys that belong to the target rather than to the manifests.
_TARGET_KEYS = {"kind", "name", "notify", "description", "context", "path_map",
                "escalate_mem", "server_version"}


@dataclass
class Volume:
    """How the job directory reaches the pods."""

    kind: str  # claim | nfs | host_path
    source: str  # claim name, "server:/export", or host directory
    path: str  # mount path in the pod
    read_only: bool = False

    @classmethod
    def from_profile(cls, value: Any) -> Volume | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise TargetError("volume must be a mapping like {claim: NAME, path: /shared}")
        kinds = [k for k in ("claim", "nfs", "host_path") if value.get(k)]
        unknown = sorted(set(value) - {"claim", "nfs", "host_path", "path", "read_only"})
        if len(kinds) != 1 or unknown:
            raise TargetError(f"volume {value!r} needs exactly one of claim, nfs, host_path "
                              "(and path: where pods mount it)")
        path = str(value.get("path") or "")
        if not path.startswith("/"):
            raise TargetError(f"volume {value!r}: path must be the absolute mount point in pods")
        source = str(value[kinds[0]])
        if kinds[0] == "nfs" and (":" not in source or not source.split(":", 1)[1].startswith("/")):
            raise TargetError(f"volume nfs {source!r} must be SERVER:/export/path")
        if kinds[0] == "claim" and not _DNS_NAME.match(source):
            raise TargetError(f"volume claim {source!r} is not a valid claim name")
        return cls(kinds[0], source, path, bool(value.get("read_only", False)))


@dataclass
class KubeOptions:
    """The manifest side of a Kubernetes profile (validated)."""

    image: str = ""
    namespace: str = "default"
    blender: str | None = None
    python: str | None = None
    gpus: int | str = 1
    gpu_resource: str = DEFAULT_GPU_RESOURCE
    cpus: int | float | str | None = None
    mem: str | None = None
    cpus_limit: int | float | str | None = None
    mem_limit: str | None = None
    volume: Volume | None = None
    parallelism: int | None = None
    time: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    priority_class: str | None = None
    service_account: str | None = None
    image_pull_secrets: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    mode: str = "auto"
    max_completions: int = MAX_INDEXED_COMPLETIONS

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> KubeOptions:
        """Raise TargetError naming the bad key; unknown keys are refused (typos)."""
        name = profile.get("name", "")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(profile) - names - _TARGET_KEYS)
        if unknown:
            raise TargetError(f"kubernetes profile {name!r}: unknown key(s) {', '.join(unknown)}"
                              f" (known: {', '.join(sorted(names | _TARGET_KEYS))})")
        values = {k: v for k, v in profile.items() if k in names and v is not None}
        for key in ("setup", "image_pull_secrets"):
            if isinstance(values.get(key), str):
                values[key] = [values[key]]
        try:
            values["volume"] = Volume.from_profile(profile.get("volume"))
            return cls(**values).validate()
        except TargetError as exc:
            raise TargetError(f"kubernetes profile {name!r}: {exc}") from None
        except TypeError as exc:
            raise TargetError(f"kubernetes profile {name!r}: {exc}") from None

    def validate(self) -> KubeOptions:
        if not self.image or any(c.isspace() for c in self.image):
            raise TargetError("image is required: a Blender or Python+bpy image, "
                              "e.g. registry.example.org/blender:4.5")
        if not _DNS_NAME.match(self.namespace) or len(self.namespace) > 63:
            raise TargetError(f"namespace {self.namespace!r} is not a valid namespace name")
        if self.mode not in MODES:
            raise TargetError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not _RESOURCE_NAME.match(self.gpu_resource):
            raise TargetError(f"gpu_resource {self.gpu_resource!r} is not a resource name "
                              "like nvidia.com/gpu")
        try:
            gpus = parse_quantity(self.gpus)
            if gpus < 0 or gpus != int(gpus):
                raise TargetError(f"gpus must be a whole number >= 0, got {self.gpus!r}")
            for key in ("cpus", "mem", "cpus_limit", "mem_limit"):
                value = getattr(self, key)
                if value is not None and parse_quantity(value) <= 0:
                    raise TargetError(f"{key} must be > 0, got {value!r}")
        except QuantityError as exc:
            raise TargetError(str(exc)) from None
        if self.time is not None:
            try:
                parse_time(self.time)
            except UnitError as exc:
                raise TargetError(str(exc)) from None
        for key in ("parallelism", "max_completions"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise TargetError(f"{key} must be a whole number >= 1, got {value!r}")
        for key, mapping in (("node_selector", self.node_selector), ("labels", self.labels)):
            if not isinstance(mapping, dict):
                raise TargetError(f"{key} must be a mapping of label keys to values")
            for k, v in mapping.items():
                if not _LABEL_KEY.match(str(k)) or not _LABEL_VALUE.match(str(v)):
                    raise TargetError(f"{key} entry {k}: {v} is not a valid label")
        if not isinstance(self.tolerations, list) or not all(
                isinstance(t, dict) for t in self.tolerations):
            raise TargetError("tolerations must be a list of mappings "
                              "(key, operator, value, effect)")
        for key in ("priority_class", "service_account"):
            value = getattr(self, key)
            if value is not None and not _DNS_NAME.match(str(value)):
                raise TargetError(f"{key} {value!r} is not a valid object name")
        for secret in self.image_pull_secrets:
            if not _DNS_NAME.match(str(secret)):
                raise TargetError(f"image_pull_secrets entry {secret!r} is not a secret name")
        for line in self.setup:
            if not isinstance(line, str) or "\0" in line:
                raise TargetError(f"setup entries must be shell lines, got {line!r}")
        return self

    @property
    def time_seconds(self) -> int | None:
        return parse_time(self.time) if self.time is not None else None


def path_map(profile: dict[str, Any]) -> PathMap:
    """The profile's path_map; with a volume and no path_map, none (paths are the same)."""
    return PathMap.from_profile(profile.get("path_map"))


def parse_server_version(text: str | tuple[int, int] | None) -> tuple[int, int]:
    """'1.27', 'v1.20.2', (1, 27) -> (1, 27); None -> the newest this code knows."""
    if text is None:
        return NEWEST_SERVER
    if isinstance(text, tuple):
        return text
    m = _VERSION.match(str(text).strip())
    if not m:
        raise TargetError(f"server_version {text!r} is not a Kubernetes version like 1.29")
    return int(m.group(1)), int(m.group(2))
