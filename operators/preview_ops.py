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
                    f"{settings.view_count}; scrub the timeline to follow it")
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


def follow_settings(context: bpy.types.Context) -> None:
    """Rebuild an open preview from the current settings (property update callback).

    Same code as the button, so the preview always shows what Submit would render; a setting
    that cannot be previewed leaves the preview removed and says why in the panel.
    """
    from ..worker import preview

    scene = getattr(context, "scene", None)
    if scene is None or not preview.has_preview(scene):
        return
    runtime = bridge.runtime(context)
    frame = scene.frame_current
    errors: tuple[type[BaseException], ...] = (ValueError, *bridge.user_errors())
    try:
        settings = bridge.settings_from_props(bridge.scene_settings(context))
        preview.add_preview(scene, settings)
    except errors as exc:
        preview.remove_preview(scene)
        runtime.error = f"Preview removed: {exc}"
        return
    # Stay on the frame the artist was looking at when it still exists.
    if 1 <= frame <= settings.view_count:
        scene.frame_set(frame)


classes = (ORBITFARM_OT_preview_orbit, ORBITFARM_OT_remove_preview)
