"""The compositor of one orbit render: depth, extra passes and the background, from one render.

Every output comes from the same render's view-layer passes through compositor File Output
nodes (no second render):
- depth: the Depth pass (EEVEE's clip-distance misses made 1e10), one-channel float EXR.
- mask: 1 where the depth pass hit the subject, else 0: an 8-bit grey PNG, 255 = subject.
- normal: the Normal pass, which Blender gives in world space -> normal_world; the same vectors
  dotted with the camera's axes (updated before each frame by `aim`) -> normal_camera, in
  Blender/OpenGL camera axes (+X right, +Y up, +Z toward the viewer). No hit: (0, 0, 0).
- albedo: the Diffuse Color pass (linear diffuse colour, no light), no hit: (0, 0, 0).
- a colour background: the transparent render alpha-composited over the colour.
Blender-version differences are in compat.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..submitter.model.looks import background_srgb, srgb_to_linear
from ..submitter.model.settings import RenderSettings
from . import compat
from .results import NO_HIT_DEPTH


@dataclass
class Compositor:
    """What the worker's compositor writes; patterns are relative to the temp folder."""

    depth_pattern: str | None = None
    pass_patterns: dict[str, str] = field(default_factory=dict)  # output folder -> pattern
    _camera_dots: list[Any] = field(default_factory=list)  # x, y, z dot-product nodes

    def aim(self, camera_to_world: Any) -> None:
        """Point the camera-space normal outputs at this frame's camera axes."""
        rotation = camera_to_world.to_3x3()
        for axis, node in enumerate(self._camera_dots):
            compat.set_dot_direction(node, rotation.col[axis])


def needs_compositor(settings: RenderSettings) -> bool:
    return bool(settings.depth or settings.passes or background_srgb(settings.background))


def build(scene: Any, view_layer: Any, settings: RenderSettings, clip_end: float,
          directory: str) -> Compositor:
    """Enable the passes and build the compositor that writes them into `directory`."""
    result = Compositor()
    if not needs_compositor(settings):
        compat.disable_compositor(scene)
        return result
    passes = settings.passes
    view_layer.use_pass_z = bool(settings.depth or "mask" in passes)
    view_layer.use_pass_normal = "normal" in passes
    view_layer.use_pass_diffuse_color = "albedo" in passes
    tree = compat.new_compositor(scene)
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene = scene
    layers.layer = view_layer.name
    image = layers.outputs["Image"]
    srgb = background_srgb(settings.background)
    if srgb is not None:
        image = compat.alpha_over(tree, tuple(srgb_to_linear(c) for c in srgb), image)
    compat.link_image_output(tree, image)

    depth = None
    if view_layer.use_pass_z:
        depth = layers.outputs["Depth"]
        if settings.engine == "eevee":  # EEVEE's no-hit depth is the clip end: make it 1e10
            depth = compat.replace_far_depth(tree, depth, clip_end * 0.999, NO_HIT_DEPTH)
    if settings.depth and depth is not None:
        result.depth_pattern = compat.add_float_exr_output(tree, depth, directory, "depth_")
    if "mask" in passes and depth is not None:
        hit = compat.math_node(tree, "LESS_THAN", depth, NO_HIT_DEPTH * 0.5)
        result.pass_patterns["mask"] = compat.add_file_output(tree, hit, directory, "mask_",
                                                              "png_bw")
    if "normal" in passes:
        normal = compat.pass_socket(layers, "Normal")
        result.pass_patterns["normal_world"] = compat.add_file_output(
            tree, normal, directory, "normal_world_", "xyz")
        dots = [compat.dot_product(tree, normal) for _ in range(3)]
        result._camera_dots = [node for node, _ in dots]
        camera_normal = compat.combine_xyz(tree, *(socket for _, socket in dots))
        result.pass_patterns["normal_camera"] = compat.add_file_output(
            tree, camera_normal, directory, "normal_camera_", "xyz")
    if "albedo" in passes:
        result.pass_patterns["albedo"] = compat.add_file_output(
            tree, compat.pass_socket(layers, "DiffCol"), directory, "albedo_", "rgb_half")
    return result
