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
- Movies (worker/video.py): sequence_editor.sequences became .strips in 5.0, and a movie
  output needs image_settings.media_type VIDEO there.
- Passes (worker/passes.py): 5.0 renamed the Render Layers socket DiffCol to "Diffuse Color",
  dropped the compositor's own Normal (dot), Combine XYZ and Mix nodes for the shader ones
  (Vector Math, Combine XYZ) and renamed Alpha Over's inputs (Background/Foreground).
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
    return add_file_output(tree, value_socket, directory, prefix, "depth")


# kind -> (4.x file format, colour mode, bit depth, 5.0 item type); 5.0 writes plain OPEN_EXR
# or PNG. A vector socket's EXR channels are X, Y, Z (4.x names them so; 5.0 does with VECTOR).
_OUTPUT_KINDS = {
    "depth": ("OPEN_EXR_MULTILAYER", "BW", "32", "FLOAT"),  # one unnamed slot: "V" (renamed)
    "xyz": ("OPEN_EXR", "RGB", "32", "VECTOR"),  # channels X, Y, Z; float
    "rgb_half": ("OPEN_EXR", "RGB", "16", "RGBA"),  # channels R, G, B; half float
    "png_bw": ("PNG", "BW", "8", "FLOAT"),  # 8-bit grey
}


def add_file_output(tree: Any, socket: Any, directory: str, prefix: str, kind: str) -> str:
    """File Output writing `socket` per frame as `kind` (see _OUTPUT_KINDS).

    Returns the file name pattern relative to `directory`, with `{frame:04d}` for the frame.
    """
    file_format, colour_mode, depth, item_type = _OUTPUT_KINDS[kind]
    node = tree.nodes.new("CompositorNodeOutputFile")
    fmt = node.format
    exr = file_format.startswith("OPEN_EXR")
    if IS_5:
        node.directory = directory
        node.file_name = prefix + "####"
        fmt.media_type = "IMAGE"
        fmt.file_format = "OPEN_EXR" if exr else file_format
        fmt.color_mode = colour_mode
        node.file_output_items.clear()
        node.file_output_items.new(item_type, "")
    else:
        fmt.file_format = file_format
        node.file_slots.clear()
        if file_format == "OPEN_EXR_MULTILAYER":  # the slot names the channel; the path, files
            node.base_path = directory.rstrip("/\\") + "/" + prefix
            node.file_slots.new("")
        else:  # the slot's path names the files inside base_path
            node.base_path = directory
            node.file_slots.new(prefix)
            fmt.color_mode = colour_mode
    fmt.color_depth = depth
    if exr:
        fmt.exr_codec = "ZIP"
    tree.links.new(socket, node.inputs[0])
    return prefix + "{frame:04d}" + (".exr" if exr else ".png")


def pass_socket(layers: Any, name: str) -> Any:
    """A Render Layers output by its 4.x name ("Normal", "DiffCol", ...)."""
    renamed = {"DiffCol": "Diffuse Color"} if IS_5 else {}
    return layers.outputs[renamed.get(name, name)]


def dot_product(tree: Any, vector: Any) -> tuple[Any, Any]:
    """(node, output socket) of dot(vector, d); set d later with set_dot_direction."""
    if IS_5:
        node = tree.nodes.new("ShaderNodeVectorMath")
        node.operation = "DOT_PRODUCT"
        tree.links.new(vector, node.inputs[0])
        return node, node.outputs["Value"]
    node = tree.nodes.new("CompositorNodeNormal")
    tree.links.new(vector, node.inputs[0])
    return node, node.outputs["Dot"]


def set_dot_direction(node: Any, direction: Any) -> None:
    """Make a dot_product node compute dot(vector, direction)."""
    if IS_5:
        node.inputs[1].default_value = tuple(direction)
    else:  # the 4.x Normal node's Dot is -dot(N, its direction)
        node.outputs["Normal"].default_value = tuple(-c for c in direction)


def combine_xyz(tree: Any, x: Any, y: Any, z: Any) -> Any:
    """A vector socket from three value sockets."""
    node = tree.nodes.new("ShaderNodeCombineXYZ" if IS_5 else "CompositorNodeCombineXYZ")
    for socket, value in zip(node.inputs[:3], (x, y, z), strict=True):
        tree.links.new(value, socket)
    return node.outputs[0]


def alpha_over(tree: Any, colour: tuple[float, ...], image: Any) -> Any:
    """The (premultiplied) `image` over a flat linear `colour`."""
    node = tree.nodes.new("CompositorNodeAlphaOver")
    background, foreground = (node.inputs["Background"], node.inputs["Foreground"]) if IS_5 \
        else (node.inputs[1], node.inputs[2])
    background.default_value = (*colour, 1.0)
    tree.links.new(image, foreground)
    return node.outputs["Image"]


def math_node(tree: Any, operation: str, a: Any, b: Any) -> Any:
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
    far = math_node(tree, "GREATER_THAN", depth, threshold)  # 1 where nothing was hit
    near = math_node(tree, "SUBTRACT", 1.0, far)
    return math_node(tree, "ADD", math_node(tree, "MULTIPLY", far, value),
                 math_node(tree, "MULTIPLY", near, depth))


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


def new_image_strip(editor: Any, first_image: str) -> Any:
    """An image strip starting at frame 1 on channel 1 (5.0 renamed sequences to strips)."""
    strips = editor.strips if IS_5 else editor.sequences
    return strips.new_image(name="frames", filepath=first_image, channel=1, frame_start=1)


def set_ffmpeg_output(scene: Any) -> None:
    """Make the scene render a movie through FFmpeg (5.0 first needs media type VIDEO)."""
    settings = scene.render.image_settings
    if IS_5:
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
