"""--lighting auto: which subjects keep their own lighting, on the running Blender."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = [pytest.mark.compat]

SCRIPT = r'''
import json, os, sys
import bpy
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.worker.lighting import apply_lighting, resolve_mode

bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
out = {}
scene.world = None
out["no world"] = resolve_mode(scene, "auto")[0]
world = bpy.data.worlds.new("W")
world.use_nodes = True  # a new file's world: Background node, Blender's grey
bg = world.node_tree.nodes["Background"]
bg.inputs["Color"].default_value = (0.050876, 0.050876, 0.050876, 1.0)
scene.world = world
out["factory world"] = resolve_mode(scene, "auto")[0]
bg.inputs["Strength"].default_value = 3.0
out["brighter world"] = resolve_mode(scene, "auto")[0]
bg.inputs["Strength"].default_value = 1.0
env = world.node_tree.nodes.new("ShaderNodeTexEnvironment")
world.node_tree.links.new(env.outputs["Color"], bg.inputs["Color"])
out["environment world"] = resolve_mode(scene, "auto")[0]
world.node_tree.nodes.remove(env)
lamp = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", "POINT"))
scene.collection.objects.link(lamp)
out["a light"] = resolve_mode(scene, "auto")[0]
out["asked scene"] = resolve_mode(scene, "scene")[0]
record = apply_lighting(scene, RenderSettings(lighting="three-point", light_strength=2.0),
                        log=lambda *_: None)
out["record"] = record
out["lamp hidden"] = lamp.hide_render
suns = [o for o in scene.objects if o.type == "LIGHT" and not o.hide_render]
key = next(o for o in suns if o.name.endswith("key"))
out["key shines toward"] = list((key.rotation_euler.to_matrix() @ __import__("mathutils").Vector((0, 0, -1))))
out["energies"] = sorted(o.data.energy for o in suns)
print("LIGHTING " + json.dumps(out), flush=True)
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def test_auto_lighting_and_the_rig(bpy_python):
    proc = subprocess.run([bpy_python, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("LIGHTING ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = json.loads(line[len("LIGHTING "):])
    assert out["no world"] == "three-point" and out["factory world"] == "three-point"
    assert out["brighter world"] == "scene" and out["environment world"] == "scene"
    assert out["a light"] == "scene" and out["asked scene"] == "scene"
    record = out["record"]
    assert record["mode"] == "three-point" and record["scene_lights_hidden"] == 1
    assert out["lamp hidden"] is True
    assert out["energies"] == pytest.approx([1.6, 2.4, 4.0])  # fill, rim, key at strength 2
    # The key sits front-right above (azimuth -45, elevation 45) and shines toward the subject.
    x, y, z = out["key shines toward"]
    assert x > 0 and y > 0 and z < 0 and (x * x + y * y + z * z) == pytest.approx(1.0)
