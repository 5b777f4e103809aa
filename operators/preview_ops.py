"""Preview the orbit camera in the open scene (nothing rendered), and remove it again."""

from __future__ import annotations

import bpy
from bpy.types import Operator

from . import bridge
from .bridge import OpResult


class ORBITFARM_OT_preview_orbit(Operator):
    """Set up the orbit camera in this scene (same code as the worker) to scrub it in the viewport"""

    bl_idname = "orbitfarm.preview_orbit"
    bl_label = "Preview Orbit"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> OpResult:
        from ..worker import preview

        # add_preview raises ValueError when the scene has no renderable geometry.
        errors: tuple[type[BaseException], ...] = (ValueError, *bridge.user_errors())
        try:
            settings = bridge.settings_from_props(bridge.scene_settings(context))
            preview.remove_preview(context.scene)  # a second click rebuilds, never stacks
            camera = preview.add_preview(context.scene, settings)
        except errors as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Orbit preview: camera '{camera.name}' over frames 1-"
                    f"{settings.frames}; scrub the timeline to follow it")
        return {"FINISHED"}


class ORBITFARM_OT_remove_preview(Operator):
    """Remove the orbit preview and restore the previous camera and frame range"""

    bl_idname = "orbitfarm.remove_preview"
    bl_label = "Remove Preview"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> OpResult:
        from ..worker import preview

        preview.remove_preview(context.scene)
        return {"FINISHED"}


classes = (ORBITFARM_OT_preview_orbit, ORBITFARM_OT_remove_preview)
