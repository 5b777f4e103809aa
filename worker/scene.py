"""The subject scene: load it safely, list its renderable objects, find its centre."""

from __future__ import annotations

import os
from typing import Any

import bpy

from .blenderlog import blender_output
from .bounds import GEOMETRY_TYPES, Box


class SubjectError(Exception):
    """The subject cannot be rendered; the message is the reason written to result.json."""


def load_blend(path: str) -> Any:
    """Open a .blend without running its scripts; return its active scene."""
    if not os.path.isfile(path):
        raise SubjectError(f"file not found: {path}")
    try:
        # use_scripts=False: Python embedded in the file (registered texts, script drivers)
        # never runs, whatever the user preferences say.
        with blender_output():
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


def subject_center(box: Box) -> tuple[list[float], list[float]]:
    """(offset, centre) of a world box: the subject is rendered as if moved by offset.

    Nothing in the scene moves: the orbit camera is placed around the centre instead (see
    render.py). Moving the subject would move a collection that is both in the scene and
    instanced in it twice, and fight constraints to world positions.
    """
    center = [(a + b) / 2 for a, b in zip(*box, strict=True)]
    return [-c for c in center], center
