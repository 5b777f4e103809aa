"""Renderable geometry of the evaluated scene: its pieces, their world bounding box, its checks.

Every piece (object or instance) is read while the depsgraph iterator stands on it: Blender
reuses the temporary objects of instances (and their addresses) from one step to the next, so
nothing read here is ever keyed on an evaluated object. No numpy: Blender builds without it
(Debian's) run the worker; vertex arrays go through `array` and `foreach_get`, and the
per-vertex maths (transforming to world space) is done by Blender on a temporary mesh.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import Any

import bpy

GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}
PLAUSIBLE_LIMIT = 1e7  # scene units; beyond it float32 positions are coarser than a unit
Box = tuple[list[float], list[float]]


class BoundsError(Exception):
    """The bounds cannot be trusted (non-finite, implausible, unstable); message is the reason."""


def pieces(depsgraph: Any) -> Iterator[tuple[tuple, str, Any, Any]]:
    """(stable key, name, evaluated object, world matrix) of every renderable geometry piece.

    Use the object and matrix before advancing: both are only valid for the current step.
    The key stays the same for the same piece across frames.
    """
    seen: dict[tuple, int] = {}
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type not in GEOMETRY_TYPES or not inst.show_self:
            continue
        if inst.is_instance:
            parent = inst.parent.original if inst.parent else None
            if parent is not None and parent.hide_render:
                continue
            name = obj.original.name if obj.original is not None else obj.name
            key: tuple = ("instance", parent.name if parent else "", name,
                          tuple(inst.persistent_id))
        else:
            original = obj.original
            if original.hide_render:
                continue
            name = original.name
            lib = original.library.filepath if original.library else ""
            key = ("object", lib, name)
        count = seen.get(key, 0)
        seen[key] = count + 1
        yield (key + (count,) if count else key), name, obj, inst.matrix_world


def vertex_positions(mesh: Any) -> array:
    """A mesh's vertex positions as one flat float32 array (x0, y0, z0, x1, ...).

    Read through the "position" attribute: MeshVertex.co goes element by element and is about
    100 times slower on large meshes.
    """
    n = len(mesh.vertices)
    co = array("f", bytes(12 * n))
    position = mesh.attributes.get("position")
    if position is not None and position.data_type == "FLOAT_VECTOR" and len(position.data) == n:
        position.data.foreach_get("vector", co)
    else:
        mesh.vertices.foreach_get("co", co)
    return co


def _corner_box(obj: Any, matrix: Any) -> Box | None:
    """The world box of the object's local bounding-box corners; None when it has none."""
    local = [tuple(c) for c in obj.bound_box]
    if all(v == 0 for c in local for v in c):
        return None
    corners = [matrix @ _vec(c) for c in local]
    return ([min(c[i] for c in corners) for i in range(3)],
            [max(c[i] for c in corners) for i in range(3)])


def _vec(corner: Any) -> Any:
    from mathutils import Vector

    return Vector(tuple(corner))


def piece_box(obj: Any, matrix: Any) -> Box | None:
    """World (min, max) of one evaluated piece: exact vertices, else its bounding-box corners."""
    try:
        mesh = obj.to_mesh()
    except RuntimeError:
        mesh = None
    if mesh is None or not len(mesh.vertices):
        if mesh is not None:
            obj.to_mesh_clear()
        # Volumes (and hair or points where Blender makes no mesh of them) have a box only.
        return _corner_box(obj, matrix) if obj.type in ("VOLUME", "POINTCLOUD", "CURVES") else None
    try:
        mesh.transform(matrix)  # a temporary copy: the evaluated object is untouched
        co = vertex_positions(mesh)
    finally:
        obj.to_mesh_clear()
    if not math.isfinite(sum(co)):  # NaN or inf anywhere makes the sum non-finite
        return [math.nan] * 3, [math.nan] * 3
    return ([min(co[0::3]), min(co[1::3]), min(co[2::3])],
            [max(co[0::3]), max(co[1::3]), max(co[2::3])])


def world_bbox(scene: Any) -> Box | None:
    """World-space (min, max) of all renderable geometry at the current frame, None if none.

    Non-finite coordinates come back as NaN: check_bounds rejects them.
    """
    depsgraph = bpy.context.evaluated_depsgraph_get()
    lo = [math.inf] * 3
    hi = [-math.inf] * 3
    found = False
    for _key, _name, obj, matrix in pieces(depsgraph):
        box = piece_box(obj, matrix)
        if box is None:
            continue
        found = True
        if any(math.isnan(v) for v in box[0]):
            return [math.nan] * 3, [math.nan] * 3
        lo = [min(a, b) for a, b in zip(lo, box[0], strict=True)]
        hi = [max(a, b) for a, b in zip(hi, box[1], strict=True)]
    return (lo, hi) if found else None


def check_bounds(box: Box) -> None:
    """Raise BoundsError when a box cannot describe real geometry."""
    values = box[0] + box[1]
    if not all(math.isfinite(v) for v in values):
        raise BoundsError("the subject's bounding box is not finite (a modifier or the file "
                          "produced NaN or infinite coordinates)")
    if max(abs(v) for v in values) > PLAUSIBLE_LIMIT:
        raise BoundsError(f"implausible bounding box {_fmt(box)}: coordinates beyond "
                          f"{PLAUSIBLE_LIMIT:g} scene units (garbage from a modifier?)")


def stable_world_bbox(scene: Any) -> Box | None:
    """world_bbox, evaluated twice from scratch; BoundsError when the two disagree or are absurd.

    A modifier reading uninitialised memory gives a different box on each evaluation.
    """
    first = world_bbox(scene)
    if first is None:
        return None
    check_bounds(first)
    for obj in scene.objects:
        obj.update_tag(refresh={"OBJECT", "DATA"})
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    second = world_bbox(scene)
    if second is None:
        raise BoundsError("the subject's geometry disappeared when evaluated a second time")
    check_bounds(second)
    size = max(max(b - a for a, b in zip(*first, strict=True)), 1e-9)
    drift = max(abs(a - b) for a, b in zip(first[0] + first[1], second[0] + second[1],
                                           strict=True))
    if drift > 1e-5 * size:
        raise BoundsError(f"the bounding box changes between two evaluations of frame "
                          f"{scene.frame_current}: {_fmt(first)} then {_fmt(second)} "
                          "(a modifier gives unstable results)")
    return first


def _fmt(box: Box) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in box[0]) + "] .. [" + ", ".join(
        f"{v:.4g}" for v in box[1]) + "]"
