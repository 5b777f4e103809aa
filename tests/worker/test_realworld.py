"""Issue 9: real-world scene classes are centred, judged and reported right, never silently wrong.

Every fixture is built with bpy (tests/worker/realworld.py) together with a ground truth computed
there independently of the worker: centres to 1e-3 of the box size, animation verdicts from
stepping every frame with render visibility. The rendered depth maps are unprojected too, so a
subject rendered off-centre, cropped, doubled or missing a part fails here even if the recorded
centre looked right.
"""

from __future__ import annotations

import math
import textwrap

import pytest
import realworld
from orbitfarm.submitter import cli
from orbitfarm.worker import orbit
from worker_helpers import depth, result, rgb, transforms

pytestmark = [pytest.mark.render, pytest.mark.compat]

ARGS = ["--frames", "8", "--resolution", "96x72", "--samples", "2", "--elevation", "25"]
CENTRED = ("instanced_collection", "mixed_types", "render_only", "outside_range",
           "compositing_off", "sequencer", "missing_texture")
VERDICTS = ("bounce", "hidden_mover", "render_wave", "frame_zero", "outside_range",
            "instanced_collection", "render_only")


@pytest.fixture(scope="module")
def world(tmp_path_factory, bpy_python):
    root = tmp_path_factory.mktemp("realworld")
    info = realworld.build(bpy_python, root / "blends")
    out = root / "out"
    tilted = [info[k]["path"] for k in realworld.KINDS if k != "edge_on"]
    cli.main(["render", *tilted, "--out", str(out), *ARGS])
    cli.main(["render", info["edge_on"]["path"], "--out", str(out), "--frames", "4",
              "--resolution", "48x36", "--samples", "2", "--elevation", "0"])
    return info, out


def _size(info: dict) -> float:
    return max(b - a for a, b in zip(info["bbox_min"], info["bbox_max"], strict=True))


@pytest.mark.parametrize("kind", CENTRED)
def test_centre_matches_the_truth(world, kind):
    info, out = world
    res = result(out / kind)
    assert res["status"] == "rendered", res["reason"]
    tol = 1e-3 * _size(info[kind])
    assert res["original_center"] == pytest.approx(info[kind]["center"], abs=tol)
    assert transforms(out / kind)["centering_offset"] == pytest.approx(
        [-c for c in info[kind]["center"]], abs=tol)


def _rendered_box(out, frames: int) -> tuple[list[float], list[float]]:
    """World box (centred frame) of every pixel that hit the subject in every frame."""
    t = transforms(out)
    intr = orbit.Intrinsics(t["fl_x"], t["fl_y"], t["cx"], t["cy"], t["w"], t["h"])
    lo, hi = [math.inf] * 3, [-math.inf] * 3
    for frame in t["frames"]:
        d = depth(out, frame["frame"])
        for v in range(intr.h):
            for u in range(intr.w):
                z = float(d[v][u])
                if z < 1e9:
                    p = orbit.unproject(u + 0.5, v + 0.5, z, frame["transform_matrix"], intr)
                    lo = [min(a, b) for a, b in zip(lo, p, strict=True)]
                    hi = [max(a, b) for a, b in zip(hi, p, strict=True)]
    return lo, hi


@pytest.mark.parametrize("kind", ["instanced_collection", "mixed_types", "render_only"])
def test_rendered_pixels_fill_exactly_the_true_box(world, kind):
    """Nothing cropped, doubled or missing: the rendered surface spans the true box."""
    info, out = world
    truth = info[kind]
    half = [(b - a) / 2 for a, b in zip(truth["bbox_min"], truth["bbox_max"], strict=True)]
    lo, hi = _rendered_box(out / kind, 8)
    tol = 0.08 * _size(truth)  # a few pixels at 96x72
    for axis in range(3):
        assert lo[axis] == pytest.approx(-half[axis], abs=tol), (axis, lo, hi, half)
        assert hi[axis] == pytest.approx(half[axis], abs=tol), (axis, lo, hi, half)


@pytest.mark.parametrize("kind", VERDICTS)
def test_animation_verdict_matches_stepping_every_frame(world, kind):
    info, out = world
    res = result(out / kind)
    if info[kind]["animated"]:
        assert res["status"] == "skipped", res
        assert res["reason"].startswith("animated subject:") and res["animation"]
        assert not res.get("frames")
    else:
        assert res["status"] == "rendered", res["reason"]
        assert res["animation"] == []


def test_hidden_and_render_only_motion_is_named(world):
    _, out = world
    assert "HiddenMover" in result(out / "hidden_mover")["reason"]
    assert "Grid" in result(out / "render_wave")["reason"]
    assert "frames 0 and" in result(out / "frame_zero")["reason"]  # the range starts at 0


def test_ocean_is_never_rendered_as_static(world):
    info, out = world
    assert info["ocean"]["animated"]
    res = result(out / "ocean")
    assert res["status"] in ("skipped", "failed"), res
    assert res["reason"].startswith("animated subject:") or "bounding box" in res["reason"]


@pytest.mark.parametrize("kind, words", [("nan_vertex", "not finite"),
                                         ("huge_vertex", "implausible bounding box")])
def test_absurd_bounds_fail_the_subject(world, kind, words):
    _, out = world
    res = result(out / kind)
    assert res["status"] == "failed" and words in res["reason"], res
    assert not (out / kind / "rgb").exists()


def test_a_subject_no_frame_shows_fails(world):
    _, out = world
    res = result(out / "edge_on")
    assert res["status"] == "failed", res
    assert "covers no pixel in any of the 4 frames" in res["reason"]
    assert res["warnings"] == [f"frame {k:04d}: the subject covers no pixel" for k in range(1, 5)]
    assert all(f["subject_pixels"] == 0 for f in res["frames"].values())


@pytest.mark.parametrize("kind", ["compositing_off", "sequencer"])
def test_the_worker_owns_its_post_processing(world, kind):
    _, out = world
    res = result(out / kind)
    assert res["status"] == "rendered" and res["frames_done"] == 8, res["reason"]
    for k in (1, 5):
        d = depth(out / kind, k)
        assert float(d[36][48]) < 1e9  # the cube is in the middle of every frame
        r, g, b = rgb(out / kind, k)[36][48][:3]
        assert r > 200 and b < 120, (r, g, b)  # the red cube, not the sequencer's blue strip
    assert all(f["subject_pixels"] > 0 for f in res["frames"].values())


def test_missing_files_are_recorded(world):
    info, out = world
    tex = result(out / "missing_texture")
    assert tex["status"] == "rendered"
    assert any("missing image" in w and "gone.png" in w for w in tex["warnings"]), tex
    both = result(out / "library_and_local")
    assert both["status"] == "rendered"
    assert any("missing linked library" in w and "library_and_local_lib.blend" in w
               for w in both["warnings"]), both
    other = result(out / "missing_font_and_cache")
    assert any("missing font" in w and "gone_font.woff2" in w for w in other["warnings"]), other
    assert any("missing cache folder" in w and "gone_cache" in w for w in other["warnings"]), \
        other
    only = result(out / "missing_library")
    assert only["status"] == "failed"
    assert "missing_library_lib.blend" in only["reason"] and "linked librar" in only["reason"]
    assert only["warnings"]


def test_blender_lines_are_marked_as_blenders(world, render, tmp_path):
    info, _ = world
    code, log = render([info["missing_library"]["path"]], tmp_path / "out", *ARGS)
    assert code != 0
    lines = [x for x in log.splitlines() if "missing_library_lib.blend" in x]
    assert any(x.startswith("[blender] ") for x in lines), log
    assert all(x.startswith(("[blender] ", "[orbitfarm] ", "orbitfarm ")) for x in lines), lines


def test_the_worker_needs_no_numpy(tmp_path, bpy_python, subjects, render, monkeypatch):
    """Debian's Blender has no numpy: the whole worker runs with numpy made unimportable."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        sys.modules["numpy"] = None  # any `import numpy` now raises ImportError
    """))
    monkeypatch.setenv("PYTHONPATH", str(blocker))
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "2", "--resolution",
                       "48x36", "--samples", "2")
    assert code == 0, log
    res = result(tmp_path / "out" / "cube")
    assert res["status"] == "rendered"
    assert all(f["subject_pixels"] > 0 for f in res["frames"].values())
    assert res["original_center"] == pytest.approx(info["center"], abs=1e-4)
