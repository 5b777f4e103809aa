"""The worker through a real Blender executable, three ways, against the bpy wheel's outputs.

Every node runs the worker as `blender -b ... --python-expr <boot>`, never the wheel; these tests
prove that path: `orbitfarm render --blender PATH`, a local target profile with `blender:`, and
the raw launch line from submitter/launch.py. Depth must match the wheel's render of the same file
within 1e-4 (planar depth is geometry, not noise) and camera poses must be identical.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import subjects
from orbitfarm.submitter import cli, jobs
from orbitfarm.submitter.files.imageio import read_exr
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.launch.runtime import Runtime, worker_argv, worker_env
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.task import Subject, WorkerTask

pytestmark = pytest.mark.realblender

FRAMES = 4
OPTIONS = ["--frames", str(FRAMES), "--resolution", "64x48", "--samples", "4",
           "--elevation", "20"]
DEPTH_TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="session")
def subject_blend(tmp_path_factory, bpy_python) -> Path:
    """A lit cube off the origin in front of a wall: depth has edges, steps and background."""
    folder = tmp_path_factory.mktemp("real-subject")
    info = subjects.make_subject(bpy_python, folder / "cube.blend", "cube",
                                 material="diffuse", location=(1.5, -0.5, 0.7))
    return Path(info["path"])


@pytest.fixture(scope="session")
def wheel_outputs(tmp_path_factory, subject_blend, bpy_python) -> Path:
    """The reference: the same subject rendered by the bpy wheel the suite runs on."""
    out = tmp_path_factory.mktemp("wheel-out")
    code = cli.main(["render", str(subject_blend), "--out", str(out),
                     "--python", bpy_python, *OPTIONS])
    assert code == 0
    return out / subject_blend.stem


def _depth(folder: Path, frame: int) -> list[float]:
    exr = read_exr(folder / "depth" / f"{frame:04d}.exr")
    assert list(exr.pixel_types.values()) == ["FLOAT"]
    return [float(v) for v in np.asarray(exr.channel(exr.channel_names[0])).ravel()]


def assert_same_as_wheel(real: Path, wheel: Path, version: str) -> None:
    """Same poses and intrinsics, depth within DEPTH_TOLERANCE, rendered by the real Blender."""
    result = json.loads((real / "result.json").read_text())
    assert result["status"] == "rendered", result
    assert str(result.get("blender_version", "")).startswith(version), (
        f"rendered by {result.get('blender_version')!r}, not the real Blender {version}")
    wheel_result = json.loads((wheel / "result.json").read_text())
    assert wheel_result["blender_version"] != result["blender_version"]  # two different Blenders

    poses, wheel_poses = (json.loads((d / "transforms.json").read_text()) for d in (real, wheel))
    for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
        assert poses[key] == wheel_poses[key], key
    assert [f["file_path"] for f in poses["frames"]] == [f["file_path"] for f in wheel_poses["frames"]]
    for a, b in zip(poses["frames"], wheel_poses["frames"], strict=True):
        assert a["transform_matrix"] == b["transform_matrix"], a["file_path"]

    for frame in range(1, FRAMES + 1):
        got, want = _depth(real, frame), _depth(wheel, frame)
        assert len(got) == len(want) == 64 * 48
        hits = [(g, w) for g, w in zip(got, want, strict=True) if w < 1e9]
        misses = sum(1 for g, w in zip(got, want, strict=True) if w >= 1e9 and g >= 1e9)
        assert len(hits) + misses == len(got), f"frame {frame}: background differs"
        assert len(hits) > 200, f"frame {frame}: the subject covers too few pixels to compare"
        worst = max(abs(g - w) for g, w in hits)
        assert worst <= DEPTH_TOLERANCE, f"frame {frame}: depth differs by up to {worst:.2e}"
        assert all(math.isfinite(g) for g, _ in hits)


def test_orbitfarm_render_with_blender_option(tmp_path, subject_blend, wheel_outputs,
                                               real_blender, real_blender_version):
    out = tmp_path / "out"
    code = cli.main(["render", str(subject_blend), "--out", str(out),
                     "--blender", real_blender, *OPTIONS])
    assert code == 0
    assert_same_as_wheel(out / subject_blend.stem, wheel_outputs, real_blender_version)


def test_local_target_profile_with_blender_key(tmp_path, subject_blend, wheel_outputs,
                                                real_blender, real_blender_version):
    config = tmp_path / "targets.yaml"
    config.write_text(json.dumps(
        {"default": "real", "targets": {"real": {"kind": "local", "blender": real_blender}}}))
    out = tmp_path / "out"
    code = cli.main(["submit", str(subject_blend), "--config", str(config), "--target", "real",
                     "--out", str(out), *OPTIONS, "--wait"])
    jobs_dir = out / ".orbitfarm" / "jobs"
    job = JobDir(next(jobs_dir.iterdir()))
    assert code == 0, jobs.logs(job)
    assert_same_as_wheel(out / subject_blend.stem, wheel_outputs, real_blender_version)


def test_raw_launch_line(tmp_path, subject_blend, wheel_outputs, real_blender,
                         real_blender_version, repo_root):
    out = tmp_path / "out" / subject_blend.stem
    settings = RenderSettings(frames=FRAMES, width=64, height=48, samples=4, elevation=20.0)
    task = WorkerTask(settings=settings,
                      subjects=[Subject(blend=str(subject_blend), out=str(out),
                                        name=subject_blend.stem)])
    task_file = tmp_path / "task.json"
    task.write(task_file)
    argv = worker_argv(Runtime("blender", real_blender), repo_root, task_file)
    assert argv[0] == real_blender and "--disable-autoexec" in argv
    done = subprocess.run(argv, env=worker_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_same_as_wheel(out, wheel_outputs, real_blender_version)


def test_wrapper_pid_is_blenders(real_blender, tmp_path):
    """Kill-by-PID reaches Blender itself: the wrapper execs all the way down."""
    marker = tmp_path / "pid.txt"
    expr = f"import os; open({str(marker)!r}, 'w').write(str(os.getpid()))"
    proc = subprocess.Popen([real_blender, "-b", "--factory-startup", "--python-expr", expr],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.wait(timeout=120) == 0
    assert marker.read_text() == str(proc.pid)
