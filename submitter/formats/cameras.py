"""A subject's cameras as the worker recorded them, and the axis conventions formats convert to.

The worker writes transforms.json with pixel intrinsics (fl_x fl_y cx cy w h; the top-left
pixel's centre is at (0.5, 0.5)) and per frame a camera-to-world matrix in Blender's camera axes
(+X right, +Y up, looking down -Z). Everything else is derived here, in one place:
- OpenCV / COLMAP camera axes: +X right, +Y down, +Z forward = Blender's with Y and Z negated.
- world-to-camera R|t: x_cam = R @ x_world + t.
Plain Python (no numpy): these are a handful of 4x4 matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files.atomic import read_json
from ..files.layout import DEPTH16_DIR, DEPTH_DIR, RGB_DIR, TRANSFORMS_FILE, frame_name

Matrix = list[list[float]]


class FormatError(ValueError):
    """The subject folder cannot be converted; the message says what is missing or wrong."""


# Paths relative to the subject folder, as the formats write them into their files.
def rgb_rel(frame: int) -> str:
    return f"{RGB_DIR}/{frame_name(frame)}.png"


def depth_rel(frame: int) -> str:
    return f"{DEPTH_DIR}/{frame_name(frame)}.exr"


def depth16_rel(frame: int) -> str:
    return f"{DEPTH16_DIR}/{frame_name(frame)}.png"


@dataclass
class View:
    """One rendered view: its orbit frame number and Blender camera-to-world matrix."""

    frame: int
    c2w: Matrix  # 4x4, Blender camera axes
    has_rgb: bool
    has_depth: bool

    @property
    def rgb(self) -> str:
        return rgb_rel(self.frame)

    @property
    def depth(self) -> str:
        return depth_rel(self.frame)

    def w2c_opencv(self) -> tuple[Matrix, list[float]]:
        """World-to-camera (R, t) in OpenCV axes: x_cam = R x + t, +Z forward, +Y down."""
        # Camera-to-world in OpenCV axes: Blender's with the Y and Z columns negated.
        rot = [[self.c2w[r][c] * (1.0 if c == 0 else -1.0) for c in range(3)] for r in range(3)]
        centre = [self.c2w[r][3] for r in range(3)]
        r_wc = [[rot[c][r] for c in range(3)] for r in range(3)]  # transpose = inverse
        t = [-sum(r_wc[r][c] * centre[c] for c in range(3)) for r in range(3)]
        return r_wc, t


@dataclass
class Cameras:
    """Intrinsics shared by every view, the views, and the transforms.json they came from."""

    fl_x: float
    fl_y: float
    cx: float
    cy: float
    w: int
    h: int
    views: list[View]
    meta: dict[str, Any]  # transforms.json as read (orbitfarm's extra keys are kept)

    @property
    def orthographic(self) -> bool:
        """An orthographic camera (--ortho): fl_x, fl_y are pixels per scene unit."""
        return self.meta.get("camera_projection") == "orthographic"

    @property
    def camera_angle_x(self) -> float:
        return 2.0 * math.atan(self.w / (2.0 * self.fl_x))

    def k_matrix(self, pixel_centre: float = 0.5) -> Matrix:
        """3x3 K. pixel_centre is where the top-left pixel's centre sits: 0.5 for nerfstudio and
        COLMAP (our cx, cy as they are), 0.0 for OpenCV (integer pixel centres)."""
        shift = 0.5 - pixel_centre
        return [[self.fl_x, 0.0, self.cx - shift], [0.0, self.fl_y, self.cy - shift],
                [0.0, 0.0, 1.0]]


def load_cameras(subject_dir: str | Path) -> Cameras:
    """Read DIR/transforms.json (as the worker or a previous write_formats left it)."""
    path = Path(subject_dir) / TRANSFORMS_FILE
    try:
        meta = read_json(path)
    except ValueError as exc:
        raise FormatError(f"{path}: not valid JSON ({exc})") from None
    if meta is None:
        raise FormatError(f"{path} does not exist: is {subject_dir} a rendered subject folder "
                          "(rendered with poses on)?")
    try:
        views = []
        for frame in meta["frames"]:
            number = int(frame["frame"])
            c2w = [[float(v) for v in row] for row in frame["transform_matrix"]]
            if len(c2w) != 4 or any(len(row) != 4 for row in c2w):
                raise FormatError(f"{path}: frame {number}: transform_matrix is not 4x4")
            views.append(View(number, c2w,
                              (Path(subject_dir) / rgb_rel(number)).is_file(),
                              (Path(subject_dir) / depth_rel(number)).is_file()))
        cams = Cameras(float(meta["fl_x"]), float(meta["fl_y"]), float(meta["cx"]),
                       float(meta["cy"]), int(meta["w"]), int(meta["h"]), views, meta)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"{path}: not an orbitfarm transforms.json ({type(exc).__name__}: "
                          f"{exc})") from None
    return cams


def rendered_views(cams: Cameras) -> list[View]:
    """The views whose files are in place (a subject may be partly rendered), in frame order."""
    return sorted((v for v in cams.views if v.has_rgb or v.has_depth), key=lambda v: v.frame)


def quaternion_wxyz(rot: Matrix) -> tuple[float, float, float, float]:
    """Unit quaternion (w, x, y, z), w >= 0, of a 3x3 rotation matrix (Shepperd's method)."""
    m = rot
    trace = m[0][0] + m[1][1] + m[2][2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = (0.25 * s, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s)
    elif m[0][0] > m[1][1] and m[0][0] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[0][0] - m[1][1] - m[2][2])
        q = ((m[2][1] - m[1][2]) / s, 0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s)
    elif m[1][1] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[1][1] - m[0][0] - m[2][2])
        q = ((m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2][2] - m[0][0] - m[1][1])
        q = ((m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s)
    norm = math.sqrt(sum(c * c for c in q))
    sign = -1.0 if q[0] < 0 else 1.0
    w, x, y, z = (sign * c / norm for c in q)
    return w, x, y, z


def split(views: list[View], holdout: int) -> tuple[list[View], list[View]]:
    """(train, test): every holdout-th view (indices 0, K, 2K, ...) is a test view, as 3DGS's
    llffhold does; holdout 0 puts every view in train."""
    if holdout <= 0:
        return list(views), []
    test = [v for i, v in enumerate(views) if i % holdout == 0]
    train = [v for i, v in enumerate(views) if i % holdout != 0]
    return train, test
