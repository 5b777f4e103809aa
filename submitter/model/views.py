"""View layouts: where the camera of view k sits and how it is turned. Plain Python, no bpy.

The pose of view k is a pure function of (layout, its parameters, seed, k, radius): nothing here
keeps state or draws from a global random generator, so every process, chunk, retry and the
dataset formats compute the same camera for the same view, and a rerun renders the same views.
The radius is the subject's (auto-fitted or --radius) and is the one input the worker adds.

Layouts (README, "View layouts"):
- ring: `frames` views per ring at azimuth 360*j/frames (j = 1..frames), one ring per elevation
  (`elevations`, or the single `elevation`); view k = (ring r, j) with k = r*frames + j.
- sphere: `frames` views spread evenly over the sphere (or the upper hemisphere), by a Fibonacci
  spiral or a Hammersley point set.
- random: `frames` directions drawn uniformly on the sphere (or upper hemisphere) from `seed`,
  each at a distance drawn uniformly in the volume of the shell radius_range[0..1] x radius.

Directions follow the orbit convention: azimuth 0 puts the camera on -Y looking toward +Y,
azimuth grows toward +X, elevation is the angle above the centre plane;
position = d * (cos e sin a, -cos e cos a, sin e). The camera looks at the origin; its image
+X axis is (cos a, sin a, 0), the limit of "world +Z up" that stays defined at the poles.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class RenderSettings(Protocol):
    """The fields of settings.RenderSettings that views read (no import: settings imports
    this module to validate them)."""

    frames: int
    elevation: float
    layout: str
    elevations: list[float] | None
    sampling: str
    hemisphere: bool
    seed: int
    radius_range: list[float] | None
    fov: float | None
    ortho: bool
    formats: list[str]

LAYOUTS = ("ring", "sphere", "random")
SAMPLINGS = ("fibonacci", "hammersley")
GOLDEN_ANGLE = 180.0 * (3.0 - math.sqrt(5.0))  # degrees, about 137.508

Matrix4 = list[list[float]]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class ViewPoint:
    """Where view `frame` looks from: angles in degrees, distance as a multiple of the radius."""

    frame: int
    azimuth: float
    elevation: float
    distance: float = 1.0
    ring: int | None = None  # ring layouts: index into the elevations (0-based)

    def record(self) -> dict[str, float | int]:
        """The per-frame keys transforms.json carries besides the matrix."""
        data: dict[str, float | int] = {"azimuth": self.azimuth, "elevation": self.elevation}
        if self.distance != 1.0:
            data["distance_factor"] = self.distance
        if self.ring is not None:
            data["ring"] = self.ring
        return data


def ring_elevations(settings: RenderSettings) -> list[float]:
    """The rings' elevations (one ring at `elevation` unless `elevations` lists several)."""
    return list(settings.elevations) if settings.elevations else [settings.elevation]


def view_count(settings: RenderSettings) -> int:
    """How many views the layout has: frames are numbered 1..view_count."""
    if settings.layout == "ring":
        return settings.frames * len(ring_elevations(settings))
    return settings.frames


def _radical_inverse_base2(i: int) -> float:
    """Van der Corput sequence in base 2: the bits of i mirrored behind the binary point."""
    result, f = 0.0, 0.5
    while i:
        if i & 1:
            result += f
        i >>= 1
        f *= 0.5
    return result


def _uniforms(seed: int, frame: int, count: int) -> list[float]:
    """`count` numbers in [0, 1) that depend only on (seed, frame): SHA-256, not `random`, so
    they do not depend on the Python version, the process or the order views are computed in."""
    digest = hashlib.sha256(f"orbitfarm-views/{seed}/{frame}".encode()).digest()
    return [int.from_bytes(digest[8 * i: 8 * i + 8], "big") / 2.0 ** 64 for i in range(count)]


def _elevation_of(z: float) -> float:
    return math.degrees(math.asin(max(-1.0, min(1.0, z))))


def view_point(settings: RenderSettings, frame: int) -> ViewPoint:
    """View `frame` (1..view_count) of the settings' layout."""
    total = view_count(settings)
    if not 1 <= frame <= total:
        raise ValueError(f"view {frame} is outside 1..{total}")
    n = settings.frames
    if settings.layout == "ring":
        ring, j = divmod(frame - 1, n)
        elevations = ring_elevations(settings)
        return ViewPoint(frame, (360.0 * (j + 1) / n) % 360.0, elevations[ring],
                         ring=ring if len(elevations) > 1 else None)
    i = frame - 1
    if settings.layout == "sphere":
        if settings.sampling == "fibonacci":
            u = (i + 0.5) / n  # cell centres: no view exactly on a pole
            azimuth = (i * GOLDEN_ANGLE) % 360.0
        else:  # hammersley: (i/N, radical inverse of i); view 1 sits on the north pole
            u = i / n
            azimuth = 360.0 * _radical_inverse_base2(i)
        z = 1.0 - u if settings.hemisphere else 1.0 - 2.0 * u
        return ViewPoint(frame, azimuth, _elevation_of(z))
    if settings.layout == "random":
        u1, u2, u3 = _uniforms(settings.seed, frame, 3)
        z = 1.0 - u1 if settings.hemisphere else 1.0 - 2.0 * u1
        low, high = settings.radius_range or (1.0, 1.0)
        distance = (low ** 3 + u3 * (high ** 3 - low ** 3)) ** (1.0 / 3.0)  # uniform in volume
        return ViewPoint(frame, 360.0 * u2, _elevation_of(z), distance)
    raise ValueError(f"unknown view layout {settings.layout!r}")


def camera_position(azimuth_deg: float, elevation_deg: float, radius: float) -> Vec3:
    """Camera position on the orbit sphere (see the module docstring for the convention)."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    return (radius * math.cos(e) * math.sin(a), -radius * math.cos(e) * math.cos(a),
            radius * math.sin(e))


def pose_from_angles(azimuth_deg: float, elevation_deg: float, distance: float,
                     center: Sequence[float] = (0.0, 0.0, 0.0)) -> Matrix4:
    """Camera-to-world matrix (Blender camera axes: looks down -Z, +Y up) looking at `center`.

    The image's right axis is (cos a, sin a, 0) for every elevation: the same as a look-at with
    world +Z up away from the poles, and its continuous limit at them (where +Z up is undefined).
    """
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    back = (math.cos(e) * math.sin(a), -math.cos(e) * math.cos(a), math.sin(e))
    right = (math.cos(a), math.sin(a), 0.0)
    up = (back[1] * right[2] - back[2] * right[1], back[2] * right[0] - back[0] * right[2],
          back[0] * right[1] - back[1] * right[0])
    pos = [center[r] + distance * back[r] for r in range(3)]
    return [[right[r], up[r], back[r], pos[r]] for r in range(3)] + [[0.0, 0.0, 0.0, 1.0]]


def view_pose(settings: RenderSettings, frame: int, radius: float,
              center: Sequence[float] = (0.0, 0.0, 0.0)) -> Matrix4:
    """Camera-to-world matrix of view `frame` for a subject whose orbit radius is `radius`."""
    p = view_point(settings, frame)
    return pose_from_angles(p.azimuth, p.elevation, radius * p.distance, center)


def layout_record(settings: RenderSettings) -> dict[str, object]:
    """What transforms.json/result.json record so that a rerun renders the same views."""
    record: dict[str, object] = {"layout": settings.layout, "views": view_count(settings)}
    if settings.layout == "ring":
        record.update(frames_per_ring=settings.frames, elevations=ring_elevations(settings))
    elif settings.layout == "sphere":
        record.update(sampling=settings.sampling, hemisphere=settings.hemisphere)
    else:
        record.update(seed=settings.seed, hemisphere=settings.hemisphere,
                      radius_range=list(settings.radius_range or (1.0, 1.0)))
    record["projection"] = "orthographic" if settings.ortho else "perspective"
    if settings.fov is not None:
        record["fov"] = settings.fov
    return record


# Formats whose consumers have no orthographic camera (README, dataset formats): refused with
# --ortho rather than written as a perspective camera they would silently misread.
PERSPECTIVE_ONLY_FORMATS = ("nerf-synthetic", "colmap", "opencv")
MAX_RING_ELEVATION = 89.0  # a ring at the pole would be one position spun round


def normalize(settings: RenderSettings) -> None:
    """Whole numbers from a job spec (`elevations: [-15, 0, 30]`) become the floats the CLI
    gives, so both hash alike; anything else is left for views_problem to name."""
    def number(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    for name in ("elevations", "radius_range"):
        values = getattr(settings, name)
        if isinstance(values, list) and all(number(v) or isinstance(v, float) for v in values):
            setattr(settings, name, [float(v) for v in values])
    if number(settings.fov):
        settings.fov = float(settings.fov)  # type: ignore[arg-type]


def views_problem(settings: RenderSettings) -> str | None:
    """Why the settings' view options are invalid (one line), or None."""
    if settings.layout not in LAYOUTS:
        return f"--layout must be one of {', '.join(LAYOUTS)}, got {settings.layout!r}"
    if settings.sampling not in SAMPLINGS:
        return f"--sampling must be one of {', '.join(SAMPLINGS)}, got {settings.sampling!r}"
    if settings.elevations is not None:
        if settings.layout != "ring":
            return "--elevations sets the rings of --layout ring"
        if not isinstance(settings.elevations, list) or not settings.elevations or not all(
                isinstance(e, (int, float)) and not isinstance(e, bool)
                and -MAX_RING_ELEVATION <= e <= MAX_RING_ELEVATION
                for e in settings.elevations):
            return (f"--elevations must be a list of degrees within ±{MAX_RING_ELEVATION:g}, "
                    f"e.g. -15,0,30; got {settings.elevations!r}")
        if len(set(settings.elevations)) != len(settings.elevations):
            return f"--elevations lists a ring twice: {settings.elevations!r}"
    if not isinstance(settings.seed, int) or isinstance(settings.seed, bool):
        return f"--seed must be a whole number, got {settings.seed!r}"
    if settings.radius_range is not None:
        rr = settings.radius_range
        if settings.layout != "random":
            return "--radius-range sets the shell of --layout random"
        if (not isinstance(rr, list) or len(rr) != 2
                or not all(isinstance(v, (int, float)) and v > 0 for v in rr) or rr[0] > rr[1]):
            return ("--radius-range must be MIN,MAX with 0 < MIN <= MAX (multiples of the "
                    f"radius), got {rr!r}")
    if settings.fov is not None and (not isinstance(settings.fov, (int, float))
                                     or not 1.0 <= settings.fov <= 170.0):
        return f"--fov must be 1..170 degrees, got {settings.fov!r}"
    if settings.ortho and settings.fov is not None:
        return "--fov is a perspective camera's angle; an --ortho camera has none"
    refused = [f for f in settings.formats or [] if f in PERSPECTIVE_ONLY_FORMATS]
    if settings.ortho and refused:
        return (f"--format {', '.join(refused)} has no orthographic camera model: its readers "
                "would take the views for perspective ones; drop --ortho or that format")
    return None
