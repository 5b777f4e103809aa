"""colmap/sparse/0/{cameras,images,points3D}.txt: a COLMAP text model of the orbit.

One PINHOLE camera (fx fy cx cy; COLMAP puts the top-left pixel's centre at (0.5, 0.5), as the
worker's intrinsics do). images.txt holds world-to-camera rotation quaternions (QW QX QY QZ) and
translations in COLMAP's (= OpenCV's) camera axes, +X right, +Y down, +Z forward; IMAGE_ID is the
orbit frame and NAME the file name inside rgb/ (COLMAP: --image_path DIR/rgb; 3DGS: -s DIR/colmap
-i ../rgb). points3D.txt is back-projected from the depth maps of up to MAX_POINT_VIEWS views (a
grid of pixels each, RGB colour from the frame), each point observed once, so Gaussian Splatting
has an initial point cloud; the observations are listed in images.txt as COLMAP expects.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..files.atomic import atomic_write_text
from ..files.imageio import read_depth_exr, read_png
from ..files.layout import COLMAP_SPARSE_DIR
from .cameras import Cameras, View, quaternion_wxyz, rendered_views

SPARSE = Path(*COLMAP_SPARSE_DIR)
MAX_POINT_VIEWS = 30
POINTS_BUDGET = 30_000  # grid pixels sampled over all point views (only hits become points)
NO_HIT_BELOW = 1e9


def _fmt(x: float) -> str:
    return repr(float(x))


def _points_from_view(subject_dir: Path, cams: Cameras, view: View, step: int
                      ) -> list[tuple[float, float, list[float], tuple[int, int, int]]]:
    """(u, v, world point, colour) for a grid of pixel centres that hit the subject."""
    exr = read_depth_exr(subject_dir / view.depth)
    depth = exr.depth
    image = read_png(subject_dir / view.rgb) if view.has_rgb else None
    rot, t = view.w2c_opencv()
    found = []
    for y in range(step // 2, cams.h, step):
        for x in range(step // 2, cams.w, step):
            z = float(depth[y][x])
            if not 0 < z < NO_HIT_BELOW:
                continue
            u, v = x + 0.5, y + 0.5  # COLMAP pixel coordinates of this pixel's centre
            cam = ((u - cams.cx) / cams.fl_x * z, (v - cams.cy) / cams.fl_y * z, z)
            rel = [cam[i] - t[i] for i in range(3)]
            world = [sum(rot[i][r] * rel[i] for i in range(3)) for r in range(3)]  # R^T (c - t)
            colour = image.pixel(x, y)[:3] if image is not None else (128, 128, 128)
            if len(colour) == 1:  # gray PNG
                colour = colour * 3
            found.append((u, v, world, (int(colour[0]), int(colour[1]), int(colour[2]))))
    return found


def write_colmap(subject_dir: str | Path, cams: Cameras) -> list[str]:
    out = Path(subject_dir)
    views = [v for v in rendered_views(cams) if v.has_rgb]
    if not views:
        return ["colmap: no RGB frames (rendered with --no-rgb?); nothing written"]
    with_depth = [v for v in views if v.has_depth]
    every = max(1, math.ceil(len(with_depth) / MAX_POINT_VIEWS))
    point_views = with_depth[::every]
    per_view = POINTS_BUDGET / max(1, len(point_views))
    step = max(1, math.ceil(math.sqrt(cams.w * cams.h / per_view)))

    observations: dict[int, list[tuple[float, float, int]]] = {v.frame: [] for v in views}
    point_lines: list[str] = []
    for view in point_views:
        for u, v, world, rgb in _points_from_view(out, cams, view, step):
            point_id = len(point_lines) + 1
            idx = len(observations[view.frame])
            observations[view.frame].append((u, v, point_id))
            point_lines.append(f"{point_id} {' '.join(map(_fmt, world))} {rgb[0]} {rgb[1]} "
                               f"{rgb[2]} 0.0 {view.frame} {idx}")

    cameras_txt = ("# Camera list with one line of data per camera:\n"
                   "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n# Number of cameras: 1\n"
                   f"1 PINHOLE {cams.w} {cams.h} {_fmt(cams.fl_x)} {_fmt(cams.fl_y)} "
                   f"{_fmt(cams.cx)} {_fmt(cams.cy)}\n")
    image_lines = []
    for view in views:
        rot, t = view.w2c_opencv()
        q = " ".join(map(_fmt, quaternion_wxyz(rot)))
        name = Path(view.rgb).name
        image_lines.append(f"{view.frame} {q} {' '.join(map(_fmt, t))} 1 {name}")
        image_lines.append(" ".join(f"{_fmt(u)} {_fmt(v)} {pid}"
                                    for u, v, pid in observations[view.frame]))
    n_obs = sum(len(o) for o in observations.values())
    images_txt = ("# Image list with two lines of data per image:\n"
                  "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
                  "#   POINTS2D[] as (X, Y, POINT3D_ID)\n"
                  f"# Number of images: {len(views)}, mean observations per image: "
                  f"{n_obs / len(views):g}\n" + "\n".join(image_lines) + "\n")
    points_txt = ("# 3D point list with one line of data per point:\n"
                  "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
                  f"# Number of points: {len(point_lines)}, mean track length: 1\n"
                  + "".join(line + "\n" for line in point_lines))
    sparse = out / SPARSE
    atomic_write_text(sparse / "cameras.txt", cameras_txt)
    atomic_write_text(sparse / "images.txt", images_txt)
    atomic_write_text(sparse / "points3D.txt", points_txt)
    return [] if point_lines or not with_depth else [
        "colmap: no depth pixel hit the subject; points3D.txt is empty"]

