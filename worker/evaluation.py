"""Make the depsgraph evaluate what the render will show, before bounds and animation are read.

Python cannot build a render-mode depsgraph, and `evaluated_depsgraph_get()` evaluates the
viewport: render-only modifiers, viewport-hidden but rendered objects and collections, and
subdivision render levels would be missed (the subject centred on half of itself, cropped, and
viewport-hidden motion never seen). The worker never saves the file, so it copies every render
setting onto its viewport twin instead. Linked data cannot be edited: where its two settings
differ, a warning says the bounds follow the viewport for it.

Not covered (Blender offers no viewport twin to copy onto): a geometry-nodes "Is Viewport"
switch.
"""

from __future__ import annotations

from typing import Any

import bpy

# (data attribute, viewport attribute, render attribute): the viewport one takes the render value.
_MODIFIER_LEVELS = {
    "SUBSURF": ("levels", "render_levels"),
    "MULTIRES": ("levels", "render_levels"),
}


def render_view_layer(scene: Any) -> Any:
    """The view layer the render shows: the active one if it renders, else the first that does."""
    active = bpy.context.view_layer
    layers = list(scene.view_layers)
    if active is not None and active in layers and active.use:
        return active
    return next((vl for vl in layers if vl.use), active if active in layers else layers[0])


class _Setter:
    """Copies values and remembers what could not be set (linked, read-only data)."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def copy(self, owner: Any, attr: str, value: Any, what: str) -> None:
        if getattr(owner, attr) == value:
            return
        try:
            setattr(owner, attr, value)
        except (AttributeError, TypeError, RuntimeError, ValueError):
            self.refused.append(what)


def show_what_renders(scene: Any) -> list[str]:
    """Switch viewport settings to the render ones; return warnings for what could not be."""
    view_layer = render_view_layer(scene)
    if bpy.context.window is not None and bpy.context.window.view_layer != view_layer:
        bpy.context.window.view_layer = view_layer
    s = _Setter()
    for coll in bpy.data.collections:
        s.copy(coll, "hide_viewport", coll.hide_render, f"collection {coll.name!r}")

    def unhide(layer_coll: Any) -> None:
        # The eye icon hides in the viewport only (exclude applies to renders too: kept).
        s.copy(layer_coll, "hide_viewport", False, f"collection {layer_coll.name!r}")
        for child in layer_coll.children:
            unhide(child)

    unhide(view_layer.layer_collection)
    for obj in bpy.data.objects:
        _render_object(obj, view_layer, s)
    for curve in bpy.data.curves:
        if getattr(curve, "render_resolution_u", 0):
            s.copy(curve, "resolution_u", curve.render_resolution_u,
                   f"curve {coll.name!r}")
        if getattr(curve, "render_resolution_v", 0):
            s.copy(curve, "resolution_v", curve.render_resolution_v,
                   f"curve {coll.name!r}")
    for ball in bpy.data.metaballs:
        s.copy(ball, "resolution", ball.render_resolution, f"metaball {ball.name!r}")
    for part in bpy.data.particles:
        _render_particles(part, s)
    r = scene.render
    for viewport, render in (("simplify_subdivision", "simplify_subdivision_render"),
                             ("simplify_child_particles", "simplify_child_particles_render")):
        if hasattr(r, render):
            s.copy(r, viewport, getattr(r, render), "scene simplify settings")
    view_layer.update()
    return [f"{what}: linked data whose viewport and render settings differ; bounds and the "
            "animation check follow its viewport settings" for what in dict.fromkeys(s.refused)]


def _render_object(obj: Any, view_layer: Any, s: _Setter) -> None:
    name = f"object {obj.name!r}"
    s.copy(obj, "hide_viewport", obj.hide_render, name)
    s.copy(obj, "show_instancer_for_viewport", obj.show_instancer_for_render, name)
    if obj.name in view_layer.objects and obj.hide_get(view_layer=view_layer):
        try:
            obj.hide_set(False, view_layer=view_layer)
        except RuntimeError:
            s.refused.append(name)
    for mod in getattr(obj, "modifiers", ()):
        s.copy(mod, "show_viewport", mod.show_render, name)
        levels = _MODIFIER_LEVELS.get(mod.type)
        if levels is not None:
            s.copy(mod, levels[0], getattr(mod, levels[1]), name)


def _render_particles(part: Any, s: _Setter) -> None:
    name = f"particle settings {part.name!r}"
    s.copy(part, "display_percentage", 100, name)
    s.copy(part, "child_percent", part.rendered_child_count, name)
    if part.render_type in ("OBJECT", "COLLECTION"):
        s.copy(part, "display_method", "RENDER", name)
