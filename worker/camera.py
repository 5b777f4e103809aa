"""The orbit camera's lens for a view layout: perspective (50 mm or --fov) or orthographic.

The camera object is made by render.setup; this module decides its projection, the radius the
views are placed at and the clip range, so that every view of the layout (a random shell's
nearest and farthest included) sees the whole bounding sphere.
"""

from __future__ import annotations

import math
from typing import Any

from ..submitter.model.settings import RenderSettings
from . import orbit

SENSOR_WIDTH = 36.0  # mm; with sensor fit AUTO it spans the wider image side


def configure_camera(cam: Any, settings: RenderSettings,
                     bound_radius: float) -> tuple[orbit.Intrinsics, float]:
    """Set the projection and clip range of `cam` (a Blender camera object); return its pixel
    intrinsics and the orbit radius (the views' distance factors multiply it)."""
    data = cam.data
    width, height = settings.width, settings.height
    if settings.ortho:
        intr, ortho_scale = orbit.orthographic_intrinsics(bound_radius, settings.margin, width,
                                                          height)
        data.type = "ORTHO"
        data.ortho_scale = ortho_scale
    else:
        if settings.fov is not None:
            data.lens = SENSOR_WIDTH / 2.0 / math.tan(math.radians(settings.fov) / 2.0)
        d = data
        intr = orbit.intrinsics(d.lens, d.sensor_width, d.sensor_height, d.sensor_fit, width,
                                height)
    radius = settings.radius or orbit.auto_radius(bound_radius, intr, settings.margin)
    low, high = settings.radius_range or (1.0, 1.0)
    near, far = radius * low, radius * high
    # Clip range: everything within the bounding sphere, from the nearest and farthest view.
    data.clip_start = (max(1e-4, min(0.1, (near - bound_radius) * 0.01))
                       if near > bound_radius else 1e-4)
    data.clip_end = max(1000.0, 4.0 * (far + bound_radius))
    return intr, radius


def camera_record(intr: orbit.Intrinsics) -> dict[str, Any]:
    """transforms.json's description of the projection (besides fl_x fl_y cx cy w h)."""
    if intr.orthographic:
        return {"camera_projection": "orthographic",
                "ortho_extent": [intr.w / intr.fl_x, intr.h / intr.fl_y]}  # scene units
    half_x, half_y = intr.half_fov()
    return {"camera_projection": "perspective", "camera_angle_x": 2 * half_x,
            "camera_angle_y": 2 * half_y}
