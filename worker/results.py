"""A subject's output files: layout, transforms.json, and result.json merged under a lock.

The layout under DIR/<blend stem>/ is submitter/files/layout.py's. Several tasks may render different frame chunks of one
subject at once: transforms.json is a pure function of the file and the settings (so every chunk
writes identical bytes) and result.json is read-modified-written under an flock.
No bpy here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..submitter.files.atomic import atomic_write_json
from ..submitter.files.layout import (  # noqa: F401 (re-exported for the pipeline)
    TRANSFORMS_FILE as TRANSFORMS,
)
from ..submitter.files.layout import depth_path, frame_name, rgb_path  # noqa: F401
from ..submitter.files.result import read_result, update_result  # noqa: F401 (re-exported)

NO_HIT_DEPTH = 1e10  # depth of pixels whose ray hits nothing (Cycles' background value)


def pass_path(out: str | Path, folder: str, ext: str, frame: int) -> Path:
    """Where frame `frame` of a pass (worker/passes.py; folders: model/looks.py) is published."""
    return Path(out) / folder / f"{frame_name(frame)}{ext}"


def write_transforms(out: str | Path, intrinsics: dict[str, float], frames: list[dict[str, Any]],
                     extra: dict[str, Any]) -> None:
    """transforms.json: NeRF-style intrinsics + per-frame camera-to-world matrices."""
    data: dict[str, Any] = dict(intrinsics)
    data.update(extra)
    data["frames"] = frames
    atomic_write_json(Path(out) / TRANSFORMS, data)
