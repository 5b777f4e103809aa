"""Mesh and USD test subjects made by Blender's own exporters, and broken copies of them.

`make_all(python, folder)` runs one bpy subprocess that builds every subject and returns
{file name: {"center": [...], "size": float, "expect": "rendered"|"skipped"|"failed", ...}};
the centre is the world box centre in Blender's frame before export (importers convert axes
back). Broken copies (truncated, missing sidecar, Windows paths) are made here in Python.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = r'''
import bpy, json, sys, os
from mathutils import Vector
out = sys.argv[sys.argv.index("--") + 1]
info = {}
has_dae = hasattr(bpy.ops.wm, "collada_export")
try:
    bpy.ops.wm.collada_export.get_rna_type()
except Exception:
    has_dae = False

def reset():
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)

def box(size=(2, 1, 0.5), loc=(3, -2, 1), name="Box"):
    bpy.ops.mesh.primitive_cube_add(size=1, location=loc)
    ob = bpy.context.active_object
    ob.name = name
    ob.scale = size
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    return ob

def world_box():
    lo, hi = [1e30] * 3, [-1e30] * 3
    for ob in bpy.context.scene.objects:
        if ob.type != "MESH":
            continue
        for v in ob.data.vertices:
            w = ob.matrix_world @ v.co
            lo = [min(a, b) for a, b in zip(lo, w)]
            hi = [max(a, b) for a, b in zip(hi, w)]
    return lo, hi

def record(name, expect, **extra):
    lo, hi = world_box()
    info[name] = {"center": [(a + b) / 2 for a, b in zip(lo, hi)],
                  "size": max(b - a for a, b in zip(lo, hi)), "expect": expect, **extra}

def textured(ob, folder):
    img = bpy.data.images.new("tex", 8, 8)
    img.pixels = [0.2, 0.6, 0.9, 1.0] * 64
    img.filepath_raw = os.path.join(folder, "tex.png")
    img.file_format = "PNG"
    img.save()
    mat = bpy.data.materials.new("mat")
    mat.use_nodes = True
    node = mat.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = img
    mat.node_tree.links.new(node.outputs[0], mat.node_tree.nodes["Principled BSDF"].inputs[0])
    ob.data.materials.append(mat)
    bpy.ops.object.select_all(action="SELECT")

def sel():
    bpy.ops.object.select_all(action="SELECT")

# static, every format
for name, export in [
    ("box.glb", lambda p: bpy.ops.export_scene.gltf(filepath=p)),
    ("box.fbx", lambda p: bpy.ops.export_scene.fbx(filepath=p)),
    ("box.ply", lambda p: bpy.ops.wm.ply_export(filepath=p)),
    ("box.stl", lambda p: bpy.ops.wm.stl_export(filepath=p)),
    ("box.usdc", lambda p: bpy.ops.wm.usd_export(filepath=p)),
    ("box.usda", lambda p: bpy.ops.wm.usd_export(filepath=p)),
    ("box.usdz", lambda p: bpy.ops.wm.usd_export(filepath=p)),
    ("box.abc", lambda p: bpy.ops.wm.alembic_export(filepath=p, start=1, end=1)),
] + ([("box.dae", lambda p: bpy.ops.wm.collada_export(filepath=p))] if has_dae else []):
    reset(); box(); sel(); export(os.path.join(out, name)); record(name, "rendered")

# textured with sidecars: OBJ (+ .mtl + png) and glTF separate (+ .bin + png)
for name, sub, export in [
    ("tex.obj", "obj", lambda p: bpy.ops.wm.obj_export(filepath=p, path_mode="RELATIVE")),
    ("tex.gltf", "gltf", lambda p: bpy.ops.export_scene.gltf(
        filepath=p, export_format="GLTF_SEPARATE")),
]:
    folder = os.path.join(out, sub)
    os.makedirs(folder, exist_ok=True)
    reset(); ob = box(); textured(ob, folder); export(os.path.join(folder, name))
    record(sub + "/" + name, "rendered")

# Z-up OBJ: the importer's default (Y-up) turns it: Blender (x, y, z) comes back as (x, -z, y)
reset(); box(); sel()
bpy.ops.wm.obj_export(filepath=os.path.join(out, "zup.obj"), up_axis="Z", forward_axis="Y")
record("zup.obj", "rendered")
c = info["zup.obj"]["center"]
info["zup.obj"]["center"] = [c[0], -c[2], c[1]]

# hierarchy far from the origin (FBX), and glTF with a camera and a light (not the subject)
reset()
parent = box(loc=(100, 50, -20), name="Parent")
child = box(size=(0.5, 0.5, 3), loc=(101, 50, -18), name="Child")
child.parent = parent
child.matrix_parent_inverse = parent.matrix_world.inverted()
sel(); bpy.ops.export_scene.fbx(filepath=os.path.join(out, "hier.fbx")); record("hier.fbx", "rendered")
reset(); box()
bpy.ops.object.light_add(type="POINT", location=(50, 50, 50))
bpy.ops.object.camera_add(location=(-80, 0, 0))
sel(); bpy.ops.export_scene.gltf(filepath=os.path.join(out, "withlights.glb"),
                                 export_lights=True, export_cameras=True)
bpy.ops.object.select_all(action="DESELECT")
for ob in list(bpy.context.scene.objects):
    if ob.type != "MESH":
        bpy.data.objects.remove(ob)
record("withlights.glb", "rendered")

# scale and distance: 31 km from the origin, 1e-3 and 1e4 across
for name, size, loc in [("far.ply", (2, 1, 0.5), (31000, -2, 5)),
                        ("tiny.stl", (1e-3, 5e-4, 2e-4), (0.01, 0, 0)),
                        ("huge.stl", (1e4, 5e3, 2e3), (2e3, 0, 0))]:
    reset(); box(size=size, loc=loc); sel()
    path = os.path.join(out, name)
    (bpy.ops.wm.ply_export if name.endswith(".ply") else bpy.ops.wm.stl_export)(filepath=path)
    record(name, "rendered")

# animated: node (object keys), skinned, morph (glTF), node animation in Alembic and USD
def keyed_box():
    ob = box()
    ob.location = (3, -2, 1); ob.keyframe_insert("location", frame=1)
    ob.location = (3, 2, 1); ob.keyframe_insert("location", frame=20)
    bpy.context.scene.frame_end = 20
    return ob
reset(); keyed_box(); sel()
bpy.ops.export_scene.gltf(filepath=os.path.join(out, "node.glb")); record("node.glb", "skipped")
reset(); keyed_box(); sel()
bpy.ops.wm.alembic_export(filepath=os.path.join(out, "node.abc"), start=1, end=20)
record("node.abc", "skipped")
reset(); keyed_box(); sel()
bpy.ops.wm.usd_export(filepath=os.path.join(out, "node.usdc"), export_animation=True)
record("node.usdc", "skipped")
reset(); ob = box()
key = ob.shape_key_add(name="Basis"); k1 = ob.shape_key_add(name="Up")
for v in k1.data:
    v.co.z += 1.0
k1.value = 0.0; k1.keyframe_insert("value", frame=1)
k1.value = 1.0; k1.keyframe_insert("value", frame=10)
sel(); bpy.ops.export_scene.gltf(filepath=os.path.join(out, "morph.glb")); record("morph.glb", "skipped")
reset(); ob = box()
bpy.ops.object.armature_add(location=(3, -2, 0))
arm = bpy.context.active_object
ob.parent = arm
mod = ob.modifiers.new("Armature", "ARMATURE"); mod.object = arm
group = ob.vertex_groups.new(name="Bone"); group.add([v.index for v in ob.data.vertices], 1.0, "REPLACE")
pb = arm.pose.bones["Bone"]
pb.rotation_mode = "XYZ"
pb.rotation_euler = (0, 0, 0); pb.keyframe_insert("rotation_euler", frame=1)
pb.rotation_euler = (0.8, 0, 0); pb.keyframe_insert("rotation_euler", frame=15)
sel(); bpy.ops.export_scene.gltf(filepath=os.path.join(out, "skinned.glb"))
record("skinned.glb", "skipped")

# several glTF clips (Fox: Survey/Walk/Run): one comes in active, all as muted NLA tracks
reset(); ob = box()
for name, dz, end in (("Walk", 1.0, 20), ("Run", 3.0, 40)):
    ob.animation_data_create()
    act = bpy.data.actions.new(name)
    ob.animation_data.action = act
    ob.location = (3, -2, 1); ob.keyframe_insert("location", frame=1)
    ob.location = (3, -2, 1 + dz); ob.keyframe_insert("location", frame=end)
    ob.animation_data.nla_tracks.new().strips.new(name, 1, act)
    ob.animation_data.action = None
ob.location = (3, -2, 1)
sel(); bpy.ops.export_scene.gltf(filepath=os.path.join(out, "clips.glb"),
                                 export_animation_mode="ACTIONS")
record("clips.glb", "skipped")

# a point cloud (vertices only)
reset()
mesh = bpy.data.meshes.new("pts")
mesh.from_pydata([(i * 0.1, (i * 7 % 10) * 0.1, (i * 3 % 10) * 0.1) for i in range(500)], [], [])
ob = bpy.data.objects.new("pts", mesh); bpy.context.scene.collection.objects.link(ob)
sel(); bpy.ops.wm.ply_export(filepath=os.path.join(out, "points.ply"))
info["points.ply"] = {"expect": "failed", "reason": "500 vertices and no faces"}
info["_has_dae"] = has_dae
print("MESHSUBJECTS " + json.dumps(info))
'''


def make_all(python: str, folder: Path) -> dict:
    """Build every subject into `folder` (one bpy run), then the broken copies."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([python, "-c", SCRIPT, "--", str(folder)], capture_output=True,
                          text=True, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("MESHSUBJECTS ")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads(line[-1][len("MESHSUBJECTS "):])
    _break_copies(folder, info)
    return info


def _truncate(src: Path, dest: Path, fraction: float = 0.5) -> None:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])


def _break_copies(folder: Path, info: dict) -> None:
    broken = folder / "broken"
    broken.mkdir(exist_ok=True)
    _truncate(folder / "box.abc", broken / "truncated.abc")
    info["broken/truncated.abc"] = {"expect": "failed", "reason": "importer crashed"}
    _truncate(folder / "box.stl", broken / "truncated.stl", 0.3)
    info["broken/truncated.stl"] = {"expect": "failed", "reason": "nothing to render"}
    _truncate(folder / "box.glb", broken / "truncated.glb")
    info["broken/truncated.glb"] = {"expect": "failed", "reason": "cannot import truncated.glb"}
    obj = (folder / "obj" / "tex.obj").read_text()
    (broken / "nofaces.obj").write_text("\n".join(
        ln for ln in obj.splitlines() if not ln.startswith("f ")) + "\n")
    info["broken/nofaces.obj"] = {"expect": "failed", "reason": "vertices and no faces"}
    # glTF whose .bin is gone
    nobin = broken / "nobin"
    nobin.mkdir(exist_ok=True)
    for f in (folder / "gltf").iterdir():
        if f.suffix != ".bin":
            (nobin / f.name).write_bytes(f.read_bytes())
    info["broken/nobin/tex.gltf"] = {"expect": "failed", "reason": "cannot import tex.gltf"}
    # OBJ whose .mtl names its texture the Windows way: resolved beside the file
    win = broken / "windows"
    win.mkdir(exist_ok=True)
    (win / "tex.obj").write_text(obj)
    (win / "tex.png").write_bytes((folder / "obj" / "tex.png").read_bytes())
    mtl = (folder / "obj" / "tex.mtl").read_text()
    (win / "tex.mtl").write_text("\n".join(
        (ln.split(" ")[0] + " .\\textures\\tex.png") if ln.startswith("map_Kd") else ln
        for ln in mtl.splitlines()) + "\n")
    info["broken/windows/tex.obj"] = dict(info["obj/tex.obj"], resolved=True)
    # OBJ whose texture is gone: renders (pink), with a warning naming it
    gone = broken / "notex"
    gone.mkdir(exist_ok=True)
    (gone / "tex.obj").write_text(obj)
    (gone / "tex.mtl").write_text(mtl)
    info["broken/notex/tex.obj"] = dict(info["obj/tex.obj"], warning="missing image")
    # USD whose sublayer is missing: an empty stage
    (broken / "nosub.usda").write_text('#usda 1.0\n(\n    subLayers = [@./gone.usda@]\n)\n')
    info["broken/nosub.usda"] = {"expect": "failed", "reason": "no objects at all"}
    if not info["_has_dae"]:
        (folder / "box.dae").write_text("<COLLADA/>")
        info["box.dae"] = {"expect": "failed", "reason": "not supported by this Blender"}
