"""The panel in a real window: real Blender under Xvfb, Preview orbit, Preflight, Submit, finished.

driver.py does the clicking (each operator invoked in the sidebar's own area and region) and
takes a screenshot after every step; this file checks the UI state it recorded, the rendered
outputs, and the screenshots themselves: the sidebar must look different from the same window
without the extension, and each step must change what the artist sees. The screenshots stay in
test-artifacts/window/ (or $ORBITFARM_ARTIFACTS/window/) for people to look at.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xshot
from orbitfarm.submitter.files.imageio import read_exr, read_png

pytestmark = pytest.mark.window

HERE = Path(__file__).resolve().parent
TIMEOUT = 300  # seconds for the job to finish (4 frames at 64x48 take a few seconds)


def _build_zip(repo_root: Path, folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "build_extension", repo_root / "tools" / "build_extension.py")
    assert spec and spec.loader
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build(folder)


def _run_window(real_blender: str, display: str, home: Path, blend: Path, shots: Path,
                out: Path, baseline: bool) -> dict[str, Any]:
    env = dict(os.environ, DISPLAY=display, BLENDER_USER_RESOURCES=str(home / "blender"),
               ORBITFARM_HOME=str(home / "orbitfarm"), XDG_CONFIG_HOME=str(home / "config"),
               ORBITFARM_WINDOW_ARGS=json.dumps({"shots": str(shots), "out": str(out),
                                                 "baseline": baseline, "timeout": TIMEOUT}))
    log = shots / "blender.log"
    shots.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + TIMEOUT + 120
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [real_blender, "--window-geometry", "0", "0", *map(str, xshot.SCREEN),
             "--no-window-focus",
             str(blend), "--python", str(HERE / "driver.py")],
            env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                for request in sorted(shots.glob("*.request")):
                    xshot.write_png(request.with_suffix(".png"), xshot.grab(display))
                    request.unlink()
                if time.monotonic() > deadline:
                    pytest.fail(f"Blender did not finish; log: {log}\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result_file = shots / "result.json"
    assert result_file.is_file(), f"no result (exit {proc.returncode}):\n{log.read_text()[-4000:]}"
    result = json.loads(result_file.read_text())
    assert not result["errors"], "\n".join(result["errors"]) + log.read_text()[-3000:]
    return result


def _region(png: str, rect: dict[str, int]) -> np.ndarray:
    img = read_png(Path(png))
    pixels = img.array[..., :3].astype(np.int16)
    return pixels[rect["y"]:rect["y"] + rect["h"], rect["x"]:rect["x"] + rect["w"]]


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels whose colour differs noticeably between two same-size crops."""
    assert a.shape == b.shape
    return float((np.abs(a - b).max(axis=-1) > 24).mean())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, real_blender, display, repo_root, artifacts) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("window")
    blend = root / "scene.blend"
    made = subprocess.run(
        [real_blender, "-b", "--factory-startup", "--python-expr",
         f"import bpy; bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r})"],
        capture_output=True, text=True, timeout=120)
    assert blend.is_file(), made.stdout + made.stderr
    zip_path = _build_zip(repo_root, root / "dist")
    with_ext = root / "home-ext"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(with_ext / "blender"))
    install = subprocess.run(
        [real_blender, "--command", "extension", "install-file", "--repo", "user_default",
         "--enable", str(zip_path)], env=env, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr

    baseline = _run_window(real_blender, display, root / "home-plain", blend,
                           artifacts / "baseline", root / "out-plain", baseline=True)
    shutil.copy(blend, root / "scene-ext.blend")  # the driver saves its settings into it
    panel = _run_window(real_blender, display, with_ext, root / "scene-ext.blend",
                        artifacts / "extension", root / "out", baseline=False)
    print(f"\nwindow screenshots: {artifacts}")
    return {"baseline": baseline, "panel": panel, "out": root / "out"}


def test_panel_preview_preflight_submit_to_finished(runs):
    result = runs["panel"]
    # Render › Orbit Dataset (orbitfarm) opened the sidebar on the orbitfarm tab.
    assert result["show_panel"] == ["FINISHED"]
    assert any("show_panel_ops" in m for m in result["menu_entries"]), result["menu_entries"]
    assert result["steps"]["01-panel"]["category"] == "orbitfarm"

    preview = result["preview"]
    assert preview["result"] == ["FINISHED"], preview
    assert preview["camera"] and preview["camera"] != preview["before"]["camera"], preview

    preflight = result["preflight"]
    assert preflight["result"] in (["RUNNING_MODAL"], ["FINISHED"]) and preflight["done"], preflight
    assert not preflight["error"], preflight

    assert result["submit"]["result"] in (["RUNNING_MODAL"], ["FINISHED"]), result["submit"]
    job = result["jobs"][0]
    assert job["finished"] and job["failed"] == 0, job
    assert job["frames_done"] == job["frames_total"] == 4, job
    assert job["label"] == "scene-ext · 4 frames", job  # what it renders, not only an id
    assert job["thumbnails"], job  # RGB and depth thumbnails made for the panel

    # The job really rendered the scene's cube: depth hits in the middle of every frame.
    subject = runs["out"] / "scene-ext"
    for frame in range(1, 5):
        assert (subject / "rgb" / f"{frame:04d}.png").is_file()
        exr = read_exr(subject / "depth" / f"{frame:04d}.exr")
        depth = np.asarray(exr.channel(exr.channel_names[0]))
        assert depth[24, 32] < 1e9, f"frame {frame}: nothing at the centre"


def test_screenshots_show_the_panel_and_each_step(runs):
    panel, baseline = runs["panel"], runs["baseline"]
    assert panel["window"] == baseline["window"] and panel["regions"] == baseline["regions"]
    shots = {name: step["png"] for name, step in panel["steps"].items()}
    regions = panel["regions"]
    sidebar = regions["sidebar"]
    assert sidebar["w"] > 150 and sidebar["h"] > 300, regions

    plain = _region(baseline["steps"]["01-panel"]["png"], sidebar)
    first = _region(shots["01-panel"], sidebar)
    # The orbitfarm tab's panels fill the sidebar where Blender's own Item tab showed little.
    assert _changed(plain, first) > 0.05, "the sidebar looks the same as without the extension"
    assert first.std() > 10, "the sidebar is flat: nothing drawn"

    # Preview: the viewport now looks through the orbit camera.
    view_before = _region(shots["01-panel"], regions["viewport"])
    view_after = _region(shots["02-preview"], regions["viewport"])
    assert _changed(view_before, view_after) > 0.02, "Preview orbit changed nothing visible"
    # Preflight and the finished job each add something to the sidebar.
    assert _changed(_region(shots["02-preview"], sidebar),
                    _region(shots["03-preflight"], sidebar)) > 0.0003  # a changed line of text
    assert _changed(_region(shots["03-preflight"], sidebar),
                    _region(shots["04-finished"], sidebar)) > 0.002
