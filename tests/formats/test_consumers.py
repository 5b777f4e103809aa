"""Each dataset format read by its consumer's own reader, checked against the cube's geometry.

For every view and every format: points on the cube faces the camera sees (format_truth.py: from the
README's orbit geometry, not from any format) are projected through the format's camera as its
consumer does it, and the depth that consumer reads at that pixel must equal the point's depth
in that camera. A wrong axis, a transposed rotation, a flipped image row or a wrong unit lands
on another depth or on the background.

Readers: OpenCV (opencv-python-headless) for the EXR and 16-bit PNG depth and cv2.projectPoints;
pycolmap for the COLMAP text model. nerfstudio's dataparser cannot be imported here (it needs
torch, whose PyPI wheels pull the CUDA stack), so its installed source (nerfstudio 1.1.5,
`pip install --no-deps`) supplies the real camera-model table and depth unit default, its own
depth reader and interval split run from that source, and the pose handling of its
nerfstudio_dataparser / ray generation is followed here (written here, not copied).
The Gaussian Splatting test likewise follows 3DGS's readCamerasFromTransforms and rasterizer
pixel convention (the repository is not a package to install).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pycolmap
import pytest
from format_truth import ELEVATION, FRAMES, HOLDOUT, camera_centre, visible_face_points
from orbitfarm.submitter.files.imageio import read_depth_exr

pytestmark = pytest.mark.render
REL_TOL = 0.01  # depth at the pixel vs the point's depth (pixel-centre sampling on slanted faces)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _check_view(out: Path, half, frame: int, project, depth_at) -> int:
    """Assert every visible face point of `frame` lands where the depth says; return count."""
    points = visible_face_points(half, camera_centre(out, frame, FRAMES, ELEVATION))
    assert len(points) >= 9
    for p in points:
        px, py, z = project(p)
        assert 0 <= px < 160 and 0 <= py < 120, (frame, p, px, py)
        assert depth_at(px, py) == pytest.approx(z, rel=REL_TOL), (frame, p, px, py)
    return len(points)


def _cv_exr(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"OpenCV cannot read {path}"
    return img


# ------------------------------------------------------------------- depth files in OpenCV


def test_opencv_reads_the_depth_exr_and_depth16(cube_formats):
    out, _ = cube_formats
    for frame in range(1, FRAMES + 1):
        exr = _cv_exr(out / "depth" / f"{frame:04d}.exr")
        assert exr.dtype == np.float32 and exr.shape == (120, 160)
        ours = read_depth_exr(out / "depth" / f"{frame:04d}.exr")
        assert ours.channel_names == ["Y"]
        np.testing.assert_array_equal(exr, ours.depth)
        mm = cv2.imread(str(out / "depth16" / f"{frame:04d}.png"), cv2.IMREAD_ANYDEPTH)
        assert mm.dtype == np.uint16 and mm.shape == (120, 160)
        hit = exr < 1e9
        assert hit.any() and (~hit).any()
        assert np.all(mm[~hit] == 0)
        np.testing.assert_allclose(mm[hit], exr[hit] * 1000.0, atol=0.5 + 1e-3)


def test_old_channel_name_is_not_read_by_opencv_but_by_imageio(cube_formats, tmp_path):
    from orbitfarm.submitter.formats.exr_channel import name_depth_channel

    out, _ = cube_formats
    old = tmp_path / "old.exr"
    old.write_bytes((out / "depth" / "0001.exr").read_bytes())
    assert name_depth_channel(old, "V") is True  # as Blender writes it
    assert cv2.imread(str(old), cv2.IMREAD_UNCHANGED) is None  # why the channel is "Y" now
    np.testing.assert_array_equal(read_depth_exr(old).depth, _cv_exr(out / "depth/0001.exr"))
    assert name_depth_channel(old) is True and name_depth_channel(old) is False
    np.testing.assert_array_equal(_cv_exr(old), _cv_exr(out / "depth/0001.exr"))


# ------------------------------------------------------------------------------ nerfstudio


def _nerfstudio_source() -> Path:
    spec = importlib.util.find_spec("nerfstudio")  # finds the package without importing torch
    assert spec is not None and spec.submodule_search_locations, \
        "nerfstudio is not installed (make venv installs it with --no-deps)"
    return Path(list(spec.submodule_search_locations)[0])


def _nerfstudio_camera_models() -> set[str]:
    tree = ast.parse((_nerfstudio_source() / "cameras" / "cameras.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "CAMERA_MODEL_TO_TYPE" for t in node.targets):
            assert isinstance(node.value, ast.Dict)
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    raise AssertionError("nerfstudio's CAMERA_MODEL_TO_TYPE not found")


def _nerfstudio_depth_unit_scale() -> float:
    path = _nerfstudio_source() / "data" / "dataparsers" / "nerfstudio_dataparser.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == \
                "depth_unit_scale_factor":
            return float(ast.literal_eval(node.value))
    raise AssertionError("depth_unit_scale_factor default not found")


def _nerfstudio_function(relative: str, name: str):
    """A numpy/OpenCV function of nerfstudio's, taken from its source and run as it is. Only
    torch is missing: `torch.from_numpy`, its last step in the depth reader, stays numpy."""
    path = _nerfstudio_source() / relative
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            namespace = {"np": np, "cv2": cv2, "List": list, "Tuple": tuple,
                         "torch": SimpleNamespace(from_numpy=np.asarray)}
            code = "from __future__ import annotations\n" + ast.get_source_segment(source, node)
            exec(code, namespace)  # nerfstudio's own code
            return namespace[name]
    raise AssertionError(f"{name} not found in {path}")


def test_nerfstudio_loads_transforms_json(cube_formats):
    out, half = cube_formats
    meta = _json(out / "transforms.json")
    assert meta["camera_model"] in _nerfstudio_camera_models()
    assert "OPENGL" not in _nerfstudio_camera_models()  # what orbitfarm wrote before
    scale = _nerfstudio_depth_unit_scale()
    assert scale == 1e-3
    fx, fy, cx, cy = (float(meta[k]) for k in ("fl_x", "fl_y", "cx", "cy"))
    assert (int(meta["w"]), int(meta["h"])) == (160, 120)
    assert all(float(meta.get(k, 0.0)) == 0.0 for k in ("k1", "k2", "k3", "k4", "p1", "p2"))
    read_depth = _nerfstudio_function("data/utils/data_utils.py", "get_depth_image_from_path")
    checked = 0
    for frame in meta["frames"]:
        assert (out / frame["file_path"]).is_file()
        depth = read_depth(out / frame["depth_file_path"], 120, 160, scale)[:, :, 0]
        c2w = np.array(frame["transform_matrix"], dtype=float)  # OpenGL camera axes
        w2c = np.linalg.inv(c2w)

        def project(p, w2c=w2c):
            x, y, z = w2c[:3, :3] @ p + w2c[:3, 3]
            # nerfstudio's ray through pixel (i, j): ((j + .5 - cx) / fx, -(i + .5 - cy) / fy, -1)
            return (math.floor(cx + fx * x / -z), math.floor(cy - fy * y / -z), -z)

        checked += _check_view(out, half, frame["frame"], project,
                               lambda px, py, d=depth: d[py, px])
    assert checked > 50




def test_nerfstudio_interval_split_is_the_holdout_split(cube_formats):
    out, _ = cube_formats
    split = _nerfstudio_function("data/utils/dataparsers_utils.py",
                                 "get_train_eval_split_interval")
    frames = _json(out / "transforms.json")["frames"]
    # nerfstudio sorts frames by file name before splitting
    names = sorted(f["file_path"] for f in frames)
    train, test = split(names, HOLDOUT)
    assert [names[i] for i in test] == [
        f["file_path"] + ".png" for f in _json(out / "transforms_test.json")["frames"]]
    assert [names[i] for i in train] == [
        f["file_path"] + ".png" for f in _json(out / "transforms_train.json")["frames"]]


# ------------------------------------------------------- NeRF-synthetic / Gaussian Splatting


def _focal(fov: float, pixels: int) -> float:
    return pixels / (2 * math.tan(fov / 2))


def test_gaussian_splatting_loads_the_nerf_synthetic_splits(cube_formats):
    out, half = cube_formats
    train = _json(out / "transforms_train.json")
    test = _json(out / "transforms_test.json")
    assert [f["frame"] for f in test["frames"]] == list(range(1, FRAMES + 1, HOLDOUT))
    assert sorted(f["frame"] for f in train["frames"] + test["frames"]) == \
        list(range(1, FRAMES + 1))
    checked = 0
    for split in (train, test):
        fovx = split["camera_angle_x"]
        for frame in split["frames"]:
            # readCamerasFromTransforms: path + ".png"; Blender -> COLMAP axes; R stored
            # transposed for its CUDA code; FovY from the image size.
            image = cv2.imread(str(out / (frame["file_path"] + ".png")))
            assert image is not None
            height, width = image.shape[:2]
            c2w = np.array(frame["transform_matrix"], dtype=float)
            c2w[:3, 1:3] *= -1
            w2c = np.linalg.inv(c2w)
            rot, t = np.transpose(w2c[:3, :3]), w2c[:3, 3]
            fovy = 2 * math.atan(height / (2 * _focal(fovx, width)))
            fx, fy = _focal(fovx, width), _focal(fovy, height)
            depth = _cv_exr(out / "depth" / f"{frame['frame']:04d}.exr")

            def project(p, rot=rot, t=t, fx=fx, fy=fy, w=width, h=height):
                x, y, z = rot.T @ p + t  # getWorld2View2
                # the rasterizer's pixel coordinates put pixel centres on integers
                return (round(fx * x / z + w / 2 - 0.5), round(fy * y / z + h / 2 - 0.5), z)

            checked += _check_view(out, half, frame["frame"], project,
                                   lambda px, py, d=depth: float(d[py, px]))
    assert checked > 50


# ---------------------------------------------------------------------------------- COLMAP


def test_pycolmap_reads_the_text_model(cube_formats):
    out, half = cube_formats
    rec = pycolmap.Reconstruction(str(out / "colmap" / "sparse" / "0"))
    assert len(rec.cameras) == 1 and len(rec.images) == FRAMES
    camera = rec.cameras[1]
    assert camera.model_name == "PINHOLE" and (camera.width, camera.height) == (160, 120)
    checked = 0
    for image_id, image in rec.images.items():
        assert (out / "rgb" / image.name).is_file() and image.name == f"{image_id:04d}.png"
        depth = cv2.imread(str(out / "depth16" / image.name), cv2.IMREAD_ANYDEPTH) / 1000.0
        cam_from_world = image.cam_from_world()

        def project(p, image=image, pose=cam_from_world):
            u, v = image.project_point(p)
            return math.floor(u), math.floor(v), (pose * p)[2]

        checked += _check_view(out, half, image_id, project,
                               lambda px, py, d=depth: float(d[py, px]))
        # the back-projected points: observed where they project, on the cube's surface
        for idx in image.get_observation_point2D_idxs():
            point2d = image.point2D(idx)
            xyz = rec.points3D[point2d.point3D_id].xyz
            np.testing.assert_allclose(image.project_point(xyz), point2d.xy, atol=1e-6)
            assert np.max(np.abs(xyz) / half) == pytest.approx(1.0, abs=0.02)
    assert checked > 50
    assert len(rec.points3D) > 1000


# ---------------------------------------------------------------------------------- OpenCV


def test_opencv_cameras_project_with_cv2(cube_formats):
    out, half = cube_formats
    data = _json(out / "opencv_cameras.json")
    checked = 0
    for view in data["views"]:
        k, rot, t = (np.array(view[key], dtype=float) for key in ("K", "R", "t"))
        np.testing.assert_allclose(np.array(view["world_to_camera"])[:3], np.c_[rot, t])
        rvec, _ = cv2.Rodrigues(rot)
        exr = _cv_exr(out / view["depth_exr"])
        mm = cv2.imread(str(out / view["depth16"]), cv2.IMREAD_ANYDEPTH)

        def project(p, rvec=rvec, rot=rot, t=t, k=k):
            (uv,), _ = cv2.projectPoints(p.reshape(1, 3), rvec, t, k, None)
            return round(uv[0][0]), round(uv[0][1]), (rot @ p + t)[2]

        checked += _check_view(out, half, view["frame"], project,
                               lambda px, py, d=exr: float(d[py, px]))
        checked += _check_view(out, half, view["frame"], project,
                               lambda px, py, d=mm: d[py, px] / 1000.0)
    assert checked > 100


def test_partly_rendered_transforms_json_loads_in_nerfstudio(tmp_path):
    """Before a subject is complete (one chunk of three frames), transforms.json is the worker's
    own; nerfstudio must read it too: a known camera model, no EXR as depth, masks as mask_path."""
    import subjects
    from orbitfarm.submitter.files.imageio import read_png
    from orbitfarm.submitter.launch.local import run_worker
    from orbitfarm.submitter.launch.runtime import Runtime
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject, WorkerTask

    info = subjects.make_subject(sys.executable, tmp_path / "cube.blend", "cube")
    settings = RenderSettings(frames=3, width=32, height=24, samples=1, passes=["mask"])
    task = WorkerTask(settings=settings, frames=[1],  # the first chunk of a job's subject
                      subjects=[Subject(blend=info["path"], out=str(tmp_path / "out" / "cube"))])
    assert run_worker(Runtime("python", sys.executable), task, echo=False) == 0
    out = tmp_path / "out" / "cube"
    meta = _json(out / "transforms.json")
    assert meta["camera_model"] in _nerfstudio_camera_models()
    assert len(meta["frames"]) == 3 and not (out / "rgb" / "0002.png").exists()
    assert all("depth_file_path" not in f for f in meta["frames"])  # depth16 comes at the end
    first = meta["frames"][0]
    mask = read_png(out / first["mask_path"])
    assert mask.channels == 1 and (mask.width, mask.height) == (32, 24)
