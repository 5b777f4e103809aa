"""Render › Orbit Dataset (orbitfarm): opens the panel where an artist looks for it.

The panel lives in the 3D Viewport sidebar's orbitfarm tab (and in Properties › Output, where
Blender appends add-on panels below its own); this menu entry and F3 search lead straight to it.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.types import Operator

from .bridge import OpResult

CATEGORY = "orbitfarm"


def _open_tab(region: Any, tries: int = 50) -> None:
    """Switch the sidebar to our tab; its tabs exist (and can be chosen) once it has drawn,
    which on a busy machine can take seconds: keep asking for up to 5 s."""
    try:
        region.active_panel_category = CATEGORY
        region.tag_redraw()
    except (AttributeError, TypeError):  # not editable (no tabs drawn yet) or unknown tab
        if tries > 0:
            bpy.app.timers.register(lambda: _open_tab(region, tries - 1), first_interval=0.1)


class ORBITFARM_OT_show_panel(Operator):
    """Open the orbitfarm panel in the 3D Viewport's sidebar"""

    bl_idname = "orbitfarm.show_panel"
    bl_label = "Orbit Dataset (orbitfarm)"

    def execute(self, context: bpy.types.Context) -> OpResult:
        screen = context.screen
        areas = [a for a in screen.areas if a.type == "VIEW_3D"] if screen else []
        if not areas:
            self.report({"ERROR"}, "No 3D Viewport in this workspace: the orbitfarm panel is "
                        "also in Properties › Output")
            return {"CANCELLED"}
        area = max(areas, key=lambda a: a.width * a.height)
        space: Any = area.spaces.active
        space.show_region_ui = True
        _open_tab(next(r for r in area.regions if r.type == "UI"))
        area.tag_redraw()
        return {"FINISHED"}


def draw_menu_entry(self: Any, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.operator(ORBITFARM_OT_show_panel.bl_idname, icon="CAMERA_DATA")


def add_menu_entry() -> None:
    bpy.types.TOPBAR_MT_render.append(draw_menu_entry)


def remove_menu_entry() -> None:
    bpy.types.TOPBAR_MT_render.remove(draw_menu_entry)


classes = (ORBITFARM_OT_show_panel,)
