"""Resume, bad inputs beside good ones, awkward paths, scripts that must not run, timeouts."""

from __future__ import annotations

import json
import os

import pytest
from worker_helpers import TINY, depth, folder_bytes, result

pytestmark = pytest.mark.render


def _mtimes(out):
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns
            for p in sorted(out.glob("*/*.*")) if p.parent.name in ("rgb", "depth")}


@pytest.mark.compat
def test_resume_rerender_missing_and_force(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    out = tmp_path / "out"
    args = ["--frames", "4", *TINY]
    code, _ = render([info["path"]], out, *args)
    assert code == 0
    first = _mtimes(out / "cube")
    assert len(first) == 8

    code, log = render([info["path"]], out, *args)
    assert code == 0 and "0 of 4 frames to render" in log
    code, log = render([info["path"]], out, *args, "--force")
    assert code == 0 and "frame 4/4" in log
    assert "Fra:" not in log and "Saved:" not in log  # Blender's chatter stays out of logs
    first = _mtimes(out / "cube")
    assert _mtimes(out / "cube") == first

    (out / "cube" / "depth" / "0002.exr").unlink()
    code, log = render([info["path"]], out, *args)
    assert code == 0 and "1 of 4 frames to render" in log
    again = _mtimes(out / "cube")
    changed = {k for k in first if again[k] != first[k]}
    assert changed == {"depth/0002.exr", "rgb/0002.png"}
    assert (depth(out / "cube", 2) < 1e9).any()

    # --force redoes every frame.
    code, log = render([info["path"]], out, *args, "--force")
    assert code == 0 and "4 of 4 frames to render" in log
    assert all(_mtimes(out / "cube")[k] != again[k] for k in again)
    # Other settings never silently replace (or mix with) the frames already there...
    before = _mtimes(out / "cube")
    other = ["--frames", "4", "--resolution", "40x30", "--samples", "2"]
    code, log = render([info["path"]], out, *other)
    assert code != 0 and "rendered with other settings" in log and "--force" in log
    assert _mtimes(out / "cube") == before
    # ...unless asked to.
    code, log = render([info["path"]], out, *other, "--force")
    assert code == 0 and "4 of 4 frames to render" in log
    assert result(out / "cube")["frames_done"] == 4
    assert result(out / "cube")["status"] == "rendered"


def test_corrupt_and_missing_beside_a_good_one(tmp_path, bpy_python, subjects, render):
    good = subjects.make_subject(bpy_python, tmp_path / "good.blend", "cube")["path"]
    corrupt = subjects.write_corrupt_blend(tmp_path / "corrupt.blend")
    missing = tmp_path / "missing.blend"
    empty = subjects.make_subject(bpy_python, tmp_path / "empty.blend", "empty")["path"]
    out = tmp_path / "out"
    code, log = render([corrupt, missing, good, empty], out, "--frames", "2", *TINY)
    assert code != 0
    assert "Traceback" not in log
    assert result(out / "good")["status"] == "rendered"
    assert len(list((out / "good" / "rgb").iterdir())) == 2
    bad = result(out / "corrupt")
    assert bad["status"] == "failed" and "not a readable .blend" in bad["reason"]
    gone = result(out / "missing")
    assert gone["status"] == "failed" and "file not found" in gone["reason"]
    nothing = result(out / "empty")
    assert nothing["status"] == "skipped" and "no renderable geometry" in nothing["reason"]


def test_a_scene_with_nothing_to_render_fails_the_call(tmp_path, bpy_python, subjects, render):
    """Skipped as animated is fine (exit 0); skipped because there is no mesh is bad input."""
    empty = subjects.make_subject(bpy_python, tmp_path / "empty.blend", "empty")["path"]
    code, log = render([empty], tmp_path / "out", "--frames", "2", *TINY)
    assert code != 0
    assert "empty: skipped" in log
    assert result(tmp_path / "out" / "empty")["status"] == "skipped"


def test_folders_are_searched_and_equal_stems_kept_apart(tmp_path, bpy_python, subjects, render):
    for folder in ("a", "b"):
        (tmp_path / "src" / folder).mkdir(parents=True)
        subjects.make_subject(bpy_python, tmp_path / "src" / folder / "cube.blend", "cube")
    out = tmp_path / "out"
    code, log = render([tmp_path / "src"], out, "--frames", "2", "--frame-range", "1", *TINY)
    assert code == 0, log
    assert "2 files are called cube.blend" in log
    for name in ("a_cube", "b_cube"):
        assert result(out / name)["status"] == "rendered"
        assert (depth(out / name, 1) < 1e9).any()
    code, log = render([tmp_path / "nothing-here"], out)  # a missing file fails, clearly
    assert code != 0 and "file not found" in result(out / "nothing-here")["reason"]


def test_awkward_paths_and_embedded_scripts_never_run(tmp_path, bpy_python, subjects, render):
    weird = tmp_path / "we ird 'q' \"dq\" $(touch PWNED) ünï"
    info = subjects.make_subject(bpy_python, weird / "scène $(x).blend", "scripted")
    out = weird / "out dir"
    code, log = render([info["path"]], out, "--frames", "2", *TINY)
    assert code == 0, log
    res = result(out / "scène $(x)")
    assert res["status"] == "rendered"
    assert not os.path.exists(info["marker"]), "a script embedded in the .blend ran"
    assert not list(tmp_path.rglob("PWNED"))


def test_timeout_fails_the_subject_on_its_behalf(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "slow.blend", "cube")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "2", *TINY,
                       "--timeout", "0.3")
    assert code != 0
    res = result(tmp_path / "out" / "slow")
    assert res["status"] == "failed" and "timed out" in res["reason"]


def test_transparent_background(tmp_path, bpy_python, subjects, render):
    from worker_helpers import rgb

    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    code, _ = render([info["path"]], tmp_path / "out", "--frames", "4", "--frame-range", "4",
                     "--transparent", *TINY)
    assert code == 0
    img = rgb(tmp_path / "out" / "cube", 4)
    assert img.shape[2] == 4 and img[0, 0, 3] == 0 and img[18, 24, 3] == 255
    hit = depth(tmp_path / "out" / "cube", 4) < 1e9
    alpha = img[..., 3]
    # Depth is the first sample only; alpha is anti-aliased, so compare away from edges.
    assert hit[alpha == 255].all() and not hit[alpha == 0].any()


def test_frame_failing_its_check_is_retried_once_then_fails(tmp_path, bpy_python, subjects,
                                                            render):
    info = subjects.make_subject(bpy_python, tmp_path / "ghost.blend", "invisible")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "4", *TINY)
    assert code != 0
    assert log.count("frame 1 failed its check: blank frame") == 2  # rendered again once
    res = result(tmp_path / "out" / "ghost")
    assert res["status"] == "failed"
    assert "frame 1 failed its check twice: blank frame" in res["reason"]
    assert not (tmp_path / "out" / "ghost" / "rgb" / "0001.png").exists()
    assert not list((tmp_path / "out" / "ghost").glob(".tmp-*"))


@pytest.mark.compat
def test_a_refused_rerun_changes_nothing_and_dead_workers_scratch_is_removed(
        tmp_path, bpy_python, subjects, render):
    # Issue 16 item 1: a rerun with other settings (--frames 8 over a 4-frame render) without
    # --force is refused; transforms.json used to describe the new orbit already.
    import socket
    import subprocess
    import sys

    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    out = tmp_path / "out"
    code, _ = render([info["path"]], out, "--frames", "4", *TINY)
    assert code == 0
    folder = out / "cube"
    # Item 10: scratch folders of killed workers: one of this host whose process is gone, one
    # of a live process (kept), one of an older version untouched for two days.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = folder / f".tmp-{socket.gethostname()}-{gone.pid}"
    live = folder / f".tmp-{socket.gethostname()}-{os.getppid()}"
    old = folder / ".tmp-12345"
    for scratch in (dead, live, old):
        scratch.mkdir()
        (scratch / "0001-rgb.png").write_bytes(b"half a frame")
    os.utime(old, (1, 1))
    before = folder_bytes(folder)
    code, log = render([info["path"]], out, "--frames", "8", *TINY)
    assert code != 0 and "rendered with other settings" in log
    assert folder_bytes(folder) == before  # transforms.json, result.json, frames: all as they were
    assert len(json.loads((folder / "transforms.json").read_text())["frames"]) == 4
    code, log = render([info["path"]], out, "--frames", "4", *TINY)
    assert code == 0 and "0 of 4 frames to render" in log
    assert not dead.exists() and not old.exists() and live.is_dir()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-")) == [live.name]
