"""Every Blender 4.2 / 4.5 / 5.0 API difference the worker meets, in one place.

- Compositor: 4.x uses scene.use_nodes + scene.node_tree; 5.0 uses a CompositorNodeTree node
  group in scene.compositing_node_group with a Group Output instead of a Composite node.
- File Output node: 4.x base_path/file_slots (single-channel float EXR only as a multilayer file
  with an unnamed slot: channel "V"); 5.0 directory/file_name/file_output_items, media_type set
  before OPEN_EXR, color_mode BW gives one "V" channel. 5.0 node defaults (multilayer, 16-bit, no
  compression) are overridden explicitly, and a "####" in the name keeps frames apart.
- EEVEE's engine id: BLENDER_EEVEE_NEXT in 4.2-4.5, BLENDER_EEVEE in 5.0.
- Actions: 4.4+ layered/slotted actions keep F-curves in layers > strips > channelbags;
  Action.fcurves (the only place before 4.4) is gone in 5.0. Animation detection compares
  evaluated results; keyframe times only choose which frames it checks first.
- OpenImageDenoise: no build option says whether it is there (Debian's Blender has none);
  Cycles' own module does (`_cycles.with_openimagedenoise`, every supported version).
"""

from __future__ import annotations

from typing import Any

import bpy

IS_5 = bpy.app.version >= (5, 0, 0)
TREE_NAME = "orbitfarm_compositor"


def engine_id(engine: str) -> str:
    """RenderSettings.engine -> this Blender's engine identifier."""
    if engine == "cycles":
        return "CYCLES"
    if engine == "workbench":
        return "BLENDER_WORKBENCH"
    prop: Any = bpy.types.RenderSettings.bl_rna.properties["engine"]
    items = {i.identifier for i in prop.enum_items}
    for candidate in ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE"):
        if candidate in items:
            return candidate
    return "BLENDER_EEVEE_NEXT" if bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE"


def new_compositor(scene: Any) -> Any:
    """A fresh, empty compositor node tree that drives this scene's render result."""
    if IS_5:
        tree = bpy.data.node_groups.new(TREE_NAME, "CompositorNodeTree")
        scene.compositing_node_group = tree
        interface: Any = tree.interface
        interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        return tree
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    return tree


def disable_compositor(scene: Any) -> None:
    """Render without compositing (RGB straight from the render)."""
    if IS_5:
        scene.compositing_node_group = None
    else:
        scene.use_nodes = False


def link_image_output(tree: Any, image_socket: Any) -> None:
    """Make `image_socket` the composited image (the render result written as RGB)."""
    if IS_5:
        out = tree.nodes.new("NodeGroupOutput")
        tree.links.new(image_socket, out.inputs[0])
    else:
        out = tree.nodes.new("CompositorNodeComposite")
        out.use_alpha = True
        tree.links.new(image_socket, out.inputs["Image"])


def add_float_exr_output(tree: Any, value_socket: Any, directory: str, prefix: str) -> str:
    """File Output writing `value_socket` as a one-channel 32-bit ZIP EXR per frame.

    Returns the file name pattern relative to `directory`, with `{frame:04d}` for the frame.
    """
    node = tree.nodes.new("CompositorNodeOutputFile")
    fmt = node.format
    if IS_5:
        node.directory = directory
        node.file_name = prefix + "####"
        fmt.media_type = "IMAGE"
        fmt.file_format = "OPEN_EXR"
        fmt.color_mode = "BW"
        node.file_output_items.clear()
        node.file_output_items.new("FLOAT", "")
    else:
        node.base_path = directory.rstrip("/\\") + "/" + prefix
        fmt.file_format = "OPEN_EXR_MULTILAYER"
        node.file_slots.clear()
        node.file_slots.new("")
    fmt.color_depth = "32"
    fmt.exr_codec = "ZIP"
    tree.links.new(value_socket, node.inputs[0])
    return prefix + "{frame:04d}.exr"


def _math(tree: Any, operation: str, a: Any, b: Any) -> Any:
    """A Math node (CompositorNodeMath in 4.x, ShaderNodeMath in 5.0) computing a <op> b."""
    node = tree.nodes.new("ShaderNodeMath" if IS_5 else "CompositorNodeMath")
    node.operation = operation
    node.use_clamp = False
    for socket, value in zip(node.inputs[:2], (a, b), strict=True):
        if isinstance(value, float | int):
            socket.default_value = float(value)
        else:
            tree.links.new(value, socket)
    return node.outputs[0]


def replace_far_depth(tree: Any, depth: Any, threshold: float, value: float) -> Any:
    """Socket that is `value` where depth > threshold, else depth, both exactly.

    EEVEE writes the clip distance where nothing is hit; Cycles and Workbench write 1e10.
    """
    far = _math(tree, "GREATER_THAN", depth, threshold)  # 1 where nothing was hit
    near = _math(tree, "SUBTRACT", 1.0, far)
    return _math(tree, "ADD", _math(tree, "MULTIPLY", far, value),
                 _math(tree, "MULTIPLY", near, depth))


def keyframe_times(action: Any) -> set[float]:
    """Frames of every keyframe of `action`, all slots and layers."""
    curves: list[Any] = []
    for layer in getattr(action, "layers", ()):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", ()):
                curves.extend(bag.fcurves)
    if not curves and hasattr(action, "fcurves"):  # before 4.4 (a legacy view until 5.0)
        curves = list(action.fcurves)
    times: set[float] = set()
    for curve in curves:
        times.update(point.co[0] for point in curve.keyframe_points)
    return times


def has_openimagedenoise() -> bool:
    """Whether this Blender's Cycles can denoise with OpenImageDenoise."""
    try:
        import _cycles  # type: ignore[import-not-found]
    except ImportError:  # Cycles is not loaded: nothing will denoise anyway
        return False
    return bool(getattr(_cycles, "with_openimagedenoise", False))
