"""Ground truth for format tests, independent of every format's camera: the orbit geometry the
README documents and points on the faces of the centred cube that each camera sees."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

FRAMES, ELEVATION, HOLDOUT = 6, 25.0, 3  # the orbit conftest renders
FACE_GRID = (-0.6, 0.0, 0.6)  # face points away from the edges, where depth is smooth


def camera_centre(out: Path, frame: int, frames: int, elevation: float) -> np.ndarray:
    """(r cos e sin a, -r cos e cos a, r sin e) with a = 360 k / N (README, Orbit geometry)."""
    radius = json.loads((out / "transforms.json").read_text())["radius"]
    a, e = math.radians(360.0 * frame / frames), math.radians(elevation)
    return radius * np.array([math.cos(e) * math.sin(a), -math.cos(e) * math.cos(a),
                              math.sin(e)])


def visible_face_points(half: list[float], centre: np.ndarray) -> list[np.ndarray]:
    """Points on the faces of the origin-centred box that face the camera (a convex box hides
    nothing of a face that faces the camera)."""
    points = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            normal = np.zeros(3)
            normal[axis] = sign
            face = normal * half[axis]
            if np.dot(centre - face, normal) <= 0:
                continue
            u_axis, v_axis = [i for i in range(3) if i != axis]
            for s in FACE_GRID:
                for t in FACE_GRID:
                    p = face.copy()
                    p[u_axis] += s * half[u_axis]
                    p[v_axis] += t * half[v_axis]
                    points.append(p)
    return points


def view_centre(meta: dict, frame: dict) -> np.ndarray:
    """A view's camera centre from the angles transforms.json records for it (not its matrix):
    d (cos e sin a, -cos e cos a, sin e), d = radius x the view's distance factor (README)."""
    a, e = math.radians(frame["azimuth"]), math.radians(frame["elevation"])
    d = meta["radius"] * frame.get("distance_factor", 1.0)
    return d * np.array([math.cos(e) * math.sin(a), -math.cos(e) * math.cos(a), math.sin(e)])
