"""The accsyn compute job of one group of subjects: a pure function of its parameters.

accsyn splits a job's `range` into buckets of `task_bucketsize` items and runs its compute app
once per bucket with the bucket in ACCSYN_ITEM (e.g. "5-8"). orbitfarm's range is the frames of
the plan chunks sent and the bucket size is the plan's chunk size, so accsyn's buckets are
exactly orbitfarm's chunks (every chunk but the last is full); the node script (`input`) turns
the bucket's first frame back into the plan index (bucket_pick()).

Paths in the payload are this machine's; accsyn's own path conversion maps them with
`mapped_share_paths` (from the profile's path_map, per OS). The node script itself is written
for the nodes (input_conversion: never).
"""

from __future__ import annotations

import platform
from typing import Any

from ..pathmap import NODE_OS_NAMES
from .ranges import to_accsyn


def submitter_os() -> str:
    """accsyn's name for this machine's OS (the payload's remote_os)."""
    return {"Darwin": "mac", "Windows": "windows"}.get(platform.system(), "linux")


def mapped_share_paths(path_map: Any) -> list[dict[str, str]]:
    """accsyn's mapped_share_paths from orbitfarm's path_map: `remote` is this machine's path,
    `local` the nodes' (per `os` when the entry names one)."""
    out: list[dict[str, str]] = []
    for entry in path_map or []:
        if entry.get("remote"):
            out.append({"remote": str(entry["local"]), "local": str(entry["remote"])})
        for os_name in NODE_OS_NAMES:
            if entry.get(os_name):
                out.append({"remote": str(entry["local"]), "local": str(entry[os_name]),
                            "os": os_name})
    return out


def bucket_pick(first_frames: dict[int, int]) -> list[str]:
    """Shell lines setting $PLAN_INDEX from $ACCSYN_ITEM's first frame (first frame of each
    chunk sent -> its plan index); an item orbitfarm did not send fails the task loudly."""
    table = " ".join(f"[{frame}]={index}" for frame, index in sorted(first_frames.items()))
    return [
        f"declare -A PLAN_INDEX_BY_FIRST_FRAME=({table})",
        'ITEM_FIRST=${ACCSYN_ITEM%%[-,x ]*}',
        'PLAN_INDEX=${PLAN_INDEX_BY_FIRST_FRAME[$ITEM_FIRST]:-}',
        'if [[ -z $PLAN_INDEX ]]; then',
        '    echo "orbitfarm: accsyn item ${ACCSYN_ITEM:-(unset)} is not a chunk of this job" >&2',
        "    exit 2",
        "fi",
    ]


def compute_job(*, code: str, app: str, script: str, output: str, frames: list[int],
                bucket: int, dependencies: list[str], envs: dict[str, dict[str, str]],
                path_map: Any, filters: str = "", settings: dict[str, Any] | None = None,
                parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The create("Compute", ...) payload (see the module doc)."""
    job: dict[str, Any] = {
        "code": code,
        "app": app,
        "input": script,
        "output": output,
        "range": to_accsyn(frames),
        "dependencies": sorted(dependencies),
        "settings": {**(settings or {}), "task_bucketsize": str(bucket)},
        "parameters": {
            **(parameters or {}),
            "input_conversion": "never",
            "remote_os": submitter_os(),
            "mapped_share_paths": mapped_share_paths(path_map),
            "envs": envs,
        },
    }
    if filters:
        job["filters"] = filters
    return job


def filters_text(value: Any) -> str:
    """The profile's filters (a list or a comma separated string) as accsyn's one string."""
    if not value:
        return ""
    items = value if isinstance(value, list) else str(value).split(",")
    return ",".join(str(i).strip() for i in items if str(i).strip())
