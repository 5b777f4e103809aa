"""transforms_train.json / transforms_test.json as the NeRF-synthetic (Blender) scenes have them.

The reference loaders (NeRF's load_blender, 3D Gaussian Splatting's readCamerasFromTransforms,
instant-ngp) read camera_angle_x (horizontal field of view, radians; square pixels, principal
point at the centre), append ".png" to each file_path, and take transform_matrix as
camera-to-world in Blender/OpenGL camera axes. `holdout` K puts views 0, K, 2K, ... (in frame
order) into the test split; K = 0 writes every view to train and an empty test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files.atomic import atomic_write_json
from ..files.layout import TRANSFORMS_TEST_FILE as TEST
from ..files.layout import TRANSFORMS_TRAIN_FILE as TRAIN
from .cameras import Cameras, View, rendered_views, split


def _split_file(cams: Cameras, views: list[View]) -> dict[str, Any]:
    return {
        "camera_angle_x": cams.camera_angle_x,
        # instant-ngp and nerfstudio's blender parser use these when present.
        "fl_x": cams.fl_x, "fl_y": cams.fl_y, "cx": cams.cx, "cy": cams.cy,
        "w": cams.w, "h": cams.h,
        "frames": [{"file_path": view.rgb.removesuffix(".png"), "frame": view.frame,
                    "transform_matrix": view.c2w} for view in views],
    }


def write_nerf_synthetic(subject_dir: str | Path, cams: Cameras, holdout: int) -> list[str]:
    views = [v for v in rendered_views(cams) if v.has_rgb]
    if not views:
        return ["nerf-synthetic: no RGB frames (rendered with --no-rgb?); nothing written"]
    warnings = []
    if abs(cams.cx - cams.w / 2) > 1e-6 or abs(cams.cy - cams.h / 2) > 1e-6 or \
            abs(cams.fl_x - cams.fl_y) > 1e-6 * cams.fl_x:
        warnings.append("nerf-synthetic: loaders that read only camera_angle_x assume square "
                        "pixels and a centred principal point; this camera has neither")
    train, test = split(views, holdout)
    atomic_write_json(Path(subject_dir) / TRAIN, _split_file(cams, train))
    atomic_write_json(Path(subject_dir) / TEST, _split_file(cams, test))
    return warnings
