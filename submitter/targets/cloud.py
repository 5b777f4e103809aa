"""What the cloud service targets (pai-dlc, ngc, batchcompute) share: reading their profile the
same way (unknown keys refused, credentials never accepted, setup/env normalised) and keeping
their submissions in the job directory (JOBDIR/target.json, and each submission's exact request
payloads in JOBDIR/<folder>/submission-N.json, written before anything is sent and also what
`--dry-run` leaves)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..files.atomic import atomic_write_text
from .node_env import environment
from .nodes import ClusterNodes, refuse_unknown_keys
from .task_script import INDEX_VARIABLE

if TYPE_CHECKING:
    from ..files.jobdir import JobDir

# Profile keys every cloud kind accepts besides its own (nodes.ClusterNodes reads the last three).
COMMON_KEYS = frozenset({"kind", "name", "notify", "description", "blender", "python",
                         "path_map"})


# Where the Alibaba Cloud SDKs find credentials (pai-dlc and batchcompute).
ALIBABA_CREDENTIALS = ("the Alibaba Cloud default chain (ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, "
                       "~/.alibabacloud or ~/.aliyun config, an ECS RAM role)")


def profile_values(kind: str, profile: dict[str, Any], names: Iterable[str],
                   credentials: str) -> dict[str, Any]:
    """The profile's values of `names` (None dropped), `setup` as a tuple of lines and `env`
    as the Linux nodes' variables (node_env); TargetError naming unknown keys and where credentials come from instead."""
    names = set(names)
    refuse_unknown_keys(kind, profile, names | COMMON_KEYS,
                        f"; credentials come from {credentials}, never the profile")
    values = {k: v for k, v in profile.items() if k in names and v is not None}
    setup = values.get("setup") or ()
    if "setup" in names:
        values["setup"] = tuple([setup] if isinstance(setup, str) else setup)
    if "env" in names:  # node_env's `env`, flat or per OS; the services' containers run Linux
        values["env"] = environment(profile, "linux")
    return values


class CloudSubmissions(ClusterNodes):
    """Mixed into a cloud Target: its nodes (ClusterNodes: runtime, path_map, its record in
    target.json under "submissions"), the plan index variable and its request files."""

    service: ClassVar[str]  # the service's name in messages
    folder: ClassVar[str]  # JOBDIR/<folder>: request payloads, logs the service keeps
    index_variable: ClassVar[str] = INDEX_VARIABLE  # container_line exports it

    def next_number(self, job: JobDir) -> int:
        return len(self._record(job)["submissions"]) + 1

    def write_requests(self, job: JobDir, number: int, data: Any) -> Path:
        """JOBDIR/<folder>/submission-N.json: what submission N sends."""
        folder = job.path / self.folder
        folder.mkdir(exist_ok=True)
        path = folder / f"submission-{number}.json"
        atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
        return path

    def service_log(self, job: JobDir, task_id: str, suffix: str, text: str) -> Path:
        """Save what the service logged about a task as JOBDIR/<folder>/<task>.<suffix>."""
        path = job.path / self.folder / f"{task_id}.{suffix}"
        path.parent.mkdir(exist_ok=True)
        atomic_write_text(path, text)
        return path
