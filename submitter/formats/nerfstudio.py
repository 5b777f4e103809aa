"""transforms.json in nerfstudio's `nerfstudio-data` schema (the subject's default pose file).

nerfstudio looks camera_model up in its own table (OPENCV, PINHOLE, ...), keeps NeRF/Blender
camera axes in transform_matrix (+X right, +Y up, looking down -Z: exactly what the worker
records), and reads depth_file_path with OpenCV, scaled by its depth_unit_scale_factor (default
1e-3: millimetres) with 0 = unknown, which is depth16/. orbitfarm's own keys (radius, centering
offset, settings hash, ...) stay; nerfstudio ignores keys it does not know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files.atomic import atomic_write_json
from ..files.layout import TRANSFORMS_FILE
from .cameras import Cameras, depth16_rel, rendered_views

CAMERA_MODEL = "OPENCV"  # with zero distortion: what ns-process-data writes for a pinhole
# nerfstudio's orthographic model: the ray of pixel (u, v) starts at ((u - cx) / fx,
# -(v - cy) / fy, 0) in camera axes and runs down -Z, so fx, fy are pixels per scene unit.
ORTHO_CAMERA_MODEL = "ORTHOPHOTO"
DEPTH_UNIT_SCALE_FACTOR = 1e-3  # nerfstudio's default: depth16 holds millimetres


def nerfstudio_transforms(cams: Cameras, depth16: bool) -> dict[str, Any]:
    """The transforms.json content: every frame of the orbit (rendered or not yet)."""
    data = dict(cams.meta)
    data.update({
        "camera_model": ORTHO_CAMERA_MODEL if cams.orthographic else CAMERA_MODEL,
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "camera_convention": "opengl (nerfstudio/Blender): +X right, +Y up, looking down -Z",
    })
    if not cams.orthographic:  # an orthographic camera has no angle
        data["camera_angle_x"] = cams.camera_angle_x
    for stale in ("depth_unit_scale_factor", "depth_format"):
        data.pop(stale, None)
    if depth16:
        data["depth_unit_scale_factor"] = DEPTH_UNIT_SCALE_FACTOR
        data["depth_format"] = "depth16/NNNN.png: uint16 planar depth in millimetres, 0 = no hit"
    frames = []
    by_frame = {int(f["frame"]): f for f in cams.meta.get("frames", [])}
    for view in sorted(cams.views, key=lambda v: v.frame):
        frame = dict(by_frame.get(view.frame, {}))
        frame.update({"frame": view.frame, "file_path": view.rgb, "transform_matrix": view.c2w,
                      "depth_exr_path": view.depth})
        frame.pop("depth_file_path", None)
        if depth16:
            frame["depth_file_path"] = depth16_rel(view.frame)
        frames.append(frame)
    data["frames"] = frames
    return data


def write_nerfstudio(subject_dir: str | Path, cams: Cameras, depth16: bool) -> list[str]:
    """Rewrite DIR/transforms.json so nerfstudio loads it as is."""
    has_depth = any(v.has_depth for v in rendered_views(cams))
    atomic_write_json(Path(subject_dir) / TRANSFORMS_FILE,
                      nerfstudio_transforms(cams, depth16 and has_depth))
    return []
