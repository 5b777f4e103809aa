"""Rendered pixels, depth and poses against the analytic truth of known subjects."""

from __future__ import annotations

import numpy as np
import pytest
from orbitfarm.worker import orbit
from worker_helpers import TINY, depth, result, rgb, transforms

pytestmark = [pytest.mark.render, pytest.mark.compat]


@pytest.fixture(scope="module")
def cube_run(tmp_path_factory, bpy_python, subjects):
    """A 2 m red emission cube centred at (5, -3, 2), 8-frame orbit at 10 degrees elevation."""
    from orbitfarm.submitter import cli

    root = tmp_path_factory.mktemp("cube")
    info = subjects.make_subject(bpy_python, root / "cube.blend", "cube")
    wall = subjects.make_subject(bpy_python, root / "wall.blend", "wall", distance=5.0)
    code = cli.main(["render", info["path"], wall["path"], "--out", str(root / "out"),
                     "--frames", "8", "--elevation", "10", *TINY])
    assert code == 0
    return root / "out", info


def _pose_intr(out, frame):
    t = transforms(out)
    pose = next(f["transform_matrix"] for f in t["frames"] if f["frame"] == frame)
    intr = orbit.Intrinsics(t["fl_x"], t["fl_y"], t["cx"], t["cy"], t["w"], t["h"])
    return pose, intr, t


def test_cube_outputs_and_result(cube_run):
    out, info = cube_run
    res = result(out / "cube")
    assert res["status"] == "rendered" and res["frames_done"] == res["frames_total"] == 8
    assert res["centering_offset"] == pytest.approx([-c for c in info["center"]], abs=1e-5)
    assert res["animation"] == [] and res["device"].startswith("CPU")
    assert len(res["frames"]) == 8 and all(f["seconds"] > 0 for f in res["frames"].values())
    assert sorted(p.name for p in (out / "cube" / "rgb").iterdir()) == [
        f"{k:04d}.png" for k in range(1, 9)]
    t = transforms(out / "cube")
    assert (t["w"], t["h"], t["cx"], t["cy"]) == (48, 36, 24, 18)
    assert t["fl_x"] == pytest.approx(50 / 36 * 48)
    assert [f["file_path"] for f in t["frames"]][:2] == ["rgb/0001.png", "rgb/0002.png"]


def test_red_cube_reads_red_under_standard(cube_run):
    out, _ = cube_run
    img = rgb(out / "cube", 8)
    assert img.shape == (36, 48, 3)
    # Emission (0.8, 0, 0) under Standard is sRGB(0.8) = 231; AgX/Filmic would desaturate it.
    assert tuple(int(c) for c in img[18, 24]) == pytest.approx((231, 0, 0), abs=3)
    # The world colour 0.05 reads 63.
    assert tuple(int(c) for c in img[0, 0]) == pytest.approx((63, 63, 63), abs=3)


def test_wall_depth_is_planar_and_analytic(cube_run):
    out, _ = cube_run
    pose, intr, t = _pose_intr(out / "wall", 8)
    d = depth(out / "wall", 8)
    assert d.dtype == np.float32 and d.shape == (36, 48)
    # Frame 8 of 8 is azimuth 0 at 10 degrees elevation; the centred wall is the plane y = 0.
    cam = np.array([pose[r][3] for r in range(3)])
    for v in range(0, 36, 5):
        for u in range(0, 48, 5):
            # The ray through the pixel centre meets y = 0 at planar depth -cam_y / ray_y.
            ray = orbit.unproject(u + 0.5, v + 0.5, 1.0, pose, intr)
            expected = -cam[1] / (ray[1] - cam[1])
            hit = cam + expected * (np.array(ray) - cam)
            edge = max(abs(hit[0]), abs(hit[2]))
            if edge < 19.5:  # inside the 40 m wall
                assert d[v, u] == pytest.approx(expected, rel=2e-3), (u, v)
            elif edge > 20.5:
                assert d[v, u] == 1e10, (u, v)
    # Frame 2 (azimuth 90) sees the wall edge-on from +X: nothing hits except the edge.
    d2 = depth(out / "wall", 2)
    assert (d2 == 1e10).mean() > 0.9


def test_depth_and_poses_agree_on_the_cube(cube_run):
    out, _ = cube_run
    for frame in (1, 3, 8):
        pose, intr, t = _pose_intr(out / "cube", frame)
        d = depth(out / "cube", frame)
        hits = np.argwhere(d < 1e9)
        assert len(hits) > 50
        for v, u in hits:
            p = orbit.unproject(u + 0.5, v + 0.5, float(d[v, u]), pose, intr)
            # On the surface of the centred 2 m cube, within a pixel's footprint.
            footprint = 1.5 * float(d[v, u]) / intr.fl_x * 2
            assert max(abs(c) for c in p) == pytest.approx(1.0, abs=footprint), (frame, u, v, p)
        # A known surface point projects onto a pixel whose depth says so.
        for point in [(0.3, -1.0, 0.2), (-0.5, -1.0, -0.4)]:
            try:
                u, v, z = orbit.project(point, pose, intr)
            except ValueError:
                continue
            if frame == 8:
                assert d[int(v), int(u)] == pytest.approx(z, abs=0.05)
    assert (d >= 1e10).any()  # background is the documented no-hit value


def test_centering_far_hierarchy(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "rig.blend", "hierarchy")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "4", *TINY)
    assert code == 0, log
    res = result(tmp_path / "out" / "rig")
    assert res["centering_offset"] == pytest.approx([-c for c in info["center"]], abs=1e-4)
    t = transforms(tmp_path / "out" / "rig")
    assert t["centering_offset"] == res["centering_offset"]
    # Frame 4 looks along +Y from (0, -r, 0): the nearest surface is the centred bbox's front.
    d = depth(tmp_path / "out" / "rig", 4)
    front = info["center"][1] - info["bbox_min"][1]
    assert float(d.min()) == pytest.approx(t["radius"] - front, abs=0.02)
    # Every hit lies inside the centred bounding box: the subject sits at the origin.
    pose, intr, _ = _pose_intr(tmp_path / "out" / "rig", 4)
    half = [(b - a) / 2 for a, b in zip(info["bbox_min"], info["bbox_max"], strict=True)]
    for v, u in np.argwhere(d < 1e9):
        p = orbit.unproject(u + 0.5, v + 0.5, float(d[v, u]), pose, intr)
        assert all(abs(p[i]) <= half[i] + 0.1 for i in range(3)), p


def test_worker_leaves_no_blender_temp_folder(tmp_path, bpy_python, subjects, render,
                                              monkeypatch):
    """Workers end with os._exit, which skips Blender's removal of its session temp folder
    (TMPDIR/blender_*): on a node that would pile up one folder per task."""
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))  # the worker (a child process) makes its folder here
    code, log = render([info["path"]], tmp_path / "out", "--frames", "2", *TINY)
    assert code == 0, log
    assert (tmp_path / "out" / "cube" / "rgb" / "0002.png").is_file()
    assert sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("blender_")) == []
