"""Orbit preview in the open scene: an animated camera the artist can scrub, removed exactly.

Nothing of the artist's moves: the orbit centres on the renderable geometry's world bounding-box
centre instead of moving the subject to the origin. Same orbit and auto-radius code as the
worker, so frame k of the preview is frame k of the render.
"""

from __future__ import annotations

from typing import Any

import bpy
from mathutils import Matrix

from ..submitter.model import views
from ..submitter.model.settings import RenderSettings
from . import orbit
from .bounds import world_bbox
from .camera import configure_camera

TAG = "orbitfarm_preview"  # custom property on everything add_preview creates
_SAVED = "orbitfarm_preview_saved"  # scene property: what to restore


def add_preview(scene: Any, settings: RenderSettings) -> Any:
    """Build the animated orbit camera (a key per view, 1..view_count), make it scene.camera;
    return it. Lens, orthographic scale and views are the worker's (camera.py, views.py)."""
    remove_preview(scene)
    box = world_bbox(scene)
    if box is None:
        raise ValueError("nothing to preview: the scene has no renderable geometry")
    center = [(a + b) / 2 for a, b in zip(*box, strict=True)]
    data = bpy.data.cameras.new(TAG)
    data[TAG] = True
    cam = bpy.data.objects.new(TAG, data)
    cam[TAG] = True
    scene.collection.objects.link(cam)
    _, radius = configure_camera(cam, settings, orbit.bounding_radius(*box))

    r = scene.render
    scene[_SAVED] = {
        "camera": scene.camera.name if scene.camera else "",
        "frame_start": scene.frame_start, "frame_end": scene.frame_end,
        "frame_current": scene.frame_current,
        "resolution": [r.resolution_x, r.resolution_y, r.resolution_percentage],
    }
    previous_euler = None
    for k in range(1, settings.view_count + 1):
        pose = Matrix(views.view_pose(settings, k, radius, center))
        cam.location = pose.to_translation()
        # Compatible eulers: no 360-degree flips between neighbouring keys.
        euler = pose.to_euler("XYZ", previous_euler) if previous_euler else pose.to_euler("XYZ")
        cam.rotation_euler = euler
        previous_euler = euler
        cam.keyframe_insert("location", frame=k)
        cam.keyframe_insert("rotation_euler", frame=k)
    if cam.animation_data and cam.animation_data.action:
        cam.animation_data.action[TAG] = True
    scene.camera = cam
    scene.frame_start, scene.frame_end = 1, settings.view_count
    r.resolution_x, r.resolution_y, r.resolution_percentage = (settings.width, settings.height,
                                                               100)
    scene.frame_set(settings.frames)  # one ring: frame N, azimuth 0, the front view
    return cam


def has_preview(scene: Any) -> bool:
    """Whether add_preview's camera is in this scene (so settings changes should rebuild it)."""
    return scene.get(_SAVED) is not None


def remove_preview(scene: Any) -> None:
    """Remove everything add_preview made and restore camera, frame range and resolution."""
    saved = scene.get(_SAVED)
    for obj in [o for o in bpy.data.objects if o.get(TAG)]:
        bpy.data.objects.remove(obj)
    for cam in [c for c in bpy.data.cameras if c.get(TAG)]:
        bpy.data.cameras.remove(cam)
    for action in [a for a in bpy.data.actions if a.get(TAG)]:
        bpy.data.actions.remove(action)
    if saved is None:
        return
    saved = saved.to_dict() if hasattr(saved, "to_dict") else dict(saved)
    scene.camera = bpy.data.objects.get(saved["camera"]) if saved["camera"] else None
    scene.frame_start, scene.frame_end = saved["frame_start"], saved["frame_end"]
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = saved["resolution"]
    scene.frame_set(saved["frame_current"])
    del scene[_SAVED]
