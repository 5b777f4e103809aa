"""Panel classes: the same sections in Properties › Output and in the 3D Viewport sidebar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy
from bpy.types import Panel

from . import sections

Draw = Callable[[bpy.types.Context, Any], None]

# (suffix, label, draw function, closed by default); the first one is the parent panel.
SECTIONS: list[tuple[str, str, Draw, bool]] = [
    ("orbit", "orbitfarm", sections.draw_orbit, False),
    ("outputs", "Outputs", sections.draw_outputs, False),
    ("target", "Target & Submit", sections.draw_target, False),
    ("jobs", "Jobs", sections.draw_jobs, False),
    ("batch", "Batch", sections.draw_batch, True),
]

SPACES = [
    # (class-name suffix, attributes of that space). Blender appends add-on panels below its
    # own in Properties › Output; Render › Orbit Dataset opens the sidebar tab (show_panel_ops).
    ("", {"bl_space_type": "PROPERTIES", "bl_region_type": "WINDOW", "bl_context": "output"}),
    ("_view3d", {"bl_space_type": "VIEW_3D", "bl_region_type": "UI", "bl_category": "orbitfarm"}),
]


def _make_panel(name: str, label: str, draw: Draw, closed: bool, space: dict[str, str],
                parent: str | None) -> type[Panel]:
    def draw_method(self: Panel, context: bpy.types.Context) -> None:
        draw(context, self.layout)

    attrs: dict[str, Any] = dict(space, bl_label=label, draw=draw_method,
                                 __doc__=f"orbitfarm: {label}")
    if parent:
        attrs["bl_parent_id"] = parent
    if closed:
        attrs["bl_options"] = {"DEFAULT_CLOSED"}
    return type(name, (Panel,), attrs)


def make_panels() -> list[type[Panel]]:
    """Every panel class, parents before their children."""
    panels = []
    for space_suffix, space in SPACES:
        parent = None
        for key, label, draw, closed in SECTIONS:
            name = f"ORBITFARM_PT_{key}{space_suffix}"
            panels.append(_make_panel(name, label, draw, closed, space, parent))
            parent = parent or name
    return panels


classes = tuple(make_panels())
