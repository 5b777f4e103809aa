"""opencv_cameras.json: per view K and world-to-camera R|t in OpenCV's camera convention.

OpenCV axes: +X right, +Y down, +Z forward; x_cam = R @ x_world + t; pixel (u, v) = K x_cam / z
with integer (u, v) at pixel centres (so cx = w/2 - 0.5 here, half a pixel off nerfstudio's and
COLMAP's cx). The layout BOP, Infinigen and threestudio users convert to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files.atomic import atomic_write_json
from ..files.layout import OPENCV_CAMERAS_FILE as FILE
from .cameras import Cameras, depth16_rel, rendered_views


def opencv_cameras(cams: Cameras, depth16: bool) -> dict[str, Any]:
    views = []
    for view in rendered_views(cams):
        rot, t = view.w2c_opencv()
        entry: dict[str, Any] = {
            "frame": view.frame, "K": cams.k_matrix(pixel_centre=0.0), "R": rot, "t": t,
            "world_to_camera": [[*rot[0], t[0]], [*rot[1], t[1]], [*rot[2], t[2]],
                                [0.0, 0.0, 0.0, 1.0]],
        }
        if view.has_rgb:
            entry["image"] = view.rgb
        if view.has_depth:
            entry["depth_exr"] = view.depth
            if depth16:
                entry["depth16"] = depth16_rel(view.frame)
        views.append(entry)
    return {
        "convention": "OpenCV: +X right, +Y down, +Z forward; x_cam = R x_world + t; "
                      "integer pixel coordinates at pixel centres",
        "width": cams.w, "height": cams.h,
        "depth": "planar (z in camera axes), scene units in depth_exr (no hit: 1e10), "
                 "millimetres in depth16 (no hit: 0)",
        "views": views,
    }


def write_opencv(subject_dir: str | Path, cams: Cameras, depth16: bool) -> list[str]:
    atomic_write_json(Path(subject_dir) / FILE, opencv_cameras(cams, depth16))
    return []
