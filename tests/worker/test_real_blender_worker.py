"""The worker on a real Blender build without OpenImageDenoise and without numpy (Debian's).

The executable comes from ORBITFARM_TEST_BLENDER (tools/real_blender.sh makes one); without it
these tests are skipped. The subjects are built by that same Blender (it cannot read files of
newer versions).
"""

from __future__ import annotations

import os
import subprocess

import pytest
from worker_helpers import TINY, depth, result

pytestmark = [pytest.mark.realblender, pytest.mark.render]


@pytest.fixture(scope="module")
def blender() -> str:
    path = os.environ.get("ORBITFARM_TEST_BLENDER")
    if not path:
        pytest.skip("ORBITFARM_TEST_BLENDER is not set (tools/real_blender.sh makes one)")
    return path


def _probe(blender: str, expression: str) -> str:
    proc = subprocess.run([blender, "-b", "--factory-startup", "--python-expr",
                           f"print('PROBE', {expression}, flush=True)"],
                          capture_output=True, text=True, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return line[len("PROBE "):]


def test_the_build_is_the_one_these_tests_are_about(blender):
    assert _probe(blender, "__import__('_cycles').with_openimagedenoise") == "False"
    assert _probe(blender, "__import__('importlib.util').util.find_spec('numpy') is None") == \
        "True"


def test_denoising_scene_renders_without_oidn_and_says_so(tmp_path, blender, subjects, render):
    info = subjects.make_subject(blender, tmp_path / "cube.blend", "cube", denoise=True)
    code, log = render([info["path"]], tmp_path / "out", "--blender", blender, "--frames", "3",
                       *TINY)
    assert code == 0, log
    res = result(tmp_path / "out" / "cube")
    assert res["status"] == "rendered", res["reason"]
    assert res["denoiser"] == ""
    assert any("no OpenImageDenoise" in w for w in res["warnings"]), res["warnings"]
    assert "denoising turned off" in log
    assert "Failed to denoise" not in log
    # The frame checks ran (pure Python, no numpy) and saw the cube.
    assert all(f["subject_pixels"] > 0 for f in res["frames"].values())
    assert (depth(tmp_path / "out" / "cube", 1) < 1e9).any()
    assert res["original_center"] == pytest.approx(info["center"], abs=1e-4)


def test_animation_and_missing_files_on_the_real_build(tmp_path, blender, subjects, render):
    moving = subjects.make_subject(blender, tmp_path / "moving.blend", "animated")
    textured = subjects.make_subject(blender, tmp_path / "tex.blend", "textured")
    os.unlink(textured["texture"])
    code, log = render([moving["path"], textured["path"]], tmp_path / "out", "--blender",
                       blender, "--frames", "2", *TINY)
    assert code == 0, log
    assert result(tmp_path / "out" / "moving")["status"] == "skipped"
    tex = result(tmp_path / "out" / "tex")
    assert tex["status"] == "rendered"
    assert any("missing image" in w for w in tex["warnings"]), tex


def test_passes_lighting_and_movie_on_the_real_build(tmp_path, blender, subjects, render):
    """Compositor passes, the rig, a colour background and Blender's FFmpeg on Debian's build."""
    import json

    import numpy as np
    from orbitfarm.submitter.files.imageio import read_exr, read_png

    info = subjects.make_subject(blender, tmp_path / "cube.blend", "cube", material="diffuse")
    code, log = render([info["path"]], tmp_path / "out", "--blender", blender, "--frames", "3",
                       "--pass", "mask", "--pass", "normal", "--pass", "albedo",
                       "--lighting", "three-point", "--background", "white", "--video", "mp4",
                       *TINY)
    assert code == 0, log
    out = tmp_path / "out" / "cube"
    res = result(out)
    assert res["lighting"]["mode"] == "three-point" and res["video"]["frames"] == 3
    assert (out / "turntable.mp4").stat().st_size > 0
    hits = np.asarray(depth(out, 3)) < 1e10
    assert np.array_equal(read_png(out / "mask" / "0003.png").array[..., 0] == 255, hits)
    world, camera = (np.stack([np.asarray(read_exr(out / f / "0003.exr").channel(c))
                               for c in "XYZ"], axis=-1)
                     for f in ("normal_world", "normal_camera"))
    pose = np.array(next(f["transform_matrix"] for f in json.loads(
        (out / "transforms.json").read_text())["frames"] if f["frame"] == 3))
    assert np.abs(camera[hits] - world[hits] @ pose[:3, :3]).max() < 5e-3
    albedo = read_exr(out / "albedo" / "0003.exr")
    assert np.median(np.asarray(albedo.channel("R"))[hits]) == pytest.approx(0.8, abs=2e-3)
    assert tuple(read_png(out / "rgb" / "0003.png").array[0, 0][:3]) == (255, 255, 255)
