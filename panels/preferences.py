"""Add-on preferences: default output root, the Blender used by the local target, target profiles."""

# No `from __future__ import annotations`: Blender reads bpy.props annotations at register time.
# bpy.props annotations are calls by Blender's design, which mypy rejects as types:
# mypy: disable-error-code="valid-type"

import bpy
from bpy.props import StringProperty
from bpy.types import AddonPreferences

from .. import __package__ as base_package


class ORBITFARM_AP_preferences(AddonPreferences):
    """orbitfarm preferences (target profiles are the CLI's targets.yaml, edited in place)."""

    bl_idname = base_package  # the extension's own package, whatever it is called

    output_root: StringProperty(
        name="Default Output Root",
        description="Where datasets go when a scene names no output folder "
        "(empty: an 'orbitfarm' folder next to the .blend)",
        subtype="DIR_PATH",
        default="",
    )
    blender_executable: StringProperty(
        name="Blender for Local Jobs",
        description="Blender executable the local target starts for each task "
        "(empty: this Blender)",
        subtype="FILE_PATH",
        default="",
    )

    def draw(self, context: bpy.types.Context) -> None:
        from . import sections

        sections.draw_preferences(self, context, self.layout)


classes = (ORBITFARM_AP_preferences,)
