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
