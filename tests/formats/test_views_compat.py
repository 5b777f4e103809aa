"""View layouts on every supported Blender: poses against depth (orthographic and a view on the
pole included), a chunked job equal to one task, and a rerun with another layout refused."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from format_truth import view_centre, visible_face_points
from orbitfarm.submitter import cli, jobs
from orbitfarm.submitter.files.imageio import read_depth_exr
from orbitfarm.submitter.jobs.preflight import PreflightReport
from orbitfarm.submitter.model.settings import RenderSettings

pytestmark = [pytest.mark.render, pytest.mark.compat]
W, H = 160, 120
CASES = {
    "hammersley-pole": ["--layout", "sphere", "--sampling", "hammersley", "--hemisphere",
                        "--frames", "3"],
    "random-shell": ["--layout", "random", "--seed", "11", "--radius-range", "1,1.5",
                     "--frames", "3"],
    "ortho-rings": ["--frames", "2", "--elevations", "-20,35", "--ortho"],
}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    import subjects

    info = subjects.make_subject(sys.executable, tmp_path_factory.mktemp("cube") / "cube.blend",
                                 "cube", size=2.0)
    half = [(b - a) / 2 for a, b in zip(info["bbox_min"], info["bbox_max"], strict=True)]
    return info["path"], half


@pytest.mark.parametrize("case", list(CASES))
def test_layout_renders_where_its_poses_say(cube, tmp_path, case):
    path, half = cube
    assert cli.main(["render", path, "--out", str(tmp_path), "--resolution", f"{W}x{H}",
                     "--samples", "1", *CASES[case]]) == 0
    out = tmp_path / "cube"
    meta = json.loads((out / "transforms.json").read_text())
    ortho = meta.get("camera_projection") == "orthographic"
    assert ortho is (case == "ortho-rings")
    fx, fy, cx, cy = (float(meta[k]) for k in ("fl_x", "fl_y", "cx", "cy"))
    checked = 0
    for frame in meta["frames"]:
        centre = view_centre(meta, frame)
        c2w = np.array(frame["transform_matrix"], dtype=float)
        np.testing.assert_allclose(c2w[:3, 3], centre, atol=1e-9)
        w2c = np.linalg.inv(c2w)
        depth = np.asarray(read_depth_exr(out / "depth" / f"{frame['frame']:04d}.exr").depth)
        for p in visible_face_points(half, centre):
            axis = int(np.argmax(np.abs(p) / np.array(half)))
            ray = (centre - p) / np.linalg.norm(centre - p)
            if abs(ray[axis]) < math.sin(math.radians(20)):
                continue  # seen near edge-on: pixel-centre depth varies too fast to compare
            x, y, z = w2c[:3, :3] @ p + w2c[:3, 3]
            scale = 1.0 if ortho else -z
            u, v = math.floor(cx + fx * x / scale), math.floor(cy - fy * y / scale)
            assert depth[v, u] == pytest.approx(-z, rel=0.01), (frame["frame"], p, u, v)
            checked += 1
    assert checked >= 9 * len(meta["frames"])
    if case == "hammersley-pole":
        assert meta["frames"][0]["elevation"] == 90.0  # view 1 looks straight down


def test_chunked_job_renders_what_one_task_renders_and_another_layout_is_refused(cube,
                                                                                   tmp_path):
    path, _ = cube
    settings = dict(width=64, height=48, samples=1, frames=5, layout="random", seed=4,
                    radius_range=[1.0, 1.4])
    results = {}
    for name, chunk in (("one", None), ("chunked", 2)):
        # Not packed, no tracing: the compat venvs have no blender-asset-tracer (and the cube
        # needs no files); the chunks are the job's tasks all the same.
        job = jobs.submit(jobs.SubmitRequest(files=[path], out=str(tmp_path / name), chunk=chunk,
                                             pack=False, preflight=PreflightReport(),
                                             settings=RenderSettings(**settings)))
        assert len(job.task_ids()) == (1 if chunk is None else 3)
        st = jobs.wait(job, interval=0.3, timeout=240)
        assert st.finished and st.ok, st.to_dict()
        results[name] = tmp_path / name / "cube"
    one, chunked = (json.loads((results[n] / "transforms.json").read_text())
                    for n in ("one", "chunked"))
    assert one["frames"] == chunked["frames"] and len(one["frames"]) == 5
    assert one["views"] == chunked["views"] == {
        "layout": "random", "views": 5, "seed": 4, "hemisphere": False,
        "radius_range": [1.0, 1.4], "projection": "perspective"}
    for k in range(1, 6):
        a, b = (np.asarray(read_depth_exr(results[n] / "depth" / f"{k:04d}.exr").depth)
                for n in ("one", "chunked"))
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # a rerun with another seed is other settings: refused without --force, nothing touched
    before = (results["one"] / "depth" / "0001.exr").read_bytes()
    code = cli.main(["render", path, "--out", str(tmp_path / "one"), "--resolution", "64x48",
                     "--samples", "1", "--frames", "5", "--layout", "random", "--seed", "5",
                     "--radius-range", "1,1.4"])
    assert code != 0
    result = json.loads((results["one"] / "result.json").read_text())
    assert result["status"] == "rendered" and result["views"]["seed"] == 4
    assert (results["one"] / "depth" / "0001.exr").read_bytes() == before


def test_a_camera_inside_the_subject_fails_it_with_the_reason(cube, tmp_path):
    path, _ = cube  # a 2-unit cube: a shell from 0.3 x radius 2 reaches inside it
    assert cli.main(["render", path, "--out", str(tmp_path), "--resolution", "32x24",
                     "--samples", "1", "--layout", "random", "--frames", "40", "--radius", "2",
                     "--radius-range", "0.3,1"]) != 0
    result = json.loads((tmp_path / "cube" / "result.json").read_text())
    assert result["status"] == "failed"
    assert "sits inside the subject's bounding box" in result["reason"]
    assert "--radius-range" in result["reason"]
    assert not (tmp_path / "cube" / "rgb").exists()  # nothing rendered
