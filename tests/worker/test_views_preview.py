"""The panel's preview follows every view layout: one key per view, the worker's own poses and
lens (an orthographic sphere here), around the subject's own centre."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

pytestmark = pytest.mark.compat

SCRIPT = r'''
import json, os, sys
import bpy
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.worker.preview import add_preview, remove_preview

bpy.ops.wm.open_mainfile(filepath=sys.argv[-1], load_ui=False, use_scripts=False)
scene = bpy.context.scene
settings = RenderSettings(layout="sphere", sampling="hammersley", hemisphere=True, frames=5,
                          width=64, height=48, ortho=True)
cam = add_preview(scene, settings)
out = {"range": [scene.frame_start, scene.frame_end], "type": cam.data.type,
       "ortho_scale": cam.data.ortho_scale, "poses": {}}
for k in range(1, 6):
    scene.frame_set(k)
    out["poses"][k] = [list(r) for r in cam.matrix_world]
remove_preview(scene)
print("PREVIEW " + json.dumps(out), flush=True)
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def test_preview_shows_an_orthographic_hemisphere(tmp_path, bpy_python, subjects):
    from orbitfarm.submitter.model import views
    from orbitfarm.submitter.model.settings import RenderSettings

    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube", size=2.0)
    proc = subprocess.run([bpy_python, "-c", SCRIPT, info["path"]], capture_output=True,
                          text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PREVIEW ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = json.loads(line[len("PREVIEW "):])
    assert out["range"] == [1, 5] and out["type"] == "ORTHO"
    # the bounding sphere (radius sqrt(3)) fills 1/1.1 of the narrower side, 48 of 64 pixels
    assert out["ortho_scale"] == pytest.approx(2 * 1.1 * math.sqrt(3) * 64 / 48, rel=1e-6)
    settings = RenderSettings(layout="sphere", sampling="hammersley", hemisphere=True, frames=5)
    radius = 2 * 1.1 * math.sqrt(3)  # orthographic auto radius
    for k, pose in out["poses"].items():
        expected = views.view_pose(settings, int(k), radius, info["center"])
        assert sum(pose, []) == pytest.approx(sum(expected, []), abs=1e-4), k
