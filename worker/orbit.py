"""Orbit geometry: one ring's poses, intrinsics, projection and the auto radius (pure math).

No bpy here, so it is unit-tested anywhere and shared by the worker and the preview camera.
Where the views of every layout sit (rings, sphere, random shells) and how the camera is
turned, poles included, is submitter/model/views.py; this module re-exports what it needs.

Conventions (the README repeats them):
- Orbit frame k of N (k = 1..N) sits at azimuth 360*k/N degrees, so frame N is azimuth 0 and no
  frame duplicates another.
- Azimuth 0 puts the camera on the -Y axis looking toward +Y (Blender's front view); azimuth grows
  counter-clockwise seen from above (toward +X at 90 degrees).
- Elevation is the angle above the subject's centre plane: positive is above, looking down.
- The camera always looks at the origin (where the worker centred the subject) with world +Z up.
  Position: (r cos e sin a, -r cos e cos a, r sin e).
- Poses are camera-to-world 4x4 matrices in Blender's camera convention: the camera looks down
  its local -Z axis, +Y is up in the image and +X is right (as NeRF-style transforms.json expects).
- Pixels: u to the right and v down from the top-left corner; pixel (i, j) covers
  [i, i+1) x [j, j+1), so its centre is (i + 0.5, j + 0.5) and cx = w/2, cy = h/2.
- Depth is planar: the distance along the camera's viewing axis (-Z), not along the ray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..submitter.model.views import (  # noqa: F401 (camera_position: re-exported)
    Matrix4,
    Vec3,
    camera_position,
    pose_from_angles,
)


def orbit_azimuth(frame: int, frames: int) -> float:
    """Azimuth in degrees of orbit frame `frame` (1..frames); frame N is 0."""
    return (360.0 * frame / frames) % 360.0


def orbit_pose(frame: int, frames: int, elevation_deg: float, radius: float,
               center: Sequence[float] = (0.0, 0.0, 0.0)) -> Matrix4:
    """Camera-to-world matrix of orbit frame `frame` of one ring, orbiting `center`."""
    return pose_from_angles(orbit_azimuth(frame, frames), elevation_deg, radius, center)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (transforms.json's fl_x fl_y cx cy w h).

    Orthographic cameras keep the same keys with fl_x, fl_y in pixels per scene unit: a camera
    point (x, y) lands on u = cx + fl_x x, v = cy - fl_y y whatever its depth.
    """

    fl_x: float
    fl_y: float
    cx: float
    cy: float
    w: int
    h: int
    orthographic: bool = False

    def to_dict(self) -> dict[str, float]:
        return {"fl_x": self.fl_x, "fl_y": self.fl_y, "cx": self.cx, "cy": self.cy,
                "w": self.w, "h": self.h}

    def half_fov(self) -> tuple[float, float]:
        """Half field of view (radians) horizontally and vertically (perspective only)."""
        return math.atan(self.w / 2 / self.fl_x), math.atan(self.h / 2 / self.fl_y)


def intrinsics(lens_mm: float, sensor_width: float, sensor_height: float, sensor_fit: str,
               width: int, height: int, pixel_aspect: float = 1.0) -> Intrinsics:
    """Blender camera (perspective, no shift) -> pixel intrinsics, honouring the sensor fit.

    AUTO fits the sensor width to the larger image side; HORIZONTAL fits sensor_width to the
    width; VERTICAL fits sensor_height to the height. pixel_aspect is x/y (1 = square).
    """
    fit = sensor_fit.upper()
    if fit == "AUTO":
        fit = "HORIZONTAL" if width * pixel_aspect >= height else "VERTICAL"
        sensor_height = sensor_width
    if fit == "HORIZONTAL":
        fl_x = lens_mm / sensor_width * width
        fl_y = fl_x * pixel_aspect
    elif fit == "VERTICAL":
        fl_y = lens_mm / sensor_height * height
        fl_x = fl_y / pixel_aspect
    else:
        raise ValueError(f"unknown sensor fit {sensor_fit!r}")
    return Intrinsics(fl_x, fl_y, width / 2.0, height / 2.0, width, height)


def orthographic_intrinsics(bound_radius: float, margin: float, width: int,
                            height: int) -> tuple[Intrinsics, float]:
    """Orthographic camera fitted like auto_radius: the bounding sphere fills 1/margin of the
    narrower image side. Returns the intrinsics and Blender's ortho_scale (the wider side's
    extent in scene units, as sensor fit AUTO measures it)."""
    narrow_extent = 2.0 * margin * max(bound_radius, 1e-6)
    per_unit = min(width, height) / narrow_extent
    ortho_scale = max(width, height) / per_unit
    return Intrinsics(per_unit, per_unit, width / 2.0, height / 2.0, width, height,
                      orthographic=True), ortho_scale


def auto_radius(bound_radius: float, intr: Intrinsics, margin: float) -> float:
    """Distance at which a sphere of `bound_radius` fills 1/margin of the narrower field of view."""
    bound_radius = max(bound_radius, 1e-6)
    if intr.orthographic:  # no perspective to fit: far enough out to see the whole sphere
        return 2.0 * margin * bound_radius
    half = min(intr.half_fov())
    return margin * bound_radius / math.sin(half)


def bounding_radius(bbox_min: Sequence[float], bbox_max: Sequence[float]) -> float:
    """Radius of the sphere around the box centre that holds the box (half its diagonal)."""
    return 0.5 * math.sqrt(sum((b - a) ** 2 for a, b in zip(bbox_min, bbox_max, strict=False)))


def world_to_camera(point: Sequence[float], c2w: Matrix4) -> Vec3:
    """A world point in camera coordinates (camera looks down -Z)."""
    d = [point[i] - c2w[i][3] for i in range(3)]
    return tuple(sum(c2w[r][col] * d[r] for r in range(3)) for col in range(3))  # type: ignore


def project(point: Sequence[float], c2w: Matrix4, intr: Intrinsics) -> tuple[float, float, float]:
    """World point -> (u, v, planar depth); u right, v down, pixel centres at +0.5."""
    x, y, z = world_to_camera(point, c2w)
    depth = -z
    if depth <= 0:
        raise ValueError("point is behind the camera")
    scale = 1.0 if intr.orthographic else depth
    return intr.cx + intr.fl_x * x / scale, intr.cy - intr.fl_y * y / scale, depth


def unproject(u: float, v: float, depth: float, c2w: Matrix4, intr: Intrinsics) -> Vec3:
    """(u, v, planar depth) -> world point; inverse of project()."""
    scale = 1.0 if intr.orthographic else depth
    cam = ((u - intr.cx) / intr.fl_x * scale, -(v - intr.cy) / intr.fl_y * scale, -depth)
    return tuple(sum(c2w[r][k] * cam[k] for k in range(3)) + c2w[r][3]  # type: ignore
                 for r in range(3))


def views_inside_box(poses: dict[int, Matrix4], box: tuple[Sequence[float], Sequence[float]]
                     ) -> list[int]:
    """The views (sorted) whose camera centre lies inside the axis-aligned box (min, max)."""
    lo, hi = box
    return sorted(k for k, pose in poses.items()
                  if all(lo[i] <= pose[i][3] <= hi[i] for i in range(3)))
