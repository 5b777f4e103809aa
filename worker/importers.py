"""Mesh and USD subjects: import with Blender's own importer into a fresh empty scene.

The format table (extension -> operator, options) is submitter/model/subject_formats.py. An
importer saying FINISHED does not mean anything renders (a truncated STL gives 0 vertices, a
truncated OBJ vertices without faces, a point-cloud PLY no faces, a USD stage whose sublayer is
missing nothing at all): what was imported is checked and described in the reason. A failed
import leaves nothing behind: the scene is reset to an empty one again. Lights and cameras
the file brings are kept (the lighting may use them) but are never the subject.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..submitter.jobs.sidecars import resolve
from ..submitter.model.subject_formats import SubjectFormat
from .blenderlog import blender_output
from .bounds import pieces
from .crashprobe import crash_reason
from .scene import SubjectError


@dataclass
class Imported:
    """What the import made: recorded in result.json."""

    format: str
    operator: str
    options: dict[str, Any]
    seconds: float = 0.0
    triangles: int = 0
    warnings: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # textures found by name beside the file

    def to_result(self) -> dict[str, Any]:
        return {"source_format": self.format,
                "importer": {"operator": self.operator, "options": self.options,
                             "blender": bpy.app.version_string},
                "import_seconds": round(self.seconds, 4), "triangles": self.triangles,
                "resolved_textures": self.resolved}


def fresh_scene() -> Any:
    """Reset to one empty scene (no objects, default range 1-250): the next import's home."""
    with blender_output():
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    return bpy.context.scene


def _operator(fmt: SubjectFormat) -> Any:
    assert fmt.operator is not None
    group, name = fmt.operator.split(".")
    op = getattr(getattr(bpy.ops, group), name)
    try:
        op.get_rna_type()
    except (KeyError, RuntimeError, AttributeError):
        raise SubjectError(f"{fmt.name} files are not supported by this Blender "
                           f"({bpy.app.version_string} has no {fmt.operator} importer"
                           + ("; Collada was removed in Blender 5.0" if fmt.name == "collada"
                              else "") + ")") from None
    return op


def import_subject(path: str, fmt: SubjectFormat) -> tuple[Any, Imported]:
    """Import `path` into a fresh empty scene; (scene, what was imported) or SubjectError."""
    if not os.path.isfile(path):
        raise SubjectError(f"file not found: {path}")
    op = _operator(fmt)
    assert fmt.operator is not None
    info = Imported(fmt.name, fmt.operator, dict(fmt.options))
    scene = fresh_scene()
    started = time.perf_counter()
    label = os.path.basename(path)
    if fmt.native:
        crashed = crash_reason(lambda: op(filepath=path, **fmt.options), label)
        if crashed:
            fresh_scene()
            raise SubjectError(crashed)
    said: list[str] = []
    try:
        with blender_output() as said:
            result = op(filepath=path, **fmt.options)
    except RuntimeError as exc:
        fresh_scene()  # a failed import leaves partial objects (an empty, an armature)
        raise SubjectError(f"cannot import {label}: {_one_line(str(exc))}") from None
    if "FINISHED" not in result:
        fresh_scene()
        raise SubjectError(f"cannot import {label}: the importer returned {sorted(result)}")
    info.seconds = time.perf_counter() - started
    scene = bpy.context.scene
    try:
        info.triangles = check_renders(scene, label, said)
    except SubjectError:
        fresh_scene()
        raise
    info.resolved = resolve_textures(path)
    info.warnings = images_without_data()
    return scene, info


def _one_line(text: str) -> str:
    """The importer's message as one line: its last meaningful line, without the traceback."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Traceback", "File ", "Error: Python"))]
    line = lines[-1] if lines else "unknown error"
    line = line.removeprefix("Error: ").strip()
    return line if len(line) <= 200 else line[:197] + "..."


def check_renders(scene: Any, label: str, said: list[str]) -> int:
    """Triangles the import will render; SubjectError describing what was found when none."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    triangles = vertices = meshes = points = 0
    for _key, _name, obj, _matrix in pieces(depsgraph):
        if obj.type == "POINTCLOUD":
            points += len(getattr(obj.data, "points", ()))
            continue
        try:
            mesh = obj.to_mesh()
        except RuntimeError:
            continue
        if mesh is None:
            continue
        try:
            meshes += 1
            vertices += len(mesh.vertices)
            # A polygon of n corners is n - 2 triangles.
            triangles += len(mesh.loops) - 2 * len(mesh.polygons)
        finally:
            obj.to_mesh_clear()
    if triangles > 0:
        return triangles
    others = sorted({o.type.lower() for o in scene.objects})
    if points or (vertices and meshes):
        found = (f"a point cloud of {points + vertices:,} points" if points else
                 f"{meshes} mesh object(s) with {vertices:,} vertices and no faces "
                 "(a point cloud, or a truncated file)")
    elif meshes:
        found = f"{meshes} mesh object(s) with 0 vertices (an empty or truncated file)"
    elif others:
        found = "no geometry, only " + ", ".join(others) + " object(s)"
    else:
        found = "no objects at all (an empty stage or file; for USD a missing sublayer, " \
                "reference or payload leaves it empty)"
    hint = [ln for ln in said if "warn" in ln.lower() or "error" in ln.lower()]
    tail = f"; the importer said: {_one_line(hint[-1])}" if hint else ""
    raise SubjectError(f"nothing to render after importing {label}: {found}{tail}")


def resolve_textures(subject_path: str) -> list[str]:
    """Point images whose path does not exist (OBJ .mtl `.\\tex.jpg`, FBX `D:/...`) at the file
    of that name beside the subject; returns 'name: path' of each one resolved."""
    folder = Path(os.path.dirname(os.path.abspath(subject_path)))
    done = []
    for img in bpy.data.images:
        if img.source != "FILE" or img.packed_file is not None or not img.filepath:
            continue
        current = bpy.path.abspath(img.filepath)
        if os.path.exists(current):
            continue
        found = resolve(img.filepath, folder, folder)
        if found is not None:
            written = img.filepath
            img.filepath = str(found)
            img.reload()
            done.append(f"{img.name}: {written!r} -> {found.name} beside the subject")
    return done


def images_without_data() -> list[str]:
    """One warning per image that is there (a file or packed) but has no data: rendered pink.
    Missing image files are named by missing.missing_files() like a .blend's."""
    notes = []
    for img in bpy.data.images:
        if img.source != "FILE" or img.type == "RENDER_RESULT":
            continue
        on_disk = img.packed_file is None
        if on_disk and (not img.filepath
                        or not os.path.exists(bpy.path.abspath(img.filepath))):
            continue
        if tuple(img.size) == (0, 0):
            notes.append(f"image {img.name!r} has no data (unreadable or empty file "
                         f"{img.filepath!r}): rendered pink")
    return notes
