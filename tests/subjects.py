"""Generated .blend test subjects, built by a small bpy script in a subprocess.

How to import (tests run with --import-mode=importlib, so tests/ is not on sys.path):

    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the tests/ folder
    import subjects

(adjust `parents[...]` so it points at tests/). Then:

    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    info["path"], info["center"], info["bbox_min"], info["bbox_max"], info.get("texture")

Generate subjects with the same Python that renders them: Blender 4.2 cannot open files saved by
5.0. `make_subject` returns a dict describing what was built (world-space bounding box of the
renderable geometry at the first frame, face count, texture path for "textured", ...).

Kinds (see KINDS; params in brackets):
- cube: a cube [size=2, location=(5,-3,2), color=(0.8,0,0), material="emission"|"diffuse",
  lit=True (False: no world and no light: dark unless the worker lights it)].
  Emission strength 1 makes the rendered colour exactly `color` (linear) under Standard.
- wall: a large vertical plane facing -Y [size=40, distance=5, color] at y=+distance, for
  analytic depth (the bbox centre is NOT at the origin, so centering moves it to y=0).
- textured: a plane with an external image texture written next to the .blend ("texture").
- heavy: a UV sphere with about [faces=100_000] faces (benchmarks).
Every kind takes [frame_end=48] and [denoise=False] (Cycles denoising in the saved file).
- empty: no renderable geometry (an empty, a light and a camera).
- hierarchy: static parented hierarchy far from the origin [root_location=(100,50,-20),
  keyed_root=True]: the root carries a constant location key (frame_set would undo a plain move).
Animated (all must be detected):
- animated: object location keys. parent_animated: a static child of a keyed parent empty.
- armature: a mesh skinned to an armature whose pose bone rotates.
- shapekey: a shape key value keyed 0 -> 1.
- driver: location driven by the simple expression `frame * 0.1` (runs with auto-run off).
- nla: location keys in an NLA strip, no active action.
- wave: a grid with a (time-dependent) Wave modifier.
- constraint: a mesh with Copy Location to an animated empty.
Static although they have animation data (must NOT be detected):
- constant: one location keyframe. moving_light: the light and the camera move, the cube does not.
Security:
- scripted: a registered text block (use_module) that would write [marker] when scripts run.
Frame checks:
- invisible: a cube hidden from camera rays (visible_camera off): in view, yet every frame blank.

`write_corrupt_blend(path)` writes a file with a .blend header and garbage after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

KINDS = (
    "cube", "wall", "textured", "heavy", "empty", "hierarchy",
    "animated", "parent_animated", "armature", "shapekey", "driver", "nla", "wave", "constraint",
    "constant", "moving_light", "scripted", "invisible",
)
ANIMATED_KINDS = (
    "animated", "parent_animated", "armature", "shapekey", "driver", "nla", "wave", "constraint",
)
STATIC_KINDS = ("cube", "wall", "textured", "hierarchy", "constant", "moving_light")

# Runs inside the bpy process: argv[1] = JSON {"path", "kind", "params"}; prints one JSON line.
_SCRIPT = r'''
import json, math, os, sys
import bpy, bmesh
from mathutils import Vector

job = json.loads(sys.argv[-1])
path, kind, P = job["path"], job["kind"], job["params"]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.frame_start = 1
scene.frame_end = int(P.get("frame_end", 48))
scene.cycles.use_denoising = bool(P.get("denoise", False))  # tiny test renders: no OIDN cost
info = {"path": path, "kind": kind}

world = bpy.data.worlds.new("World")
world.color = (0.05, 0.05, 0.05)
world.use_nodes = False
scene.world = world if P.get("lit", True) else None  # lit=False: no world, no light at all


def link(obj):
    scene.collection.objects.link(obj)
    return obj


def mesh_obj(name, build, location=(0, 0, 0)):
    me = bpy.data.meshes.new(name)
    bm = bmesh.new()
    build(bm)
    bm.to_mesh(me)
    bm.free()
    obj = link(bpy.data.objects.new(name, me))
    obj.location = location
    return obj


def cube_obj(name, size, location=(0, 0, 0)):
    return mesh_obj(name, lambda bm: bmesh.ops.create_cube(bm, size=size), location)


def material(name, color, kind="emission"):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    if kind == "emission":
        sh = nt.nodes.new("ShaderNodeEmission")
        sh.inputs["Strength"].default_value = 1.0
    else:
        sh = nt.nodes.new("ShaderNodeBsdfDiffuse")
    sh.inputs["Color"].default_value = (*color, 1.0)
    nt.links.new(sh.outputs[0], out.inputs["Surface"])
    mat.diffuse_color = (*color, 1.0)  # Workbench/EEVEE viewport colour
    return mat


def add_light(location=(4, -4, 6), energy=3.0):
    data = bpy.data.lights.new("Sun", "SUN")
    data.energy = energy
    obj = link(bpy.data.objects.new("Sun", data))
    obj.location = location
    obj.rotation_euler = (0.6, 0.2, 0.8)
    return obj


def add_camera(location=(0, -10, 0)):
    obj = link(bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera")))
    obj.location = location
    obj.rotation_euler = (math.pi / 2, 0, 0)
    scene.camera = obj
    return obj


def key_location(obj, frames_values):
    for frame, value in frames_values:
        obj.location = value
        obj.keyframe_insert("location", frame=frame)


def red(obj, color=(0.8, 0.0, 0.0), kind="emission"):
    obj.data.materials.append(material(obj.name + "Mat", color, kind))
    return obj


size = float(P.get("size", 2.0))
color = tuple(P.get("color", (0.8, 0.0, 0.0)))
location = tuple(P.get("location", (5.0, -3.0, 2.0)))

if kind == "cube":
    red(cube_obj("Cube", size, location), color, P.get("material", "emission"))
    if P.get("material", "emission") != "emission" and P.get("lit", True):
        add_light()
elif kind == "wall":
    side, dist = float(P.get("size", 40.0)), float(P.get("distance", 5.0))

    def build_wall(bm):
        h = side / 2
        vs = [bm.verts.new(v) for v in ((-h, 0, -h), (h, 0, -h), (h, 0, h), (-h, 0, h))]
        bm.faces.new(vs)

    red(mesh_obj("Wall", build_wall, (0.0, dist, 0.0)), color)
elif kind == "textured":
    tex_path = os.path.join(os.path.dirname(path), P.get("texture_name", "texture.png"))
    img = bpy.data.images.new("checker", 16, 16)
    px = []
    for y in range(16):
        for x in range(16):
            on = (x // 4 + y // 4) % 2
            px += [0.9, 0.1, 0.1, 1.0] if on else [0.1, 0.1, 0.9, 1.0]
    img.pixels[:] = px
    img.filepath_raw = tex_path
    img.file_format = "PNG"
    img.save()
    obj = cube_obj("Textured", size, location)
    uv = obj.data.uv_layers.new(name="UVMap")
    for i, loop in enumerate(obj.data.loops):
        uv.data[i].uv = ((i % 4) in (1, 2), (i % 4) in (2, 3))
    mat = bpy.data.materials.new("TexMat")
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    em = nt.nodes.new("ShaderNodeEmission")
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(tex_path)
    nt.links.new(tex.outputs["Color"], em.inputs["Color"])
    nt.links.new(em.outputs[0], out.inputs["Surface"])
    obj.data.materials.append(mat)
    bpy.data.images.remove(img)
    info["texture"] = tex_path
elif kind == "heavy":
    faces = int(P.get("faces", 100_000))
    v = max(8, int(math.sqrt(faces / 2)))
    u = max(8, faces // v)
    red(mesh_obj("Heavy", lambda bm: bmesh.ops.create_uvsphere(
        bm, u_segments=u, v_segments=v, radius=size / 2), location), color, "diffuse")
    add_light()
elif kind == "empty":
    link(bpy.data.objects.new("JustAnEmpty", None))
    add_light()
    add_camera()
elif kind == "hierarchy":
    root = link(bpy.data.objects.new("Root", None))
    root.location = tuple(P.get("root_location", (100.0, 50.0, -20.0)))
    if P.get("keyed_root", True):
        root.keyframe_insert("location", frame=1)
    a = red(cube_obj("ChildCube", 2.0, (2.0, 0.0, 0.0)), (0.8, 0.1, 0.1))
    b = red(cube_obj("ChildSmall", 1.0, (-2.0, 0.0, 1.0)), (0.1, 0.8, 0.1))
    a.parent = root
    b.parent = root
    c = red(cube_obj("GrandChild", 0.5, (0.0, 0.0, 2.0)), (0.1, 0.1, 0.8))
    c.parent = a
elif kind == "animated":
    obj = red(cube_obj("Mover", size, location), color)
    key_location(obj, [(1, location), (24, (location[0] + 3, location[1], location[2]))])
elif kind == "parent_animated":
    parent = link(bpy.data.objects.new("Parent", None))
    key_location(parent, [(1, (0, 0, 0)), (24, (0, 0, 3))])
    child = red(cube_obj("Child", size, (1.0, 0.0, 0.0)), color)
    child.parent = parent
elif kind == "armature":
    arm_data = bpy.data.armatures.new("Rig")
    arm = link(bpy.data.objects.new("Rig", arm_data))
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    bone = arm_data.edit_bones.new("Bone")
    bone.head, bone.tail = (0, 0, 0), (0, 0, 2)
    bpy.ops.object.mode_set(mode="OBJECT")
    body = red(cube_obj("Body", 1.0, (0.0, 0.0, 1.0)), color)
    body.parent = arm
    group = body.vertex_groups.new(name="Bone")
    group.add(list(range(len(body.data.vertices))), 1.0, "REPLACE")
    mod = body.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    pb = arm.pose.bones["Bone"]
    pb.rotation_mode = "XYZ"
    pb.rotation_euler = (0, 0, 0)
    pb.keyframe_insert("rotation_euler", frame=1)
    pb.rotation_euler = (0.8, 0, 0)
    pb.keyframe_insert("rotation_euler", frame=24)
elif kind == "shapekey":
    obj = red(cube_obj("Morph", size, (0, 0, 0)), color)
    obj.shape_key_add(name="Basis")
    sk = obj.shape_key_add(name="Stretch")
    for point in sk.data:
        point.co = point.co * 1.5
    sk.value = 0.0
    sk.keyframe_insert("value", frame=1)
    sk.value = 1.0
    sk.keyframe_insert("value", frame=24)
elif kind == "driver":
    obj = red(cube_obj("Driven", size, (0, 0, 0)), color)
    fc = obj.driver_add("location", 2)
    fc.driver.type = "SCRIPTED"
    fc.driver.expression = P.get("expression", "frame * 0.1")
elif kind == "nla":
    obj = red(cube_obj("Strip", size, (0, 0, 0)), color)
    key_location(obj, [(1, (0, 0, 0)), (24, (0, 2, 0))])
    action = obj.animation_data.action
    track = obj.animation_data.nla_tracks.new()
    track.strips.new("Move", 1, action)
    obj.animation_data.action = None
elif kind == "wave":
    def build_grid(bm):
        bmesh.ops.create_grid(bm, x_segments=24, y_segments=24, size=2.0)

    obj = red(mesh_obj("Wavy", build_grid), color)
    obj.modifiers.new("Wave", "WAVE")
elif kind == "constraint":
    target = link(bpy.data.objects.new("Target", None))
    key_location(target, [(1, (0, 0, 0)), (24, (2, 2, 0))])
    obj = red(cube_obj("Follower", size, (0, 0, 0)), color)
    con = obj.constraints.new("COPY_LOCATION")
    con.target = target
elif kind == "constant":
    obj = red(cube_obj("Pinned", size, location), color)
    obj.keyframe_insert("location", frame=1)
    obj.keyframe_insert("rotation_euler", frame=1)
elif kind == "moving_light":
    red(cube_obj("Still", size, location), color, "diffuse")
    light = add_light()
    key_location(light, [(1, (4, -4, 6)), (24, (-4, 4, 6))])
    cam = add_camera()
    key_location(cam, [(1, (0, -10, 0)), (24, (0, -20, 1))])
    light.data.energy = 3.0
    light.data.keyframe_insert("energy", frame=1)
    light.data.energy = 8.0
    light.data.keyframe_insert("energy", frame=24)
elif kind == "scripted":
    red(cube_obj("Cube", size, location), color)
    text = bpy.data.texts.new("evil.py")
    marker = P["marker"]
    text.write("open(%r, 'w').write('scripts ran')\n" % marker)
    text.use_module = True
    info["marker"] = marker
elif kind == "invisible":
    obj = red(cube_obj("Ghost", size, location), color)
    obj.visible_camera = False
else:
    raise SystemExit("unknown subject kind " + kind)

scene.frame_set(1)
deps = bpy.context.evaluated_depsgraph_get()
lo, hi, faces = [math.inf] * 3, [-math.inf] * 3, 0
for obj in scene.objects:
    if obj.type != "MESH":
        continue
    ev = obj.evaluated_get(deps)
    me = ev.to_mesh()
    faces += len(me.polygons)
    for v in me.vertices:
        w = ev.matrix_world @ v.co
        for i in range(3):
            lo[i], hi[i] = min(lo[i], w[i]), max(hi[i], w[i])
    ev.to_mesh_clear()
if faces:
    info["bbox_min"], info["bbox_max"] = lo, hi
    info["center"] = [(a + b) / 2 for a, b in zip(lo, hi)]
info["faces"] = faces
bpy.ops.wm.save_as_mainfile(filepath=path)
print("SUBJECT-INFO " + json.dumps(info), flush=True)
sys.stdout.flush()
import shutil  # os._exit skips Blender's own removal of its session temp folder
shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
os._exit(0)
'''


_USER_RESOURCES: list[tempfile.TemporaryDirectory] = []  # one, made on first need


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Importing bpy writes under ~/.config/blender unless told otherwise; the folder made here
    # is removed when this process ends (TemporaryDirectory's finalizer).
    if "BLENDER_USER_RESOURCES" not in env:
        if not _USER_RESOURCES:
            _USER_RESOURCES.append(tempfile.TemporaryDirectory(prefix="orbitfarm-subjects-"))
        env["BLENDER_USER_RESOURCES"] = _USER_RESOURCES[0].name
    return env


def _command(python: str, job: str) -> list[str]:
    """Run the builder with a Python that has bpy, or with a Blender executable."""
    if Path(python).name.startswith("blender"):
        return [python, "-b", "--factory-startup", "--python-expr", _SCRIPT, "--", job]
    return [python, "-c", _SCRIPT, job]


def make_subject(python: str, path: str | os.PathLike[str], kind: str, **params: Any) -> dict:
    """Build a .blend of `kind` at `path` with a Python that has bpy (or a Blender executable);
    return what was built."""
    if kind not in KINDS:
        raise ValueError(f"unknown subject kind {kind!r}; known: {', '.join(KINDS)}")
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "scripted":
        params.setdefault("marker", str(path.parent / "SCRIPTS_RAN"))
    job = json.dumps({"path": str(path), "kind": kind, "params": params})
    proc = subprocess.run(_command(python, job), capture_output=True, text=True,
                          env=_env(), timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("SUBJECT-INFO "):
            return json.loads(line[len("SUBJECT-INFO "):])
    raise RuntimeError(f"making subject {kind!r} failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def write_corrupt_blend(path: str | os.PathLike[str]) -> Path:
    """A file that starts like a .blend but is garbage: Blender must refuse it cleanly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"BLENDER-v405RENDH" + bytes(range(256)) * 8)
    return path
