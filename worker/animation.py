"""Is the subject animated? Compare every frame of the scene's range with its first frame.

Evaluated results are compared, not animation data, so keyframes (layered/slotted actions too),
parents, constraints, armatures, shape keys, drivers, NLA, caches and time-dependent modifiers
all count; lights and cameras do not. Every frame is stepped, because motion can hide between
any two samples (a bounce over frames 5-23 of 1-250); frames at keyframe times go first, and a
time budget bounds the cost on heavy scenes: when it runs out the unchecked frames are named
in a warning instead of being silently assumed static.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import bpy

from . import compat
from .bounds import pieces, vertex_positions

BUDGET_SECONDS = 60.0


@dataclass
class AnimationReport:
    evidence: list[str] = field(default_factory=list)  # empty: static
    warnings: list[str] = field(default_factory=list)
    frames_checked: int = 0


def _geometry_bytes(obj: Any) -> bytes:
    """The evaluated vertex positions (object space), or the bounding box for other data."""
    if obj.type == "MESH":
        return vertex_positions(obj.data).tobytes()
    try:
        mesh = obj.to_mesh()
    except RuntimeError:
        mesh = None
    try:
        if mesh is not None and len(mesh.vertices):
            return vertex_positions(mesh).tobytes()
    finally:
        if mesh is not None:
            obj.to_mesh_clear()
    return array("f", [v for corner in obj.bound_box for v in corner]).tobytes()


def snapshot() -> dict[tuple, tuple[str, tuple[float, ...], bytes]]:
    """key -> (name, world matrix, local geometry) of all renderable geometry at this frame."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return {key: (name, tuple(v for row in matrix for v in row), _geometry_bytes(obj))
            for key, name, obj, matrix in pieces(depsgraph)}


def _differs(a: bytes, b: bytes, tolerance: float) -> bool:
    if a == b:
        return False
    if len(a) != len(b):
        return True
    fa, fb = array("f"), array("f")
    fa.frombytes(a)
    fb.frombytes(b)
    return any(not abs(x - y) <= tolerance for x, y in zip(fa, fb, strict=True))


def frame_order(scene: Any) -> list[int]:
    """Every frame of the scene's range, frames at (and next to) keyframe times first."""
    start, end = scene.frame_start, scene.frame_end
    every = list(range(start, max(start, end) + 1))
    first: list[int] = [start, end]
    for action in bpy.data.actions:
        for t in compat.keyframe_times(action):
            first += [int(t) - 1, int(t), int(t) + 1, round(t)]
    ordered = dict.fromkeys(f for f in first + every if start <= f <= max(start, end))
    return list(ordered)


def detect_animation(scene: Any, budget: float = BUDGET_SECONDS) -> AnimationReport:
    """Evidence that renderable geometry moves or deforms at any frame of the scene's range."""
    frames = frame_order(scene)
    report = AnimationReport()
    original = scene.frame_current
    started = time.perf_counter()
    try:
        scene.frame_set(frames[0])
        ref = snapshot()
        report.frames_checked = 1
        for frame in frames[1:]:
            if time.perf_counter() - started > budget:
                report.warnings.append(
                    f"animation check stopped after {report.frames_checked} of {len(frames)} "
                    f"frames ({budget:g} s budget): motion only at other frames would be missed")
                break
            scene.frame_set(frame)
            snap = snapshot()
            report.frames_checked += 1
            found = _compare(ref, snap, frames[0], frame)
            if found:
                report.evidence = sorted(found.values())
                break
    finally:
        scene.frame_set(original)
    return report


def _compare(ref: dict, snap: dict, ref_frame: int, frame: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in set(ref) ^ set(snap):
        name = (ref.get(key) or snap[key])[0]
        found.setdefault(name, f"{name}: appears or disappears between frames {ref_frame} and "
                               f"{frame}{_why(name)}")
    for key in set(ref) & set(snap):
        name, m0, g0 = ref[key]
        _, m1, g1 = snap[key]
        if name in found:
            continue
        scale = 1.0 + max(abs(m0[3]), abs(m0[7]), abs(m0[11]))
        if any(not abs(a - b) <= 1e-6 * scale for a, b in zip(m0, m1, strict=True)):
            found[name] = f"{name}: moves between frames {ref_frame} and {frame}{_why(name)}"
        elif _differs(g0, g1, 1e-6 * scale):
            found[name] = (f"{name}: changes shape between frames {ref_frame} and {frame}"
                           + _why(name))
    return found


def _why(obj_name: str) -> str:
    """Likely causes, from the object's setup (the evidence itself comes from evaluation)."""
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
