"""The subject scene: load safely, find renderable geometry, detect animation, centre it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import bpy
import numpy as np

GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}
OFFSET_EMPTY = "orbitfarm_offset"
DETECTION_SAMPLES = 10  # frames sampled across the scene range; ends included


class SubjectError(Exception):
    """The subject cannot be rendered; the message is the reason written to result.json."""


def load_blend(path: str) -> Any:
    """Open a .blend without running its scripts; return its active scene."""
    if not os.path.isfile(path):
        raise SubjectError(f"file not found: {path}")
    try:
        # use_scripts=False: Python embedded in the file (registered texts, script drivers)
        # never runs, whatever the user preferences say.
        bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise SubjectError(
            f"cannot open {path}: not a readable .blend (corrupt, truncated, or saved by a newer "
            f"Blender than {bpy.app.version_string}): {detail}") from None
    scene = bpy.context.scene
    if scene is None:
        raise SubjectError(f"{path} has no scene")
    return scene


def _hidden_collections(view_layer: Any) -> set[str]:
    hidden: set[str] = set()

    def walk(layer_coll: Any, parent_hidden: bool) -> None:
        coll = layer_coll.collection
        off = parent_hidden or layer_coll.exclude or coll.hide_render
        if off:
            hidden.add(coll.name)
        for child in layer_coll.children:
            walk(child, off)

    walk(view_layer.layer_collection, False)
    return hidden


def renderable_objects(scene: Any) -> list[Any]:
    """Objects whose geometry shows up in a render of `scene` (lights and cameras excluded)."""
    view_layer = scene.view_layers[0] if scene.view_layers else None
    if view_layer is None:
        return []
    hidden = _hidden_collections(view_layer)
    found = []
    for obj in view_layer.objects:
        if obj.type not in GEOMETRY_TYPES or obj.hide_render:
            continue
        colls = obj.users_collection
        if colls and all(c.name in hidden for c in colls):
            continue
        found.append(obj)
    return found


def _instances(scene: Any, depsgraph: Any) -> Iterator[tuple[tuple, Any, Any]]:
    """(stable key, evaluated object, world matrix) of every renderable geometry instance."""
    visible = {obj.name for obj in renderable_objects(scene)}
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type not in GEOMETRY_TYPES:
            continue
        key: tuple
        if inst.is_instance:
            parent = inst.parent.original if inst.parent else None
            if parent is not None and parent.hide_render:
                continue
            key = ("instance", parent.name if parent else "", obj.original.name,
                   tuple(inst.persistent_id))
        else:
            if obj.original.name not in visible:
                continue
            key = ("object", obj.original.name)
        yield key, obj, np.array(inst.matrix_world, dtype=np.float64)


def _local_points(obj: Any) -> np.ndarray:
    """Evaluated vertex positions in object space (bounding-box corners for non-mesh data)."""
    try:
        mesh = obj.to_mesh()
    except RuntimeError:
        mesh = None
    try:
        if mesh is not None and len(mesh.vertices):
            co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
            mesh.vertices.foreach_get("co", co)
            return co.reshape(-1, 3).astype(np.float64)
    finally:
        if mesh is not None:
            obj.to_mesh_clear()
    corners = np.array([tuple(c) for c in obj.bound_box], dtype=np.float64)
    return corners if np.abs(corners).sum() > 0 else np.zeros((0, 3))


def _snapshot(scene: Any) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """key -> (world matrix, local points) of all renderable geometry at the current frame."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    points_by_data: dict[int, np.ndarray] = {}
    snap = {}
    for key, obj, matrix in _instances(scene, depsgraph):
        # Instances of one evaluated object share their points: convert each only once.
        ident = obj.as_pointer()
        if ident not in points_by_data:
            points_by_data[ident] = _local_points(obj)
        snap[key] = (matrix, points_by_data[ident])
    return snap


def world_bbox(scene: Any) -> tuple[list[float], list[float]] | None:
    """World-space (min, max) of all renderable geometry at the current frame, None if none."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for matrix, points in _snapshot(scene).values():
        if not len(points):
            continue
        world = points @ matrix[:3, :3].T + matrix[:3, 3]
        lo = np.minimum(lo, world.min(axis=0))
        hi = np.maximum(hi, world.max(axis=0))
    if not np.all(np.isfinite(lo)):
        return None
    return lo.tolist(), hi.tolist()


def _sample_frames(scene: Any, samples: int) -> list[int]:
    start, end = scene.frame_start, scene.frame_end
    if end <= start:
        return [start]
    return sorted({round(start + (end - start) * i / (samples - 1)) for i in range(samples)})


def _why(obj_name: str) -> str:
    """Likely causes, from the object's setup (the evidence itself comes from sampling)."""
    obj = bpy.data.objects.get(obj_name)
    if obj is None:
        return ""
    causes = []
    anim = obj.animation_data
    if anim and anim.action:
        causes.append("keyframes")
    if anim and anim.drivers:
        causes.append("drivers")
    if anim and len(anim.nla_tracks):
        causes.append("NLA strips")
    if obj.constraints:
        causes.append("constraints")
    if obj.parent:
        causes.append(f"parent {obj.parent.name!r}")
    keys = getattr(obj.data, "shape_keys", None)
    if keys and keys.animation_data:
        causes.append("shape keys")
    mods = [m.type.lower() for m in getattr(obj, "modifiers", [])]
    if mods:
        causes.append("modifiers " + ", ".join(mods))
    return f" ({'; '.join(causes)})" if causes else ""


def detect_animation(scene: Any, samples: int = DETECTION_SAMPLES) -> list[str]:
    """Evidence that renderable geometry moves or deforms over the scene's frame range.

    Samples evaluated world matrices and vertex positions, so keyframes, parents, constraints,
    armatures, shape keys, drivers, NLA and time-dependent modifiers all count, on every Blender
    version; lights and cameras do not. Empty list: static.
    """
    frames = _sample_frames(scene, samples)
    original = scene.frame_current
    evidence: dict[str, str] = {}
    ref: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            snap = _snapshot(scene)
            if i == 0:
                ref = snap
                continue
            for key in set(ref) ^ set(snap):
                name = key[2] if key[0] == "instance" else key[1]
                evidence.setdefault(name, f"{name}: appears or disappears by frame {frame}")
            for key in set(ref) & set(snap):
                name = key[2] if key[0] == "instance" else key[1]
                if name in evidence:
                    continue
                m0, p0 = ref[key]
                m1, p1 = snap[key]
                scale = 1.0 + float(np.abs(m0[:3, 3]).max())
                if not np.allclose(m0, m1, rtol=0, atol=1e-6 * scale):
                    evidence[name] = (f"{name}: moves between frames {frames[0]} and {frame}"
                                      + _why(name))
                elif p0.shape != p1.shape or not np.allclose(p0, p1, rtol=0, atol=1e-6 * scale):
                    evidence[name] = (f"{name}: changes shape between frames {frames[0]} and "
                                      f"{frame}" + _why(name))
    finally:
        scene.frame_set(original)
    return sorted(evidence.values())


def center_subject(scene: Any) -> tuple[list[float], list[float]]:
    """Move the hierarchy roots so the renderable bounding-box centre is at the origin.

    The roots are parented to a new empty placed at -centre: moving a root that has location
    keys directly would be undone by the next frame change. Returns (offset, original centre).
    """
    box = world_bbox(scene)
    if box is None:
        raise SubjectError("no renderable geometry")
    center = [(a + b) / 2 for a, b in zip(*box, strict=False)]
    offset = [-c for c in center]
    if max(abs(c) for c in center) == 0:
        return offset, center
    empty = bpy.data.objects.new(OFFSET_EMPTY, None)
    scene.collection.objects.link(empty)
    empty.location = offset
    for obj in list(scene.objects):
        if obj.parent is None and obj is not empty:
            obj.parent = empty  # matrix_parent_inverse stays identity: the offset applies
    scene.view_layers[0].update()
    return offset, center
