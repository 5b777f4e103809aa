"""Job-test scenes built with the real bpy in a subprocess: a subject linking a library.

`make_linked_scene(python, folder)` writes folder/lib/lib.blend (a textured cube, its texture
next to it) and folder/scene/main.blend that links the library's objects and has its own plane
with a second external texture. Returns the paths and the textures' colours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for subjects.py
import subjects  # noqa: E402

_LINK = r'''
import bpy, json, sys, os
args = json.loads(sys.argv[-1])
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
with bpy.data.libraries.load(args["lib"], link=True, relative=True) as (src, dst):
    dst.objects = [n for n in src.objects]
for obj in dst.objects:
    scene.collection.objects.link(obj)
# A second, local object with its own external texture (a flat colour).
img = bpy.data.images.new("green", 8, 8)
img.pixels[:] = [0.1, 0.9, 0.1, 1.0] * 64
img.filepath_raw = args["tex"]
img.file_format = "PNG"
img.save()
bpy.ops.mesh.primitive_plane_add(size=2, location=(-3.0, -3.0, 2.0), rotation=(1.5708, 0, 0))
plane = bpy.context.object
mat = bpy.data.materials.new("Green")
mat.use_nodes = True
nt = mat.node_tree
nt.nodes.clear()
out = nt.nodes.new("ShaderNodeOutputMaterial")
em = nt.nodes.new("ShaderNodeEmission")
tex = nt.nodes.new("ShaderNodeTexImage")
bpy.data.images.remove(img)
tex.image = bpy.data.images.load(args["tex"])
nt.links.new(tex.outputs["Color"], em.inputs["Color"])
nt.links.new(em.outputs[0], out.inputs["Surface"])
plane.data.materials.append(mat)
bpy.ops.wm.save_as_mainfile(filepath=args["path"], relative_remap=True)
sys.stdout.flush()
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def make_linked_scene(python: str, folder: Path) -> dict:
    """Build lib/lib.blend (textured cube) and scene/main.blend linking it (+ a green plane)."""
    lib = subjects.make_subject(python, folder / "lib" / "lib.blend", "textured",
                                location=(3.0, 0.0, 0.0))
    main = folder / "scene" / "main.blend"
    main.parent.mkdir(parents=True, exist_ok=True)
    tex = folder / "scene" / "textures" / "green.png"
    tex.parent.mkdir(parents=True, exist_ok=True)
    job = json.dumps({"lib": lib["path"], "tex": str(tex), "path": str(main)})
    proc = subprocess.run([python, "-c", _LINK, job], capture_output=True, text=True,
                          env=subjects._env(), timeout=300)
    if proc.returncode != 0 or not main.exists():
        raise RuntimeError(f"making the linked scene failed:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return {"path": str(main), "lib": lib["path"], "lib_texture": lib["texture"],
            "texture": str(tex)}


_MULTIRES = r'''
import bpy, json, sys, os
args = json.loads(sys.argv[-1])
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_cube_add(size=2.0)
obj = bpy.context.active_object
mat = bpy.data.materials.new("Red")
mat.diffuse_color = (0.8, 0.0, 0.0, 1.0)
obj.data.materials.append(mat)
obj.modifiers.new("Multires", "MULTIRES")
# Saved first, so Blender writes the external data beside the file (not in the working folder).
bpy.ops.wm.save_as_mainfile(filepath=args["path"])
with bpy.context.temp_override(object=obj, active_object=obj):
    bpy.ops.object.multires_subdivide(modifier="Multires", mode="CATMULL_CLARK")
    bpy.ops.object.multires_external_save(filepath="//" + os.path.basename(args["btx"]),
                                          modifier="Multires")
bpy.ops.wm.save_mainfile()
sys.stdout.flush()
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def make_external_multires(python: str, path: Path) -> dict:
    """A cube whose multires displacement lives in an external .btx file beside the .blend
    (blender-asset-tracer cannot pack it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    btx = path.with_suffix(".btx")
    job = json.dumps({"path": str(path), "btx": str(btx)})
    proc = subprocess.run([python, "-c", _MULTIRES, job], capture_output=True, text=True,
                          env=subjects._env(), timeout=300)
    if proc.returncode != 0 or not path.exists() or not btx.exists():
        raise RuntimeError(f"making the multires scene failed:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return {"path": str(path), "btx": str(btx)}
