"""The writers' own behaviour: pure-Python paths, unit limits, settings, `orbitfarm export`."""

from __future__ import annotations

import json
import shutil
import sys

import cv2
import numpy as np
import pytest
from format_truth import FRAMES, HOLDOUT
from orbitfarm.submitter import cli
from orbitfarm.submitter.files import imageio
from orbitfarm.submitter.formats import depth16, png16, write_formats
from orbitfarm.submitter.formats.cameras import split
from orbitfarm.submitter.formats.exr_channel import name_depth_channel
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError

FORMAT_FILES = ["transforms_train.json", "transforms_test.json", "opencv_cameras.json",
                "colmap/sparse/0/cameras.txt", "colmap/sparse/0/images.txt",
                "colmap/sparse/0/points3D.txt"]


def test_png16_pure_python_matches_numpy_and_opencv():
    values = np.array([[0, 1, 255, 256], [65535, 1000, 4242, 7]], dtype=np.uint16)
    fast = png16.encode_gray16(values, 4, 2)
    slow = png16.encode_gray16(values.tolist(), 4, 2)
    assert fast == slow
    decoded = cv2.imdecode(np.frombuffer(fast, np.uint8), cv2.IMREAD_ANYDEPTH)
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize("numpy_on", [True, False])
def test_millimetres_no_hit_and_out_of_range(monkeypatch, numpy_on):
    if not numpy_on:
        monkeypatch.setattr(depth16, "np", None)
    values = [[1.0, 0.0004, 1e10], [65.5349, 65.5356, float("inf")]]
    mm, far = depth16._to_mm(np.array(values) if numpy_on else values, 3, 2)
    assert np.asarray(mm).tolist() == [[1000, 0, 0], [65535, 0, 0]]
    assert far == 1  # 65.5356 m does not fit: written as 0 and counted, never clipped


def test_depth16_without_numpy_is_byte_identical(cube_formats, tmp_path, monkeypatch):
    out, _ = cube_formats
    exr = out / "depth" / "0002.exr"
    depth16.depth_exr_to_png16(exr, tmp_path / "fast.png")
    for module in (imageio, depth16, png16):  # Debian's Blender has no numpy
        monkeypatch.setattr(module, "np", None)
    depth16.depth_exr_to_png16(exr, tmp_path / "slow.png")
    assert (tmp_path / "slow.png").read_bytes() == (tmp_path / "fast.png").read_bytes()
    assert (tmp_path / "fast.png").read_bytes() == (out / "depth16" / "0002.png").read_bytes()


def test_holdout_split():
    views = list(range(10))
    assert split(views, 0) == (views, [])  # type: ignore[arg-type]
    train, test = split(views, 4)  # type: ignore[arg-type]
    assert test == [0, 4, 8] and train == [1, 2, 3, 5, 6, 7, 9]


def test_formats_are_settings_outside_the_hash():
    base = RenderSettings()
    assert base.formats == [] and base.holdout == 8
    other = RenderSettings(formats=["colmap", "opencv"], holdout=2).validate()
    assert other.settings_hash() == base.settings_hash()  # resume keeps the frames
    with pytest.raises(SettingsError, match="--format must be among"):
        RenderSettings(formats=["ply"]).validate()
    with pytest.raises(SettingsError, match="--holdout"):
        RenderSettings(holdout=-1).validate()
    assert RenderSettings.from_dict(other.to_dict()) == other  # task files and plan.json


def test_cli_format_options_reach_the_settings():
    from orbitfarm.submitter.cli.options import settings_from_args

    args = cli.build_parser().parse_args(
        ["render", "x.blend", "--out", "o", "--format", "colmap", "--format", "colmap",
         "--format", "nerf-synthetic", "--holdout", "5"])
    settings = settings_from_args(args)
    assert settings.formats == ["colmap", "nerf-synthetic"] and settings.holdout == 5
    args = cli.build_parser().parse_args(["submit", "x.blend", "--out", "o"])
    assert settings_from_args(args).formats == [] and settings_from_args(args).holdout == 8


def _copy(out, tmp_path):
    dst = tmp_path / "cube"
    shutil.copytree(out, dst)
    return dst


def test_export_rewrites_the_same_files(cube_formats, tmp_path, capfd):
    out, _ = cube_formats
    dst = _copy(out, tmp_path)
    for rel in FORMAT_FILES:
        (dst / rel).unlink()
    shutil.rmtree(dst / "depth16")
    code = cli.main(["export", str(tmp_path), "--format", "nerf-synthetic", "--format", "colmap",
                     "--format", "opencv", "--holdout", str(HOLDOUT)])
    assert code == 0, capfd.readouterr().err
    for rel in [*FORMAT_FILES, "transforms.json",
                *(f"depth16/{k:04d}.png" for k in range(1, FRAMES + 1))]:
        assert (dst / rel).read_bytes() == (out / rel).read_bytes(), rel
    # a second export changes nothing
    before = {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    assert write_formats(dst, ["colmap", "opencv", "nerf-synthetic"], HOLDOUT) == []
    assert {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()} == before


def test_export_converts_a_folder_from_before_the_formats(cube_formats, tmp_path, capfd):
    out, _ = cube_formats
    dst = _copy(out, tmp_path)
    shutil.rmtree(dst / "depth16")
    meta = json.loads((dst / "transforms.json").read_text())
    meta["camera_model"] = "OPENGL"  # as orbitfarm wrote it before issue 11
    for frame in meta["frames"]:
        frame["depth_file_path"] = f"depth/{frame['frame']:04d}.exr"
        frame.pop("depth_exr_path")
    (dst / "transforms.json").write_text(json.dumps(meta))
    for exr in (dst / "depth").iterdir():
        assert name_depth_channel(exr, "V")
    assert cli.main(["export", str(dst)]) == 0
    assert "ok" in capfd.readouterr().out
    meta = json.loads((dst / "transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV"
    assert meta["frames"][0]["depth_file_path"] == "depth16/0001.png"
    assert meta["frames"][0]["depth_exr_path"] == "depth/0001.exr"
    for exr in (dst / "depth").iterdir():
        assert imageio.read_depth_exr(exr).channel_names == ["Y"]
        assert cv2.imread(str(exr), cv2.IMREAD_UNCHANGED) is not None


def test_partly_rendered_subject_lists_what_is_there(cube_formats, tmp_path):
    out, _ = cube_formats
    dst = _copy(out, tmp_path)
    (dst / "rgb" / "0004.png").unlink()
    (dst / "depth" / "0004.exr").unlink()
    warnings = write_formats(dst, ["opencv", "colmap"], HOLDOUT)
    assert warnings == ["1 of 6 frame(s) are not rendered (yet); the formats list only the "
                        "rendered ones"]
    views = json.loads((dst / "opencv_cameras.json").read_text())["views"]
    assert [v["frame"] for v in views] == [1, 2, 3, 5, 6]
    assert len(json.loads((dst / "transforms.json").read_text())["frames"]) == 6  # all poses


def test_export_errors_are_one_line(tmp_path, capfd):
    assert cli.main(["export", str(tmp_path / "missing")]) == 2
    assert cli.main(["export", str(tmp_path)]) == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "transforms.json").write_text("{}")
    assert cli.main(["export", str(tmp_path / "bad")]) == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert err[0].endswith("missing: no such folder")
    assert "no rendered subject folder" in err[1]
    assert "not an orbitfarm transforms.json" in err[2] and len(err) == 3


@pytest.mark.render
def test_worker_writes_formats_when_the_last_chunk_ends(tmp_path):
    import subjects
    from orbitfarm.submitter.launch.local import run_worker
    from orbitfarm.submitter.launch.runtime import Runtime
    from orbitfarm.submitter.model.task import Subject, WorkerTask

    info = subjects.make_subject(sys.executable, tmp_path / "cube.blend", "cube")
    out = tmp_path / "out"
    settings = RenderSettings(frames=4, width=48, height=36, samples=1, formats=["opencv"])
    runtime = Runtime("python", sys.executable)
    done: list[str] = []
    for chunk, formats_written in (([1, 2], False), ([3, 4], True)):
        task = WorkerTask(settings=settings, subjects=[Subject(info["path"], str(out))],
                          frames=chunk)
        assert run_worker(runtime, task, echo=False) == 0
        assert (out / "opencv_cameras.json").is_file() is formats_written
        # Each frame's 16-bit depth PNG is made beside its check, as the frame is published,
        # and is what the writer makes from the EXR afterwards (write_formats keeps it).
        done += [f"{k:04d}.png" for k in chunk]
        assert sorted(p.name for p in (out / "depth16").iterdir()) == done
        for k in chunk:
            depth16.depth_exr_to_png16(out / "depth" / f"{k:04d}.exr", tmp_path / "again.png")
            assert (tmp_path / "again.png").read_bytes() == \
                (out / "depth16" / f"{k:04d}.png").read_bytes()
        # every published depth EXR already has the OpenCV-readable channel name
        for exr in (out / "depth").iterdir():
            assert imageio.read_depth_exr(exr).channel_names == ["Y"]
    views = json.loads((out / "opencv_cameras.json").read_text())["views"]
    assert [v["frame"] for v in views] == [1, 2, 3, 4]
    assert json.loads((out / "transforms.json").read_text())["camera_model"] == "OPENCV"


@pytest.mark.render
def test_depth_beyond_the_16_bit_range_is_a_recorded_warning(tmp_path):
    """A 200-unit cube is seen from farther than 65.535 units: its depth16 PNGs can only say
    "unknown" (0), and result.json says so; the EXRs keep the real depth."""
    import subjects
    from orbitfarm.submitter.launch.local import run_worker
    from orbitfarm.submitter.launch.runtime import Runtime
    from orbitfarm.submitter.model.task import Subject, WorkerTask

    info = subjects.make_subject(sys.executable, tmp_path / "big.blend", "cube", size=200.0)
    out = tmp_path / "out"
    settings = RenderSettings(frames=2, width=32, height=24, samples=1)
    task = WorkerTask(settings=settings, subjects=[Subject(info["path"], str(out))])
    assert run_worker(Runtime("python", sys.executable), task, echo=False) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "rendered"
    hits = 0
    for k in (1, 2):
        exr = imageio.read_depth_exr(out / "depth" / f"{k:04d}.exr")
        depth = np.asarray(exr.depth, dtype=np.float64)
        hit = depth < 1e9
        assert hit.any() and (depth[hit] > 65.535).all()
        hits += int(hit.sum())
        mm = cv2.imread(str(out / "depth16" / f"{k:04d}.png"), cv2.IMREAD_ANYDEPTH)
        assert mm.dtype == np.uint16 and not mm.any()
    warned = [w for w in result["warnings"] if w.startswith("depth16:")]
    assert warned == [f"depth16: {hits} pixel(s) in 2 frame(s) (first: 1) are farther than "
                      "65.535 scene units and were written as 0 (unknown); the EXRs hold them"]


def test_colmap_points_from_a_subset_of_views(cube_formats, tmp_path, monkeypatch):
    import pycolmap
    from orbitfarm.submitter.formats import colmap

    out, _ = cube_formats
    dst = _copy(out, tmp_path)
    monkeypatch.setattr(colmap, "MAX_POINT_VIEWS", 2)  # as a 360-frame orbit with 30
    assert write_formats(dst, ["colmap"], HOLDOUT) == []
    rec = pycolmap.Reconstruction(str(dst / "colmap" / "sparse" / "0"))
    observed = {i: rec.images[i].num_points2D() for i in rec.images}
    assert sorted(observed) == list(range(1, FRAMES + 1))  # images without points still load
    assert [i for i, n in sorted(observed.items()) if n] == [1, 4]
    assert len(rec.points3D) == sum(observed.values())


@pytest.mark.render
def test_submitted_job_stores_formats_and_chunks_write_them(tmp_path, monkeypatch):
    import subjects
    from orbitfarm.submitter import jobs

    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    subjects.make_subject(sys.executable, tmp_path / "src" / "cube.blend", "cube")
    settings = RenderSettings(frames=4, width=48, height=36, samples=1,
                              formats=["nerf-synthetic", "colmap"], holdout=2).validate()
    job = jobs.submit(jobs.SubmitRequest(files=[str(tmp_path / "src")], out=str(tmp_path / "out"),
                                         settings=settings, chunk=2,
                                         target_options={"workers": 2}))
    assert job.settings == settings  # stored in the job directory (plan.json) for the workers
    st = jobs.wait(job, interval=0.3, timeout=240)
    assert st.finished and {s.state for s in st.subjects} == {"rendered"}, jobs.logs(job)
    out = tmp_path / "out" / "cube"
    test = json.loads((out / "transforms_test.json").read_text())["frames"]
    assert [f["frame"] for f in test] == [1, 3]
    assert len(list((out / "depth16").iterdir())) == 4
    assert (out / "colmap" / "sparse" / "0" / "points3D.txt").is_file()
