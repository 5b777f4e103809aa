"""The subject's lighting: its own (scene), or a rig orbitfarm puts in its place.

`--lighting auto` (the default) keeps the scene's lighting when the subject brings any: a light
object, or a world that is not Blender's factory grey (a texture, a sky, any other colour or
strength). A subject with neither (an imported mesh, a bare model) would render nearly black, so
it gets the documented default rig: three-point. The rigs replace the scene's lighting: its lights
are hidden from the render (emissive materials still glow) and the world is replaced.

- three-point: three sun lamps fixed in the world (key front-left above, fill front-right low, rim
  behind above; the orbit's azimuth 0 camera is "front") and a soft grey world. Suns have no
  falloff, so the light does not depend on the subject's size or the orbit radius.
- uniform: a white world only (flat, shadowless light from every direction).
- hdri:FILE: an environment image as the world.
`--light-strength` multiplies all of them. The lights stay put while the camera orbits, as every
multi-view dataset needs. What was used is returned for result.json.
"""

from __future__ import annotations

import math
from typing import Any

import bpy
from mathutils import Vector

from ..submitter.model.looks import hdri_file, hdri_problem
from ..submitter.model.settings import RenderSettings

RIG_PREFIX = "orbitfarm_"
FACTORY_WORLD_GREY = 0.050876  # Blender's new-file world colour (linear)
# (name, azimuth deg, elevation deg, sun strength W/m^2): a white diffuse face turned to the key
# reads about 2/pi + the world's 0.2 = 0.84 linear.
THREE_POINT = (("key", -45.0, 45.0, 2.0), ("fill", 50.0, 15.0, 0.8), ("rim", 170.0, 55.0, 1.2))
RIG_WORLD_GREY = 0.2
SUN_ANGLE_DEG = 10.0  # soft shadow edges


class LightingError(Exception):
    """The asked-for lighting cannot be set up (e.g. the HDRI file is missing)."""


def _world_is_factory_default(world: Any) -> bool:
    """No world, or one uniform colour equal to Blender's new-file grey."""
    if world is None:
        return True
    if not getattr(world, "use_nodes", True) or world.node_tree is None:
        return all(abs(c - FACTORY_WORLD_GREY) < 1e-4 for c in world.color)
    nodes = world.node_tree.nodes
    kinds = sorted(n.bl_idname for n in nodes)
    if kinds != ["ShaderNodeBackground", "ShaderNodeOutputWorld"]:
        return False
    bg = next(n for n in nodes if n.bl_idname == "ShaderNodeBackground")
    if any(s.is_linked for s in bg.inputs if s.name in ("Color", "Strength")):
        return False
    colour = [c * bg.inputs["Strength"].default_value
              for c in bg.inputs["Color"].default_value[:3]]
    return all(abs(c - FACTORY_WORLD_GREY) < 1e-4 for c in colour)


def _scene_lights(scene: Any) -> list[Any]:
    return [obj for obj in scene.objects if obj.type == "LIGHT" and not obj.hide_render]


def resolve_mode(scene: Any, lighting: str) -> tuple[str, str]:
    """(the lighting mode to use, why) for `--lighting lighting` on this scene."""
    if lighting != "auto":
        return lighting, "asked for"
    lights = _scene_lights(scene)
    if lights:
        return "scene", f"auto: the subject has {len(lights)} light(s)"
    if not _world_is_factory_default(scene.world):
        return "scene", "auto: the subject has its own world lighting"
    return "three-point", "auto: the subject brings no lights and no world lighting"


def _new_world(name: str) -> tuple[Any, Any, Any]:
    """A node world (Background -> World Output); returns (world, background node, tree)."""
    world: Any = bpy.data.worlds.new(RIG_PREFIX + name)
    if hasattr(world, "use_nodes") and not world.use_nodes:
        world.use_nodes = True  # deprecated (always on) in 5.0; needed before
    tree: Any = world.node_tree
    tree.nodes.clear()
    out = tree.nodes.new("ShaderNodeOutputWorld")
    bg = tree.nodes.new("ShaderNodeBackground")
    tree.links.new(bg.outputs["Background"], out.inputs["Surface"])
    return world, bg, tree


def _grey_world(scene: Any, name: str, grey: float, strength: float) -> None:
    world, bg, _ = _new_world(name)
    bg.inputs["Color"].default_value = (grey, grey, grey, 1.0)
    bg.inputs["Strength"].default_value = strength
    world.color = (grey * strength,) * 3  # what Workbench and the viewport show
    scene.world = world


def _hdri_world(scene: Any, path: str, strength: float) -> None:
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as exc:
        raise LightingError(f"--lighting hdri:{path}: Blender cannot read it ({exc})") from None
    world, bg, tree = _new_world("hdri")
    env = tree.nodes.new("ShaderNodeTexEnvironment")
    env.image = image
    tree.links.new(env.outputs["Color"], bg.inputs["Color"])
    bg.inputs["Strength"].default_value = strength
    scene.world = world


def _sun(scene: Any, name: str, azimuth: float, elevation: float, energy: float) -> None:
    data: Any = bpy.data.lights.new(RIG_PREFIX + name, "SUN")
    data.energy = energy
    data.angle = math.radians(SUN_ANGLE_DEG)
    obj = bpy.data.objects.new(RIG_PREFIX + name, data)
    a, e = math.radians(azimuth), math.radians(elevation)
    # Same angles as the orbit: azimuth 0 is the -Y side, growing toward +X.
    toward_light = Vector((math.cos(e) * math.sin(a), -math.cos(e) * math.cos(a), math.sin(e)))
    obj.rotation_euler = toward_light.to_track_quat("Z", "Y").to_euler()  # shines along -Z
    scene.collection.objects.link(obj)


def apply_lighting(scene: Any, settings: RenderSettings, log: Any = print) -> dict[str, Any]:
    """Set the scene's lighting as `settings` ask; return what was used (for result.json)."""
    mode, why = resolve_mode(scene, settings.lighting)
    record: dict[str, Any] = {"mode": mode.split(":")[0], "requested": settings.lighting,
                              "reason": why, "strength": settings.light_strength}
    if mode == "scene":
        return record
    hidden = 0
    for obj in _scene_lights(scene):
        obj.hide_render = True
        hidden += 1
    record["scene_lights_hidden"] = hidden
    strength = settings.light_strength
    if mode == "uniform":
        _grey_world(scene, "uniform", 1.0, strength)
    elif mode == "three-point":
        for name, azimuth, elevation, energy in THREE_POINT:
            _sun(scene, name, azimuth, elevation, energy * strength)
        _grey_world(scene, "soft", RIG_WORLD_GREY, strength)
        record["rig"] = [{"light": n, "type": "SUN", "azimuth": a, "elevation": e,
                          "strength": s * strength} for n, a, e, s in THREE_POINT]
        record["world_grey"] = RIG_WORLD_GREY * strength
    else:
        problem = hdri_problem(mode)
        if problem:
            raise LightingError(problem)
        path = hdri_file(mode) or ""
        _hdri_world(scene, path, strength)
        record["hdri"] = path
    log(f"lighting: {mode} ({why}); {hidden} scene light(s) hidden")
    return record
