"""Render set-up and one orbit frame: camera, colour management, passes, outputs, timing.

Nothing of the subject moves: the camera orbits the subject's centre (`center`), and the poses
written to transforms.json are the same cameras seen from the centred frame (subject at the
origin): a translation changes no pixel and no planar depth. The worker owns its render: the
scene's post-processing switches (compositing off, sequencer strips, multiview, other view
layers) are set so that the render is exactly one RGB image and one depth pass.
The scene frame stays fixed at the frame the subject was checked and centred at; only the orbit
camera moves between renders, so persistent data keeps the scene (BVH, textures) across frames
and lights or cameras that the artist animated do not change during the orbit. RGB comes from
the render result, depth from the same render's Depth pass through a compositor File Output.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from mathutils import Matrix, Vector

from ..submitter.formats.exr_channel import name_depth_channel
from ..submitter.model.settings import RenderSettings
from . import compat, orbit, passes
from .blenderlog import blender_output
from .camera import configure_camera
from .gpu import configure_cycles_device

CAMERA_NAME = "orbitfarm_camera"


class RenderError(Exception):
    """Blender refused to render a frame; the message is the reason written to result.json."""


@dataclass
class RenderSetup:
    """What render_frame needs, made once per subject."""

    scene: Any
    camera: Any
    intrinsics: orbit.Intrinsics
    radius: float
    tmp_dir: Path
    depth_pattern: str | None
    device: str
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)  # world point the orbit goes around
    view_layer: Any = None
    render_seconds: list[float] = field(default_factory=list)  # as timed by render handlers
    warnings: list[str] = field(default_factory=list)  # recorded in result.json
    denoiser: str = ""  # what denoises the render ("" for none)
    compositor: passes.Compositor = field(default_factory=passes.Compositor)


def _colour_management(scene: Any) -> None:
    # Standard, not AgX/Filmic: the PNG holds the scene's own colours.
    scene.display_settings.display_device = "sRGB"
    view = scene.view_settings
    view.view_transform = "Standard"
    view.look = "None"
    view.exposure = 0.0
    view.gamma = 1.0
    view.use_curve_mapping = False
    scene.sequencer_colorspace_settings.name = scene.sequencer_colorspace_settings.name


def _add_camera(scene: Any) -> Any:
    data = bpy.data.cameras.new(CAMERA_NAME)
    data.type = "PERSP"
    data.lens = 50.0
    data.sensor_width = 36.0
    data.sensor_height = 24.0
    data.sensor_fit = "AUTO"
    data.shift_x = data.shift_y = 0.0
    cam = bpy.data.objects.new(CAMERA_NAME, data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def _own_the_pipeline(scene: Any, view_layer: Any) -> None:
    """One render of one view layer straight into RGB + the compositor's depth output."""
    r = scene.render
    r.use_compositing = True  # off: no File Output runs, so no depth file (issue 9, item 8)
    r.use_sequencer = False  # strips would replace the render result
    r.use_multiview = False
    r.use_single_layer = False
    for layer in scene.view_layers:
        layer.use = layer == view_layer


def _denoising(scene: Any, device: str, log: Any) -> tuple[str, list[str]]:
    """Keep the scene's Cycles denoising when this build can do it; else turn it off, say so."""
    cycles = scene.cycles
    if not cycles.use_denoising:
        return "", []
    denoiser = str(getattr(cycles, "denoiser", "OPENIMAGEDENOISE"))
    if denoiser == "OPTIX" and "OPTIX" in device:
        return "OPTIX", []
    if compat.has_openimagedenoise():
        return "OPENIMAGEDENOISE", []
    cycles.use_denoising = False
    note = ("denoising turned off: the scene asks for it but this Blender has no "
            "OpenImageDenoise (frames are rendered without denoising)")
    log(note)
    return "", [note]


def setup(scene: Any, settings: RenderSettings, bound_radius: float, tmp_dir: Path,
          log: Any = print, center: tuple[float, float, float] = (0.0, 0.0, 0.0),
          view_layer: Any = None) -> RenderSetup:
    """Configure engine, device, resolution, colour, passes and the orbit camera."""
    view_layer = view_layer or scene.view_layers[0]
    _own_the_pipeline(scene, view_layer)
    r = scene.render
    r.engine = compat.engine_id(settings.engine)
    r.resolution_x, r.resolution_y = settings.width, settings.height
    r.resolution_percentage = 100
    r.pixel_aspect_x = r.pixel_aspect_y = 1.0
    r.use_border = False
    r.use_persistent_data = True
    # A colour background is composited over a transparent render (worker/passes.py).
    r.film_transparent = settings.film_transparent or settings.background != "scene"
    r.use_file_extension = True
    img = r.image_settings
    img.file_format = "PNG"
    img.color_mode = "RGBA" if settings.film_transparent else "RGB"
    img.color_depth = "8"
    img.compression = 15
    _colour_management(scene)
    device = "GPU (OpenGL)"
    denoiser, warnings = "", list[str]()
    if settings.engine == "cycles":
        scene.cycles.samples = settings.effective_samples
        device = configure_cycles_device(scene, settings.device, log)
        denoiser, warnings = _denoising(scene, device, log)
    elif settings.engine == "eevee":
        eevee = scene.eevee
        if hasattr(eevee, "taa_render_samples"):
            eevee.taa_render_samples = settings.effective_samples
    scene.render.use_motion_blur = False

    cam = _add_camera(scene)
    intr, radius = configure_camera(cam, settings, bound_radius)  # lens, radius, clip range

    # Empty at the start: each render's files are renamed away (parked) right after it, so a
    # file found under a temp name after a render is that render's (render_frame relies on it).
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    comp = passes.build(scene, view_layer, settings, cam.data.clip_end, str(tmp_dir))
    pattern = comp.depth_pattern
    setup_ = RenderSetup(scene, cam, intr, radius, tmp_dir, pattern, device,
                         center=tuple(center), view_layer=view_layer,  # type: ignore[arg-type]
                         warnings=warnings, denoiser=denoiser, compositor=comp)
    _install_timer(setup_)
    return setup_


def _install_timer(rs: RenderSetup) -> None:
    """Time each render between Blender's render_pre and render_post handlers."""
    started: list[float] = []

    def pre(*_: Any) -> None:
        started[:] = [time.perf_counter()]

    def post(*_: Any) -> None:
        if started:
            rs.render_seconds.append(time.perf_counter() - started[0])

    bpy.app.handlers.render_pre.append(pre)
    bpy.app.handlers.render_post.append(post)


def render_frame(rs: RenderSetup, pose: orbit.Matrix4, want_rgb: bool) -> tuple[Path | None,
                                                                                  Path | None]:
    """Render one view from camera-to-world `pose` (centred frame); return the temp files
    (RGB, depth; the passes' are in `pass_files`).

    Blender's own lines (errors included) go to the log marked as Blender's; a failed render
    raises RuntimeError with Blender's message.
    """
    matrix = Matrix(pose)
    matrix.translation += Vector(rs.center)
    rs.camera.matrix_world = matrix
    rs.compositor.aim(matrix)
    rgb_tmp = rs.tmp_dir / "rgb.png" if want_rgb else None
    depth_tmp = (rs.tmp_dir / rs.depth_pattern.format(frame=rs.scene.frame_current)
                 if rs.depth_pattern else None)
    if rgb_tmp is not None:
        rs.scene.render.filepath = str(rgb_tmp)
    try:
        with blender_output():
            bpy.ops.render.render(write_still=want_rgb)
    except RuntimeError as exc:  # Blender's own refusal (not an orbitfarm bug): say so
        message = " ".join(str(exc).split()) or "no message"
        raise RenderError(f"Blender could not render: {message}") from None
    if depth_tmp is not None and depth_tmp.is_file():
        name_depth_channel(depth_tmp)  # Blender names it "V"; OpenCV needs "Y" (see there)
    return rgb_tmp, depth_tmp


def pass_files(rs: RenderSetup) -> dict[str, Path]:
    """Output folder -> the temp file the compositor writes for the current render."""
    frame = rs.scene.frame_current
    return {folder: rs.tmp_dir / pattern.format(frame=frame)
            for folder, pattern in rs.compositor.pass_patterns.items()}
