"""The preview camera: scrubbable orbit around the subject, artist's objects untouched, exact undo."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.compat

SCRIPT = r'''
import json, os, sys
import bpy
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.worker import orbit
from orbitfarm.worker.preview import add_preview, remove_preview
from orbitfarm.worker.animation import detect_animation
from orbitfarm.worker.scene import renderable_objects

bpy.ops.wm.open_mainfile(filepath=sys.argv[-1], load_ui=False, use_scripts=False)
scene = bpy.context.scene
before = {o.name: [list(r) for r in o.matrix_world] for o in scene.objects}
counts = lambda: (len(bpy.data.objects), len(bpy.data.cameras), len(bpy.data.actions))
n0 = counts()
out = {"renderable": [o.name for o in renderable_objects(scene)]}
cam = add_preview(scene, RenderSettings(frames=12, width=64, height=48, elevation=20))
out["camera_is_scene_camera"] = scene.camera == cam
out["range"] = [scene.frame_start, scene.frame_end]
out["poses"] = {}
for k in (3, 12):
    scene.frame_set(k)
    out["poses"][k] = [list(r) for r in cam.matrix_world]
out["static_with_preview"] = detect_animation(scene).evidence
scene.frame_set(1)  # the file was saved at frame 1: compare like with like
out["moved"] = [n for n, m in before.items()
                if [list(r) for r in scene.objects[n].matrix_world] != m]
remove_preview(scene)
out["restored"] = [scene.frame_start, scene.frame_end, scene.camera.name if scene.camera else ""]
out["counts_equal"] = counts() == n0
print("PREVIEW " + json.dumps(out), flush=True)
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def test_preview_orbits_the_subject_and_undoes_exactly(tmp_path, bpy_python, subjects):
    info = subjects.make_subject(bpy_python, tmp_path / "lit.blend", "moving_light")
    proc = subprocess.run([bpy_python, "-c", SCRIPT, info["path"]], capture_output=True,
                          text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PREVIEW ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = json.loads(line[len("PREVIEW "):])
    assert out["renderable"] == ["Still"]
    assert out["camera_is_scene_camera"] and out["range"] == [1, 12]
    assert out["moved"] == []  # the artist's objects stay where they are
    assert out["static_with_preview"] == []  # the preview camera is not the subject
    from orbitfarm.worker import orbit

    for k, pose in out["poses"].items():
        # The same pose as the render, but around the subject's own centre.
        radius = ((pose[0][3] - info["center"][0]) ** 2 + (pose[1][3] - info["center"][1]) ** 2
                  + (pose[2][3] - info["center"][2]) ** 2) ** 0.5
        expected = orbit.orbit_pose(int(k), 12, 20, radius, info["center"])
        assert sum(pose, []) == pytest.approx(sum(expected, []), abs=1e-4)
    assert out["restored"] == [1, 48, "Camera"]
    assert out["counts_equal"]
