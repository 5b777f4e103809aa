"""Which frames an imported subject's animation check covers, and what its caches say.

Importers disagree on frame ranges: glTF clips start at frame 0 while the scene stays 1-250,
USD and Alembic set the scene range (a static stage becomes 0-0), FBX sets the fps. So the range
is decided here from the imported animation data: the actions that play (active actions, and
NLA strips that are not muted: the other glTF clips arrive as muted NLA tracks and are not
evidence of anything). USD and Alembic animation is often no action at all: Transform Cache
constraints and Mesh Sequence Cache modifiers read the file at every frame; they count as
animation themselves, and the importer's scene range is kept for them.
"""

from __future__ import annotations

import math
from typing import Any

import bpy

from .bounds import GEOMETRY_TYPES


def _playing_actions(owner: Any) -> list[Any]:
    anim = getattr(owner, "animation_data", None)
    if anim is None:
        return []
    found = [anim.action] if anim.action is not None else []
    for track in anim.nla_tracks:
        if not track.mute:
            found += [s.action for s in track.strips if s.action is not None and not s.mute]
    return found


def playing_actions() -> list[Any]:
    """Actions that move something when frames change (objects, shape keys, materials...)."""
    owners: list[Any] = list(bpy.data.objects)
    owners += [k for k in bpy.data.shape_keys]
    seen: dict[str, Any] = {}
    for owner in owners:
        for action in _playing_actions(owner):
            seen.setdefault(action.name, action)
    return list(seen.values())


def cache_readers() -> list[str]:
    """Evidence lines for geometry animated by reading a cache file every frame."""
    found = []
    for obj in bpy.data.objects:
        if obj.type not in GEOMETRY_TYPES and obj.type not in ("EMPTY", "ARMATURE"):
            continue
        for con in obj.constraints:
            if con.type == "TRANSFORM_CACHE" and con.enabled:
                found.append(f"{obj.name}: moves by a Transform Cache constraint reading "
                             f"{_cache_name(con)}")
        for mod in getattr(obj, "modifiers", ()):
            if mod.type == "MESH_SEQUENCE_CACHE" and mod.show_render:
                found.append(f"{obj.name}: changes shape by a Mesh Sequence Cache modifier "
                             f"reading {_cache_name(mod)}")
    return sorted(found)


def _cache_name(owner: Any) -> str:
    cache = getattr(owner, "cache_file", None)
    return repr(bpy.path.basename(cache.filepath)) if cache is not None else "a cache file"


def choose_range(scene: Any, fmt: str) -> dict[str, Any]:
    """Set the scene's frame range to the imported clip; return what was chosen (result.json)."""
    actions = playing_actions()
    if actions:
        starts = [a.frame_range[0] for a in actions]
        ends = [a.frame_range[1] for a in actions]
        start, end = math.floor(min(starts)), math.ceil(max(ends))
        scene.frame_start, scene.frame_end = start, max(start, end)
        return {"from": "actions", "actions": sorted(a.name for a in actions),
                "frame_start": start, "frame_end": scene.frame_end}
    if cache_readers():
        return {"from": f"{fmt} importer's scene range", "actions": [],
                "frame_start": scene.frame_start, "frame_end": scene.frame_end}
    # Nothing plays: one frame is the whole truth (stepping 250 frames would only cost time).
    scene.frame_end = scene.frame_start
    return {"from": "static (no actions or caches)", "actions": [],
            "frame_start": scene.frame_start, "frame_end": scene.frame_end}
