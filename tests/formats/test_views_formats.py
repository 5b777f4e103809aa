"""Every view layout, rendered for real and read through every format's consumer.

For each layout (rings, Fibonacci and Hammersley spheres with a view on the pole, a seeded
random shell, a fixed field of view, an orthographic camera): points on the cube faces each
camera sees (its centre from the angles transforms.json records, format_truth.py) projected
through each format's camera as its consumer does it land on the pixel whose depth says so.
Consumers as in test_consumers.py: nerfstudio's projection (and, for --ortho, its ORTHOPHOTO
ray generation), cv2.projectPoints, pycolmap, a 3DGS-style reader.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pycolmap
import pytest
from format_truth import view_centre, visible_face_points
from orbitfarm.submitter import cli

pytestmark = pytest.mark.render
W, H = 160, 120
REL_TOL = 0.01
PERSPECTIVE_FORMATS = ["--format", "nerf-synthetic", "--format", "colmap", "--format", "opencv"]
LAYOUTS = {
    "rings": ["--frames", "3", "--elevations", "-15,0,30"],
    "fibonacci": ["--layout", "sphere", "--frames", "6"],
    "hammersley-hemisphere": ["--layout", "sphere", "--sampling", "hammersley", "--hemisphere",
                              "--frames", "5"],
    "random-shell": ["--layout", "random", "--seed", "3", "--radius-range", "1,1.6",
                     "--frames", "5"],
    "fov": ["--frames", "4", "--elevation", "20", "--fov", "70"],
    "ortho": ["--frames", "4", "--elevation", "25", "--ortho"],
}


@pytest.fixture(scope="module")
def cube_blend(tmp_path_factory):
    import subjects

    root = tmp_path_factory.mktemp("views")
    info = subjects.make_subject(sys.executable, root / "cube.blend", "cube", size=2.0)
    half = [(b - a) / 2 for a, b in zip(info["bbox_min"], info["bbox_max"], strict=True)]
    return info["path"], half


@pytest.fixture(scope="module", params=list(LAYOUTS))
def rendered(request, cube_blend, tmp_path_factory):
    path, half = cube_blend
    out = tmp_path_factory.mktemp(request.param)
    formats = [] if request.param == "ortho" else PERSPECTIVE_FORMATS
    assert cli.main(["render", path, "--out", str(out), "--resolution", f"{W}x{H}",
                     "--samples", "1", *LAYOUTS[request.param], *formats]) == 0
    return request.param, out / "cube", half


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _facing(half, centre, p) -> bool:
    """p's face is seen at least 20 degrees off grazing (pixel-centre depth sampling on a face
    seen edge-on, e.g. the bottom from a ring at -15 degrees, varies too fast for REL_TOL)."""
    axis = int(np.argmax(np.abs(p) / np.array(half)))
    normal = np.zeros(3)
    normal[axis] = np.sign(p[axis])
    ray = (centre - p) / np.linalg.norm(centre - p)
    return float(ray @ normal) >= math.sin(math.radians(20))


def _check(half, centre, project, depth_at) -> int:
    points = [p for p in visible_face_points(half, centre) if _facing(half, centre, p)]
    assert len(points) >= 9  # a cube always shows one face at least 35 degrees off grazing
    for p in points:
        px, py, z = project(p)
        assert 0 <= px < W and 0 <= py < H, (p, px, py)
        assert depth_at(px, py) == pytest.approx(z, rel=REL_TOL), (p, px, py)
    return len(points)


def _exr(out: Path, frame: int) -> np.ndarray:
    img = cv2.imread(str(out / "depth" / f"{frame:04d}.exr"), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def test_transforms_json_poses_match_the_depth(rendered):
    name, out, half = rendered
    meta = _json(out / "transforms.json")
    views = meta["views"]
    args = LAYOUTS[name]
    assert views["layout"] == (args[args.index("--layout") + 1] if "--layout" in args else "ring")
    assert len(meta["frames"]) == views["views"]
    fx, fy, cx, cy = (float(meta[k]) for k in ("fl_x", "fl_y", "cx", "cy"))
    ortho = name == "ortho"
    assert meta["camera_model"] == ("ORTHOPHOTO" if ortho else "OPENCV")
    assert ("camera_angle_x" in meta) is not ortho
    if name == "fov":
        assert meta["camera_angle_x"] == pytest.approx(math.radians(70))
    checked = 0
    for frame in meta["frames"]:
        c2w = np.array(frame["transform_matrix"], dtype=float)
        centre = view_centre(meta, frame)
        np.testing.assert_allclose(c2w[:3, 3], centre, atol=1e-9)
        w2c = np.linalg.inv(c2w)
        mm = cv2.imread(str(out / frame["depth_file_path"]), cv2.IMREAD_ANYDEPTH)

        def project(p, w2c=w2c):
            x, y, z = w2c[:3, :3] @ p + w2c[:3, 3]
            scale = 1.0 if ortho else -z  # ORTHOPHOTO: ray origin ((u-cx)/fx, -(v-cy)/fy, 0)
            return math.floor(cx + fx * x / scale), math.floor(cy - fy * y / scale), -z

        exr = _exr(out, frame["frame"])
        checked += _check(half, centre, project, lambda px, py, d=exr: float(d[py, px]))
        checked += _check(half, centre, project, lambda px, py, d=mm: d[py, px] / 1000.0)
    assert checked >= 2 * 9 * len(meta["frames"])


def test_opencv_colmap_and_3dgs_cameras_match_the_depth(rendered):
    name, out, half = rendered
    if name == "ortho":
        assert not (out / "opencv_cameras.json").exists() and not (out / "colmap").exists()
        for refused in ("colmap", "opencv", "nerf-synthetic"):  # export refuses them too
            assert cli.main(["export", str(out), "--format", refused]) != 0
        assert not (out / "opencv_cameras.json").exists() and not (out / "colmap").exists()
        return
    meta = _json(out / "transforms.json")
    centres = {f["frame"]: view_centre(meta, f) for f in meta["frames"]}
    checked = 0
    for view in _json(out / "opencv_cameras.json")["views"]:
        k, rot, t = (np.array(view[key], dtype=float) for key in ("K", "R", "t"))
        rvec, _ = cv2.Rodrigues(rot)

        def project(p, rvec=rvec, rot=rot, t=t, k=k):
            (uv,), _ = cv2.projectPoints(p.reshape(1, 3), rvec, t, k, None)
            return round(uv[0][0]), round(uv[0][1]), (rot @ p + t)[2]

        exr = _exr(out, view["frame"])
        checked += _check(half, centres[view["frame"]], project,
                          lambda px, py, d=exr: float(d[py, px]))
    rec = pycolmap.Reconstruction(str(out / "colmap" / "sparse" / "0"))
    assert len(rec.images) == len(centres)
    for image_id, image in rec.images.items():
        pose = image.cam_from_world()

        def project(p, image=image, pose=pose):
            u, v = image.project_point(p)
            return math.floor(u), math.floor(v), (pose * p)[2]

        exr = _exr(out, image_id)
        checked += _check(half, centres[image_id], project,
                          lambda px, py, d=exr: float(d[py, px]))
    for split in ("train", "test"):
        data = _json(out / f"transforms_{split}.json")
        focal = W / (2 * math.tan(data["camera_angle_x"] / 2))
        for frame in data["frames"]:
            c2w = np.array(frame["transform_matrix"], dtype=float)
            c2w[:3, 1:3] *= -1  # 3DGS: Blender -> COLMAP axes
            w2c = np.linalg.inv(c2w)

            def project(p, w2c=w2c, f=focal):
                x, y, z = w2c[:3, :3] @ p + w2c[:3, 3]
                return round(f * x / z + W / 2 - 0.5), round(f * y / z + H / 2 - 0.5), z

            exr = _exr(out, frame["frame"])
            checked += _check(half, centres[frame["frame"]], project,
                              lambda px, py, d=exr: float(d[py, px]))
    assert checked >= 3 * 9 * len(centres)


def test_ortho_refuses_perspective_only_formats(cube_blend, tmp_path, capsys):
    path, _ = cube_blend
    code = cli.main(["render", path, "--out", str(tmp_path), "--frames", "2", "--ortho",
                     "--format", "colmap"])
    assert code != 0
    assert "no orthographic camera model" in capsys.readouterr().err
    assert not (tmp_path / "cube").exists()
