"""Batch list editing: add subject files (.blend, mesh, USD) or a whole folder, remove, clear (no file is opened)."""

# No `from __future__ import annotations`: Blender reads bpy.props annotations at register time.
# bpy.props annotations are calls by Blender's design, which mypy rejects as types:
# mypy: disable-error-code="valid-type"

import os
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, StringProperty
from bpy.types import Operator, OperatorFileListElement

from ..submitter.jobs.subjects import subjects_in_folder
from ..submitter.model.subject_formats import extensions_text, file_filter_glob, subject_format
from . import bridge
from .bridge import OpResult


def add_paths(settings: Any, paths: list[Path]) -> int:
    """Append paths not yet listed; return how many were new."""
    known = {os.path.normcase(bpy.path.abspath(item.path)) for item in settings.batch_files}
    added = 0
    for path in paths:
        text = str(path.resolve())
        if os.path.normcase(text) in known:
            continue
        item = settings.batch_files.add()
        item.path = text
        known.add(os.path.normcase(text))
        added += 1
    if added:
        settings.batch_index = len(settings.batch_files) - 1
    return added


class ORBITFARM_OT_batch_add_files(Operator):
    """Add .blend, mesh or USD files to the batch list"""

    bl_idname = "orbitfarm.batch_add_files"
    bl_label = "Add Files"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: CollectionProperty(type=OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default=file_filter_glob(), options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> OpResult:
        paths = [Path(self.directory) / f.name for f in self.files if f.name]
        if not paths and self.filepath:
            paths = [Path(bpy.path.abspath(self.filepath))]
        missing = [p for p in paths if not p.is_file() or subject_format(p) is None]
        if missing:
            self.report({"ERROR"}, f"not a subject file: {missing[0]} (choose "
                        f"{extensions_text()} files)")
            return {"CANCELLED"}
        added = add_paths(bridge.scene_settings(context), paths)
        self.report({"INFO"}, f"Added {added} file(s) to the batch")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        bridge.window_manager(context).fileselect_add(self)
        return {"RUNNING_MODAL"}


class ORBITFARM_OT_batch_add_folder(Operator):
    """Add every subject file (.blend, mesh, USD) in a folder and its subfolders to the batch list"""

    bl_idname = "orbitfarm.batch_add_folder"
    bl_label = "Add Folder"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    recursive: BoolProperty(name="Include Subfolders", default=True)

    def execute(self, context: bpy.types.Context) -> OpResult:
        folder = Path(bpy.path.abspath(self.directory)) if self.directory else None
        if folder is None or not folder.is_dir():
            self.report({"ERROR"}, f"not a folder: {self.directory!r} (choose a folder)")
            return {"CANCELLED"}
        blends = subjects_in_folder(folder, self.recursive)
        if not blends:
            self.report({"WARNING"}, f"no subject files ({extensions_text()}) in {folder}")
            return {"CANCELLED"}
        added = add_paths(bridge.scene_settings(context), blends)
        self.report({"INFO"}, f"Added {added} of {len(blends)} subject file(s) from {folder}")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        bridge.window_manager(context).fileselect_add(self)
        return {"RUNNING_MODAL"}


class ORBITFARM_OT_batch_remove(Operator):
    """Remove the selected file from the batch list"""

    bl_idname = "orbitfarm.batch_remove"
    bl_label = "Remove File"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return len(bridge.scene_settings(context).batch_files) > 0

    def execute(self, context: bpy.types.Context) -> OpResult:
        settings = bridge.scene_settings(context)
        index = settings.batch_index
        if not 0 <= index < len(settings.batch_files):
            self.report({"ERROR"}, "select a file in the batch list first")
            return {"CANCELLED"}
        settings.batch_files.remove(index)
        settings.batch_index = min(index, len(settings.batch_files) - 1)
        return {"FINISHED"}


class ORBITFARM_OT_batch_clear(Operator):
    """Remove every file from the batch list"""

    bl_idname = "orbitfarm.batch_clear"
    bl_label = "Clear Batch"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return len(bridge.scene_settings(context).batch_files) > 0

    def execute(self, context: bpy.types.Context) -> OpResult:
        bridge.scene_settings(context).batch_files.clear()
        bridge.scene_settings(context).batch_index = 0
        return {"FINISHED"}


classes = (
    ORBITFARM_OT_batch_add_files,
    ORBITFARM_OT_batch_add_folder,
    ORBITFARM_OT_batch_remove,
    ORBITFARM_OT_batch_clear,
)
