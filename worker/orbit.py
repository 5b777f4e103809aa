"""Orbit geometry: camera positions, look-at poses, intrinsics and the auto radius (pure math).

No bpy here, so it is unit-tested anywhere and shared by the worker and the preview camera.

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
from dataclasses import asdict, dataclass

Matrix4 = list[list[float]]
Vec3 = tuple[float, float, float]


def orbit_azimuth(frame: int, frames: int) -> float:
    """Azimuth in degrees of orbit frame `frame` (1..frames); frame N is 0."""
    return (360.0 * frame / frames) % 360.0


def camera_position(azimuth_deg: float, elevation_deg: float, radius: float) -> Vec3:
    """Camera position on the orbit sphere (see the module docstring for the convention)."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    return (radius * math.cos(e) * math.sin(a), -radius * math.cos(e) * math.cos(a),
            radius * math.sin(e))


def _norm(v: Sequence[float]) -> Vec3:
    length = math.sqrt(sum(c * c for c in v))
    if length == 0:
        raise ValueError("zero-length vector")
    return (v[0] / length, v[1] / length, v[2] / length)


def _cross(a: Sequence[float], b: Sequence[float]) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def look_at(position: Sequence[float], target: Sequence[float] = (0.0, 0.0, 0.0),
            up: Sequence[float] = (0.0, 0.0, 1.0)) -> Matrix4:
    """Camera-to-world matrix of a camera at `position` looking at `target` (-Z forward, +Y up)."""
    back = _norm([p - t for p, t in zip(position, target, strict=False)])  # camera +Z points away from target
    right = _norm(_cross(up, back))
    cam_up = _cross(back, right)
    return [
        [right[0], cam_up[0], back[0], float(position[0])],
        [right[1], cam_up[1], back[1], float(position[1])],
        [right[2], cam_up[2], back[2], float(position[2])],
        [0.0, 0.0, 0.0, 1.0],
    ]


def orbit_pose(frame: int, frames: int, elevation_deg: float, radius: float,
               center: Sequence[float] = (0.0, 0.0, 0.0)) -> Matrix4:
    """Camera-to-world matrix of orbit frame `frame`, orbiting `center`."""
    pos = camera_position(orbit_azimuth(frame, frames), elevation_deg, radius)
    world = tuple(p + c for p, c in zip(pos, center, strict=False))
    return look_at(world, center)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (transforms.json's fl_x fl_y cx cy w h)."""

    fl_x: float
    fl_y: float
    cx: float
    cy: float
    w: int
    h: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def half_fov(self) -> tuple[float, float]:
        """Half field of view (radians) horizontally and vertically."""
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


def auto_radius(bound_radius: float, intr: Intrinsics, margin: float) -> float:
    """Distance at which a sphere of `bound_radius` fills 1/margin of the narrower field of view."""
    half = min(intr.half_fov())
    bound_radius = max(bound_radius, 1e-6)
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
    return intr.cx + intr.fl_x * x / depth, intr.cy - intr.fl_y * y / depth, depth


def unproject(u: float, v: float, depth: float, c2w: Matrix4, intr: Intrinsics) -> Vec3:
    """(u, v, planar depth) -> world point; inverse of project()."""
    cam = ((u - intr.cx) / intr.fl_x * depth, -(v - intr.cy) / intr.fl_y * depth, -depth)
    return tuple(sum(c2w[r][k] * cam[k] for k in range(3)) + c2w[r][3]  # type: ignore
                 for r in range(3))
