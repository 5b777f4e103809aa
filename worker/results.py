"""A subject's output files: layout, transforms.json, and result.json merged under a lock.

Layout under DIR/<blend stem>/: rgb/NNNN.png, depth/NNNN.exr, transforms.json, result.json
(NNNN = 1-based orbit frame, 4 digits). Several tasks may render different frame chunks of one
subject at once: transforms.json is a pure function of the file and the settings (so every chunk
writes identical bytes) and result.json is read-modified-written under an flock.
No bpy here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..submitter.atomic import atomic_write_json
from ..submitter.subjectresult import read_result, update_result  # noqa: F401 (re-exported)

TRANSFORMS = "transforms.json"
NO_HIT_DEPTH = 1e10  # depth of pixels whose ray hits nothing (Cycles' background value)


def frame_name(frame: int) -> str:
    return f"{frame:04d}"


def rgb_path(out: str | Path, frame: int) -> Path:
    return Path(out) / "rgb" / f"{frame_name(frame)}.png"


def depth_path(out: str | Path, frame: int) -> Path:
    return Path(out) / "depth" / f"{frame_name(frame)}.exr"


def write_transforms(out: str | Path, intrinsics: dict[str, float], frames: list[dict[str, Any]],
                     extra: dict[str, Any]) -> None:
    """transforms.json: NeRF-style intrinsics + per-frame camera-to-world matrices."""
    data: dict[str, Any] = dict(intrinsics)
    data.update(extra)
    data["frames"] = frames
    atomic_write_json(Path(out) / TRANSFORMS, data)
