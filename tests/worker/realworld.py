"""Real-world scene classes (issue 9) built with bpy, each with its ground truth.

`build(python, folder, kinds)` builds `<folder>/<kind>.blend` for every kind in one bpy process
and returns {kind: info}. The ground truth is computed here, independently of the worker: each
original object is evaluated on its own (no instance iteration), instances are added from their
known placements, render-only settings are applied by hand on copies, and animation is found by
stepping every frame of the scene's range with numpy.

info: "path"; "bbox_min"/"bbox_max"/"center" (the renderable world box at the first frame, when
static); "animated" (bool, stepping every frame with render visibility); plus kind-specific keys.

Kinds:
- instanced_collection: a collection linked to the scene AND instanced by an empty in it.
- mixed_types: curve, text, surface, metaball beside collection and geometry-nodes instances of
  them.
- render_only: a render-only mirror, a viewport-hidden object, a viewport-hidden collection, an
  eye-hidden collection, a hide_set object, subdivision render levels; plus a render-hidden
  object and a viewport-only displace that must not count.
- bounce: a cube that jumps between frames 5 and 23 of 1..250, still elsewhere.
- hidden_mover: the only moving object is hidden in the viewport (rendered).
- render_wave: a Wave modifier shown only in renders.
- frame_zero: the range starts at frame 0 and the only motion is between frames 0 and 1.
- outside_range: keys only at frames 300-310 of a 1..250 scene (static within the range).
- edge_on: a flat plane in the XY plane (seen edge-on at elevation 0).
- ocean: an Ocean modifier with its time keyed.
- nan_vertex / huge_vertex: a mesh with a NaN vertex / a vertex at 1e12.
- compositing_off: render.use_compositing off. sequencer: a colour strip in the sequencer.
- missing_texture: an image texture whose file is deleted after saving.
- missing_font_and_cache: a text whose font file is deleted, a cloth with an external point
  cache folder that does not exist.
- missing_library / library_and_local: a linked library deleted after saving (only geometry /
  beside a local cube).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

_SCRIPT = r'''
import json, math, os, sys
import bpy, bmesh
import numpy as np
from mathutils import Vector

job = json.loads(sys.argv[-1])
folder = job["folder"]
results = {}


def reset(frame_end=48, frame_start=1):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start = frame_start
    scene.frame_end = frame_end
    scene.cycles.use_denoising = False
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.05, 0.05)
    scene.world = world
    return scene


def emission(color):
    mat = bpy.data.materials.new("Mat")
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    em = nt.nodes.new("ShaderNodeEmission")
    em.inputs["Color"].default_value = (*color, 1.0)
    nt.links.new(em.outputs[0], out.inputs["Surface"])
    return mat


def cube(name, size, location, coll=None):
    me = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=size)
    bm.to_mesh(me)
    bm.free()
    me.materials.append(emission((0.8, 0.1, 0.1)))
    obj = bpy.data.objects.new(name, me)
    obj.location = location
    (coll or bpy.context.scene.collection).objects.link(obj)
    return obj


def box_of(points):
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return pts.min(axis=0), pts.max(axis=0)


def union(*boxes):
    los = [b[0] for b in boxes if b is not None]
    his = [b[1] for b in boxes if b is not None]
    return np.min(los, axis=0), np.max(his, axis=0)


def cube_box(size, location):
    h = size / 2
    c = np.array(location, dtype=np.float64)
    return c - h, c + h


def object_box(obj, local=False):
    """World (or local) box of one original object, evaluated on its own."""
    deps = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(deps)
    me = ev.to_mesh()
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    co = co.reshape(-1, 3)
    if not local:
        m = np.array(ev.matrix_world)
        co = co @ m[:3, :3].T + m[:3, 3]
    return box_of(co)


def shifted(box, offset):
    return box[0] + np.asarray(offset), box[1] + np.asarray(offset)


def render_visibility(scene):
    """By hand, for the truth: show in the viewport exactly what renders."""
    for coll in bpy.data.collections:
        coll.hide_viewport = coll.hide_render

    def walk(lc):
        lc.hide_viewport = False
        for c in lc.children:
            walk(c)

    walk(scene.view_layers[0].layer_collection)
    for obj in scene.objects:
        obj.hide_viewport = obj.hide_render
        obj.hide_set(False)
        for mod in obj.modifiers:
            mod.show_viewport = mod.show_render


def world_points(scene):
    """Every rendered object's world vertices, evaluated one original object at a time."""
    deps = bpy.context.evaluated_depsgraph_get()
    out = {}
    for obj in scene.objects:
        if obj.type not in ("MESH", "CURVE", "FONT", "SURFACE", "META") or obj.hide_render:
            continue
        ev = obj.evaluated_get(deps)
        me = ev.to_mesh()
        co = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", co)
        ev.to_mesh_clear()
        m = np.array(ev.matrix_world)
        out[obj.name] = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
    return out


def animated_truth(scene):
    """Step every frame of the range; any rendered vertex moving is animation."""
    render_visibility(scene)
    scene.frame_set(scene.frame_start)
    ref = world_points(scene)
    moved = False
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        now = world_points(scene)
        for name, pts in ref.items():
            if name not in now or now[name].shape != pts.shape or \
                    np.abs(now[name] - pts).max() > 1e-5:
                moved = True
        if moved:
            break
    scene.frame_set(scene.frame_start)
    return moved


def finish(kind, scene, info, box=None, check_animation=True):
    path = os.path.join(folder, kind + ".blend")
    if box is not None:
        info["bbox_min"], info["bbox_max"] = box[0].tolist(), box[1].tolist()
        info["center"] = ((box[0] + box[1]) / 2).tolist()
    # Saved as built first: the truth switches viewport settings.
    bpy.ops.wm.save_as_mainfile(filepath=path)
    if check_animation:
        info["animated"] = animated_truth(scene)
    info["path"] = path
    results[kind] = info


def key_z(obj, pairs):
    for frame, z in pairs:
        obj.location.z = z
        obj.keyframe_insert("location", index=2, frame=frame)


def build_instanced_collection():
    scene = reset()
    coll = bpy.data.collections.new("Trio")
    scene.collection.children.link(coll)
    specs = [(1.0, (0, 0, 0)), (1.0, (2, 0, 0)), (1.0, (4, 0, 0))]
    for i, (s, loc) in enumerate(specs):
        cube(f"Cube{i}", s, loc, coll)
    inst = bpy.data.objects.new("TrioInstance", None)
    inst.instance_type = "COLLECTION"
    inst.instance_collection = coll
    inst.location = (0, 6, 1)
    scene.collection.objects.link(inst)
    boxes = [cube_box(s, loc) for s, loc in specs]
    boxes += [shifted(b, (0, 6, 1)) for b in boxes]
    finish("instanced_collection", scene, {"pieces": 6}, union(*boxes))


def build_mixed_types():
    scene = reset()
    coll = bpy.data.collections.new("Mixed")
    scene.collection.children.link(coll)

    def into(obj):
        for c in list(obj.users_collection):
            c.objects.unlink(obj)
        coll.objects.link(obj)
        return obj

    bpy.ops.curve.primitive_bezier_circle_add(radius=1.0, location=(0, 0, 0))
    curve = into(bpy.context.active_object)
    curve.data.bevel_depth = 0.2
    bpy.ops.object.text_add(location=(3, 0, 0))
    text = into(bpy.context.active_object)
    text.data.body = "Hi"
    text.data.extrude = 0.1
    bpy.ops.surface.primitive_nurbs_surface_sphere_add(radius=0.7, location=(0, 3, 0))
    surf = into(bpy.context.active_object)
    bpy.ops.object.metaball_add(type="BALL", radius=0.8, location=(-3, 0, 1))
    ball = bpy.context.active_object  # metaballs stay out of instances (they merge by name)
    viewport_resolution = ball.data.resolution
    ball.data.resolution = ball.data.render_resolution  # truth: what the render tessellates
    evaluated = {o.name: object_box(o) for o in (curve, text, surf, ball)}
    ball.data.resolution = viewport_resolution
    local = {o.name: object_box(o, local=True) for o in (text, curve)}

    inst = bpy.data.objects.new("MixedInstance", None)
    inst.instance_type = "COLLECTION"
    inst.instance_collection = coll
    inst.location = (0, -6, 0)
    scene.collection.objects.link(inst)

    # Geometry-nodes instances of the text (twice) and the curve on the points of meshes.
    gn_boxes = []
    for name, src, pts in (("GNText", text, [(8, 0, 0), (10, -2, 1)]),
                           ("GNCurve", curve, [(8, 4, 2)])):
        gn_instancer(name, src, pts)
        gn_boxes += [shifted(local[src.name], p) for p in pts]

    boxes = list(evaluated.values())
    boxes += [shifted(evaluated[o.name], (0, -6, 0)) for o in (curve, text, surf)]
    boxes += gn_boxes
    finish("mixed_types", scene, {}, union(*boxes), check_animation=False)


def gn_instancer(name, src, pts):
    """A mesh of points whose geometry nodes put an instance of `src` on each point."""
    me = bpy.data.meshes.new(name)
    me.from_pydata(pts, [], [])
    holder = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(holder)
    group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    n = group.nodes
    gin, gout = n.new("NodeGroupInput"), n.new("NodeGroupOutput")
    info_node = n.new("GeometryNodeObjectInfo")
    info_node.transform_space = "ORIGINAL"
    info_node.inputs["Object"].default_value = src
    info_node.inputs["As Instance"].default_value = True
    inst_node = n.new("GeometryNodeInstanceOnPoints")
    group.links.new(gin.outputs[0], inst_node.inputs["Points"])
    group.links.new(info_node.outputs["Geometry"], inst_node.inputs["Instance"])
    group.links.new(inst_node.outputs[0], gout.inputs[0])
    holder.modifiers.new(name, "NODES").node_group = group
    return holder


def build_render_only():
    scene = reset()
    base = cube("Base", 2.0, (0, 0, 0))
    target = bpy.data.objects.new("MirrorPlane", None)
    target.location = (3, 0, 0)
    scene.collection.objects.link(target)
    mirror = base.modifiers.new("Mirror", "MIRROR")
    mirror.mirror_object = target
    mirror.show_viewport = False
    boxes = [cube_box(2.0, (0, 0, 0)), cube_box(2.0, (6, 0, 0))]
    hidden = cube("ViewportHidden", 1.0, (0, 4, 0))
    hidden.hide_viewport = True
    boxes.append(cube_box(1.0, (0, 4, 0)))
    coll = bpy.data.collections.new("HiddenColl")
    scene.collection.children.link(coll)
    coll.hide_viewport = True
    cube("InHiddenColl", 1.0, (0, -4, 0), coll)
    boxes.append(cube_box(1.0, (0, -4, 0)))
    eye = bpy.data.collections.new("EyeHidden")
    scene.collection.children.link(eye)
    cube("InEyeHidden", 1.0, (0, 0, -3), eye)
    scene.view_layers[0].layer_collection.children["EyeHidden"].hide_viewport = True
    boxes.append(cube_box(1.0, (0, 0, -3)))
    hs = cube("HideSet", 1.0, (-3, 0, 0))
    hs.hide_set(True)
    boxes.append(cube_box(1.0, (-3, 0, 0)))
    cube("RenderHidden", 1.0, (50, 50, 50)).hide_render = True
    wild = cube("ViewportOnlyDisplace", 0.5, (0, 0, 0))
    disp = wild.modifiers.new("Displace", "DISPLACE")
    disp.strength = 40.0
    disp.show_render = False
    sub = cube("Subdivided", 2.0, (0, 0, 5))
    ss = sub.modifiers.new("Subsurf", "SUBSURF")
    ss.levels = 0
    ss.render_levels = 3
    ss.levels = 3  # truth: the render levels, evaluated on their own
    boxes.append(object_box(sub))
    ss.levels = 0
    finish("render_only", scene, {}, union(*boxes))


def build_bounce():
    scene = reset(frame_end=250)
    c = cube("Bouncer", 1.0, (0, 0, 0))
    key_z(c, [(1, 0.0), (5, 0.0), (14, 3.0), (23, 0.0), (250, 0.0)])
    finish("bounce", scene, {})


def build_hidden_mover():
    scene = reset()
    cube("Still", 1.0, (0, 0, 0))
    m = cube("HiddenMover", 1.0, (3, 0, 0))
    key_z(m, [(1, 0.0), (30, 2.0)])
    m.hide_viewport = True
    finish("hidden_mover", scene, {})


def build_render_wave():
    scene = reset()
    me = bpy.data.meshes.new("Grid")
    bm = bmesh.new()
    bmesh.ops.create_grid(bm, x_segments=16, y_segments=16, size=2.0)
    bm.to_mesh(me)
    bm.free()
    obj = bpy.data.objects.new("Grid", me)
    scene.collection.objects.link(obj)
    wave = obj.modifiers.new("Wave", "WAVE")
    wave.show_viewport = False
    finish("render_wave", scene, {})


def build_frame_zero():
    scene = reset(frame_start=0, frame_end=40)
    c = cube("Early", 1.0, (0, 0, 0))
    key_z(c, [(0, 1.0), (1, 0.0)])
    finish("frame_zero", scene, {})


def build_outside_range():
    scene = reset(frame_end=250)
    c = cube("Later", 1.0, (0, 0, 0))
    key_z(c, [(300, 0.0), (310, 4.0)])
    scene.frame_set(1)
    finish("outside_range", scene, {}, cube_box(1.0, (0, 0, 0)))


def build_edge_on():
    scene = reset()
    me = bpy.data.meshes.new("Flat")
    me.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    me.materials.append(emission((0.1, 0.8, 0.1)))
    obj = bpy.data.objects.new("Flat", me)
    scene.collection.objects.link(obj)
    finish("edge_on", scene, {}, (np.array([-1.0, -1, 0]), np.array([1.0, 1, 0])))


def build_ocean():
    scene = reset()
    me = bpy.data.meshes.new("Sea")
    me.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("Sea", me)
    scene.collection.objects.link(obj)
    mod = obj.modifiers.new("Ocean", "OCEAN")
    mod.resolution = 4
    mod.time = 1.0
    obj.keyframe_insert('modifiers["Ocean"].time', frame=1)
    mod.time = 10.0
    obj.keyframe_insert('modifiers["Ocean"].time', frame=48)
    finish("ocean", scene, {})


def build_bad_vertex(kind, value):
    scene = reset()
    obj = cube("Broken", 1.0, (0, 0, 0))
    co = [0.0] * (3 * len(obj.data.vertices))
    obj.data.vertices.foreach_get("co", co)
    co[0] = value
    obj.data.vertices.foreach_set("co", co)
    obj.data.update()
    finish(kind, scene, {}, check_animation=False)


def build_compositing_off():
    scene = reset()
    cube("Cube", 2.0, (1, 2, 3))
    scene.render.use_compositing = False
    finish("compositing_off", scene, {}, cube_box(2.0, (1, 2, 3)))


def build_sequencer():
    scene = reset()
    cube("Cube", 2.0, (1, 2, 3))
    ed = scene.sequence_editor_create()
    strips = ed.strips if hasattr(ed, "strips") else ed.sequences  # 5.0 renamed it
    try:
        strip = strips.new_effect("Colour", "COLOR", 1, frame_start=1, frame_end=48)
    except TypeError:  # 5.0: a length instead of an end frame
        strip = strips.new_effect("Colour", "COLOR", 1, frame_start=1, length=48)
    strip.color = (0.0, 0.0, 1.0)
    scene.render.use_sequencer = True
    finish("sequencer", scene, {}, cube_box(2.0, (1, 2, 3)))


def build_missing_texture():
    scene = reset()
    tex_path = os.path.join(folder, "gone.png")
    img = bpy.data.images.new("gone", 4, 4)
    img.filepath_raw = tex_path
    img.file_format = "PNG"
    img.save()
    obj = cube("Textured", 2.0, (0, 0, 0))
    mat = obj.data.materials[0]
    tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(tex_path)
    em = mat.node_tree.nodes["Emission"]
    mat.node_tree.links.new(tex.outputs["Color"], em.inputs["Color"])
    finish("missing_texture", scene, {"texture": tex_path}, cube_box(2.0, (0, 0, 0)),
           check_animation=False)


def build_missing_font_and_cache():
    scene = reset()
    import shutil
    font_path = os.path.join(folder, "gone_font.woff2")
    shutil.copyfile(os.path.join(bpy.utils.system_resource("DATAFILES", path="fonts"),
                                 "DejaVuSansMono.woff2"), font_path)
    curve = bpy.data.curves.new("Label", "FONT")
    curve.body = "Hi"
    curve.font = bpy.data.fonts.load(font_path)
    scene.collection.objects.link(bpy.data.objects.new("Label", curve))
    cloth_obj = cube("Cloth", 1.0, (0, 0, -2))
    cloth = cloth_obj.modifiers.new("Cloth", "CLOTH")
    cloth.point_cache.use_external = True
    cloth.point_cache.filepath = "//gone_cache"
    cloth.point_cache.name = "cloth"
    finish("missing_font_and_cache", scene, {"font": font_path}, check_animation=False)


def build_library(kind, with_local):
    lib_path = os.path.join(folder, kind + "_lib.blend")
    reset()
    coll = bpy.data.collections.new("LibStuff")
    bpy.context.scene.collection.children.link(coll)
    cube("LibCube", 1.0, (0, 0, 0), coll)
    bpy.ops.wm.save_as_mainfile(filepath=lib_path)
    scene = reset()
    with bpy.data.libraries.load(lib_path, link=True) as (src, dst):
        dst.collections = ["LibStuff"]
    inst = bpy.data.objects.new("LibInstance", None)
    inst.instance_type = "COLLECTION"
    inst.instance_collection = dst.collections[0]
    scene.collection.objects.link(inst)
    if with_local:
        cube("Local", 2.0, (0, 0, 0))
    finish(kind, scene, {"library": lib_path}, check_animation=False)


builders = {
    "instanced_collection": build_instanced_collection,
    "mixed_types": build_mixed_types,
    "render_only": build_render_only,
    "bounce": build_bounce,
    "hidden_mover": build_hidden_mover,
    "render_wave": build_render_wave,
    "frame_zero": build_frame_zero,
    "outside_range": build_outside_range,
    "edge_on": build_edge_on,
    "ocean": build_ocean,
    "nan_vertex": lambda: build_bad_vertex("nan_vertex", float("nan")),
    "huge_vertex": lambda: build_bad_vertex("huge_vertex", 1e12),
    "compositing_off": build_compositing_off,
    "sequencer": build_sequencer,
    "missing_texture": build_missing_texture,
    "missing_font_and_cache": build_missing_font_and_cache,
    "missing_library": lambda: build_library("missing_library", False),
    "library_and_local": lambda: build_library("library_and_local", True),
}
for kind in job["kinds"]:
    builders[kind]()
print("REALWORLD-INFO " + json.dumps(results), flush=True)
sys.stdout.flush()
os._exit(0)
'''

KINDS = ("instanced_collection", "mixed_types", "render_only", "bounce", "hidden_mover",
         "render_wave", "frame_zero", "outside_range", "edge_on", "ocean", "nan_vertex",
         "huge_vertex", "compositing_off", "sequencer", "missing_texture",
         "missing_font_and_cache", "missing_library", "library_and_local")


def build(python: str, folder: str | os.PathLike[str], kinds: tuple[str, ...] = KINDS) -> dict:
    """Build the .blend of every kind into `folder`; return {kind: info}."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="orbitfarm-realworld-") as user_dir:
        env.setdefault("BLENDER_USER_RESOURCES", user_dir)  # removed again when built
        job = json.dumps({"folder": str(folder), "kinds": list(kinds)})
        proc = subprocess.run([python, "-c", _SCRIPT, job], capture_output=True, text=True,
                              env=env, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("REALWORLD-INFO "):
            info = json.loads(line[len("REALWORLD-INFO "):])
            for kind, key in (("missing_texture", "texture"), ("missing_font_and_cache", "font")):
                if kind in info:
                    os.unlink(info[kind][key])
            for kind in ("missing_library", "library_and_local"):
                if kind in info:
                    os.unlink(info[kind]["library"])
            return info
    raise RuntimeError(f"building {kinds} failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
