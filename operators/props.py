"""Blender properties: per-scene render settings (saved in the .blend) and runtime UI state.

Scene settings defaults come from submitter.spec.RenderSettings, so panel = CLI = job spec.
Runtime state (progress, status, jobs list, preflight results) lives on the WindowManager, which
Blender never saves into the artist's file.
"""

# No `from __future__ import annotations`: Blender reads bpy.props annotations at register time.
# bpy.props annotations are calls by Blender's design, which mypy rejects as types:
# mypy: disable-error-code="valid-type"

import math
from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import PropertyGroup

from ..submitter.model.looks import LIGHTING_MODES, PASSES, VIDEO_FORMATS
from ..submitter.model.settings import (
    ALWAYS_FORMATS,
    DEFAULT_SAMPLES,
    DEVICES,
    ENGINES,
    FORMATS,
    MAX_ELEVATION,
    NORMALIZE_MODES,
    RenderSettings,
)

_DEFAULTS = RenderSettings()

# Value shown for the fixed radius / custom samples before the artist picks one; the spec's own
# default (auto radius, engine-default samples) is what the mode switches below start at.
_FIXED_RADIUS_START = 10.0

_ENGINE_LABELS = {"cycles": "Cycles", "eevee": "EEVEE", "workbench": "Workbench"}
_DEVICE_LABELS = {
    "auto": ("Auto", "GPU when the node has one (OptiX, CUDA, HIP, oneAPI, Metal), else CPU"),
    "gpu": ("GPU", "Fail when no GPU is available"),
    "cpu": ("CPU", "Render on the CPU only"),
}

# EnumProperty item strings must stay referenced while Blender shows them.
_target_items_cache: list[tuple[str, str, str]] = []


def _target_items(self: PropertyGroup, context: bpy.types.Context | None) -> list:
    """Target profiles from preferences (the CLI's targets.yaml); 'local' always exists."""
    from . import bridge

    _target_items_cache[:] = [
        (name, name, description) for name, description in bridge.profile_choices()
    ]
    return _target_items_cache


class ORBITFARM_PG_batch_file(PropertyGroup):
    """One .blend in the batch list, with its last preflight result."""

    path: StringProperty(name="File", subtype="FILE_PATH")
    status: EnumProperty(
        name="Preflight",
        items=[
            ("UNCHECKED", "Not checked", "Run Preflight to check this file", "DOT", 0),
            ("OK", "OK", "No problems found", "CHECKMARK", 1),
            ("WARNING", "Warning", "Renders, but see the message", "ERROR", 2),
            ("ERROR", "Error", "Would not render: see the message", "CANCEL", 3),
        ],
        default="UNCHECKED",
    )
    message: StringProperty(name="Preflight message")


def _follow_preview(self: PropertyGroup, context: bpy.types.Context) -> None:
    """An open orbit preview follows the settings as the artist changes them."""
    from . import preview_ops

    preview_ops.follow_settings(context)


# Artist-facing views of two stored values: the spec keeps margin a factor and elevation in
# degrees (CLI and job files), the panel shows "10 %" and "20°" with Blender's own units.
def _get_margin_percent(self: Any) -> float:
    return (self.margin - 1.0) * 100.0


def _set_margin_percent(self: Any, value: float) -> None:
    self.margin = 1.0 + value / 100.0


def _get_elevation_angle(self: Any) -> float:
    return math.radians(self.elevation)


def _set_elevation_angle(self: Any, value: float) -> None:
    self.elevation = math.degrees(value)


class ORBITFARM_PG_settings(PropertyGroup):
    """Orbit render settings of a scene; defaults identical to `orbitfarm submit`."""

    frames: IntProperty(
        name="Frames", description="Frames in one full revolution (frame k at 360*k/N degrees)",
        default=_DEFAULTS.frames, min=1, soft_max=3600, update=_follow_preview,
    )
    frame_range: StringProperty(
        name="Frame Range",
        description="Render only these orbit frames, e.g. 1-10,20,30-90x5 (empty: all)",
        default=_DEFAULTS.frame_range or "",
    )
    radius_mode: EnumProperty(
        name="Radius",
        items=[
            ("AUTO", "Auto", "Fit the subject's bounding sphere into the frame"),
            ("FIXED", "Fixed", "Camera distance from the subject's centre in scene units"),
        ],
        default="AUTO" if _DEFAULTS.radius is None else "FIXED", update=_follow_preview,
    )
    radius: FloatProperty(
        name="Distance", description="Camera distance from the subject's centre",
        default=_DEFAULTS.radius if _DEFAULTS.radius is not None else _FIXED_RADIUS_START,
        min=1e-4, soft_max=1000.0, unit="LENGTH", update=_follow_preview,
    )
    elevation: FloatProperty(
        name="Elevation", description="Degrees above the subject's centre (positive looks down)",
        default=_DEFAULTS.elevation, min=-MAX_ELEVATION, max=MAX_ELEVATION,
        update=_follow_preview,
    )
    elevation_angle: FloatProperty(
        name="Elevation", description="Camera angle above the subject's centre (positive looks "
        "down)", subtype="ANGLE", unit="ROTATION", get=_get_elevation_angle,
        set=_set_elevation_angle, min=math.radians(-MAX_ELEVATION),
        max=math.radians(MAX_ELEVATION), update=_follow_preview,
    )
    width: IntProperty(name="Width", default=_DEFAULTS.width, min=1, max=65536, subtype="PIXEL",
                       update=_follow_preview)
    height: IntProperty(name="Height", default=_DEFAULTS.height, min=1, max=65536,
                        subtype="PIXEL", update=_follow_preview)
    engine: EnumProperty(
        name="Engine",
        items=[(e, _ENGINE_LABELS.get(e, e.title()), f"Render with {e}") for e in ENGINES],
        default=_DEFAULTS.engine,
    )
    use_custom_samples: BoolProperty(
        name="Custom Samples",
        description="Set samples per pixel (off: the engine's default, "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_SAMPLES.items()) + ")",
        default=_DEFAULTS.samples is not None,
    )
    samples: IntProperty(
        name="Samples", default=_DEFAULTS.effective_samples, min=1, soft_max=4096,
    )
    device: EnumProperty(
        name="Device",
        items=[(d, *_DEVICE_LABELS.get(d, (d.upper(), d))) for d in DEVICES],
        default=_DEFAULTS.device,
    )
    rgb: BoolProperty(name="RGB (PNG)", description="rgb/NNNN.png", default=_DEFAULTS.rgb)
    depth: BoolProperty(
        name="Depth (EXR)", description="depth/NNNN.exr, 32-bit float planar depth",
        default=_DEFAULTS.depth,
    )
    poses: BoolProperty(
        name="Camera Poses", description="transforms.json", default=_DEFAULTS.poses,
    )
    transparent: BoolProperty(
        name="Transparent", description="RGBA PNGs with a transparent background",
        default=_DEFAULTS.transparent,
    )
    formats: EnumProperty(  # identifiers = the format names of RenderSettings.formats
        name="Formats",
        description="Dataset formats written besides transforms.json (nerfstudio) and depth16/",
        items=[(f, f, f"Also write the {f} dataset format")
               for f in FORMATS if f not in ALWAYS_FORMATS],
        options={"ENUM_FLAG"},
        default=set(_DEFAULTS.formats),
    )
    holdout: IntProperty(
        name="Test Holdout",
        description="nerf-synthetic split: every K-th view is a test view (0: none)",
        default=_DEFAULTS.holdout, min=0, soft_max=100,
    )
    normalize: EnumProperty(  # identifiers = RenderSettings.normalize values
        name="Normalize",
        description="Mesh and USD subjects: scale to a unit size, centred (scale and offset "
                    "are recorded in result.json)",
        items=[(m, m.replace("-", " ").title(), f"Normalize: {m}") for m in NORMALIZE_MODES],
        default=_DEFAULTS.normalize,
    )
    # Lighting, background, passes, video (model/looks.py; bridge.py turns them into settings).
    lighting: EnumProperty(
        name="Lighting",
        items=[(m, m.replace("-", " ").title(), f"--lighting {m}") for m in LIGHTING_MODES]
        + [("hdri", "HDRI", "--lighting hdri:FILE: an environment image lights the subject")],
        default=_DEFAULTS.lighting,
    )
    hdri_path: StringProperty(name="HDRI", subtype="FILE_PATH", default="")
    light_strength: FloatProperty(
        name="Light Strength", description="Multiplies the rig's or the HDRI's light",
        default=_DEFAULTS.light_strength, min=0.0, soft_max=10.0,
    )
    background: EnumProperty(
        name="Background",
        items=[("scene", "Scene", "The world as rendered"),
               ("transparent", "Transparent", "RGBA PNGs with a transparent background"),
               ("colour", "Colour", "A flat colour composited behind the subject")],
        default=_DEFAULTS.background,
    )
    background_colour: FloatVectorProperty(
        name="Colour", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0, default=(1.0, 1.0, 1.0),
    )
    passes: EnumProperty(
        name="Passes", description="Extra passes from the same render",
        items=[(p, p.title(), f"--pass {p}") for p in PASSES], options={"ENUM_FLAG"},
        default=set(_DEFAULTS.passes),
    )
    video: EnumProperty(
        name="Video", items=[("none", "None", "No turntable movie")]
        + [(v, v.upper(), f"--video {v}: a turntable movie of rgb/") for v in VIDEO_FORMATS],
        default="none",
    )
    margin: FloatProperty(
        name="Margin", description="Auto radius: the bounding sphere fills 1/margin of the view",
        default=_DEFAULTS.margin, min=1.0, soft_max=3.0, update=_follow_preview,
    )
    margin_percent: FloatProperty(
        name="Margin", description="Auto radius: free space around the subject's bounding "
        "sphere, in percent of its size (10 % = the sphere fills 1/1.1 of the narrower view)",
        subtype="PERCENTAGE", get=_get_margin_percent, set=_set_margin_percent, min=0.0,
        soft_max=200.0, precision=0, update=_follow_preview,
    )
    # ---- view layouts (submitter/model/views.py); bridge.view_settings reads them ----------
    layout: EnumProperty(
        name="Views",
        items=[("ring", "Rings", "Frames views per ring around the subject, one ring per "
                "elevation"),
               ("sphere", "Sphere", "Frames views spread evenly over the sphere"),
               ("random", "Random", "Frames seeded random views on a sphere or shell")],
        default=_DEFAULTS.layout, update=_follow_preview,
    )
    elevations: StringProperty(
        name="Rings", description="Elevations of several rings in degrees, e.g. -15,0,30 "
        "(empty: one ring at Elevation)", default="", update=_follow_preview,
    )
    sampling: EnumProperty(
        name="Sampling",
        items=[("fibonacci", "Fibonacci", "Fibonacci spiral"),
               ("hammersley", "Hammersley", "Hammersley point set (view 1 on the pole)")],
        default=_DEFAULTS.sampling, update=_follow_preview,
    )
    hemisphere: BoolProperty(
        name="Upper Hemisphere", description="Only views above the subject's centre plane",
        default=_DEFAULTS.hemisphere, update=_follow_preview,
    )
    seed: IntProperty(name="Seed", description="Random views are a pure function of the seed",
                      default=_DEFAULTS.seed, min=0, update=_follow_preview)
    radius_min: FloatProperty(
        name="Distance Min", description="Nearest random view, as a multiple of the radius",
        default=(_DEFAULTS.radius_range or [1.0, 1.0])[0], min=0.01, soft_max=10.0,
        update=_follow_preview,
    )
    radius_max: FloatProperty(
        name="Max", description="Farthest random view, as a multiple of the radius",
        default=(_DEFAULTS.radius_range or [1.0, 1.0])[1], min=0.01, soft_max=10.0,
        update=_follow_preview,
    )
    use_fov: BoolProperty(name="Field of View", description="Set the field of view (off: a "
                          "50 mm lens on a 36 mm sensor)", default=_DEFAULTS.fov is not None,
                          update=_follow_preview)
    fov: FloatProperty(
        name="Field of View", description="Degrees across the wider image side; the auto "
        "radius fits it", default=_DEFAULTS.fov or 40.0, min=1.0, max=170.0,
        update=_follow_preview,
    )
    ortho: BoolProperty(
        name="Orthographic", description="Orthographic camera, scaled to fit the subject (no "
        "nerf-synthetic, colmap or opencv format)", default=_DEFAULTS.ortho,
        update=_follow_preview,
    )
    output_dir: StringProperty(
        name="Output",
        description="Folder the dataset goes to (empty: the default output root in preferences)",
        subtype="DIR_PATH", default="",
    )
    target: EnumProperty(name="Target", description="Where the job runs", items=_target_items)
    batch_files: CollectionProperty(type=ORBITFARM_PG_batch_file)
    batch_index: IntProperty(name="Active batch file", default=0)


class ORBITFARM_PG_problem(PropertyGroup):
    """One preflight finding, shown with what to do about it."""

    severity: StringProperty(name="Severity")  # "error" | "warning"
    subject: StringProperty(name="Subject")
    message: StringProperty(name="Message")
    hint: StringProperty(name="Hint")


class ORBITFARM_PG_job(PropertyGroup):
    """A job in the jobs list with its last known progress."""

    job_id: StringProperty(name="Job")
    label: StringProperty(name="Renders")  # what it renders: subjects and frames
    path: StringProperty(name="Job Folder", subtype="DIR_PATH")
    target: StringProperty(name="Target")
    state: StringProperty(name="State", default="unknown")
    frames_done: IntProperty(name="Frames Done")
    frames_total: IntProperty(name="Frames")
    failed_tasks: IntProperty(name="Failed Tasks")
    warnings: IntProperty(name="Warnings")  # in the subjects' result.json: missing files, ...
    finished: BoolProperty(name="Finished")
    from_session: BoolProperty(name="Submitted Here")
    detail: StringProperty(name="Detail")  # per-subject summary / last error


class ORBITFARM_PG_runtime(PropertyGroup):
    """Runtime UI state (never saved): background work, preflight results, jobs."""

    busy: BoolProperty(name="Busy")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(name="Status")
    error: StringProperty(name="Last Error")
    preflight_done: BoolProperty(name="Preflight Done")
    preflight_ok: BoolProperty(name="Preflight OK")
    problems: CollectionProperty(type=ORBITFARM_PG_problem)
    problems_index: IntProperty()
    jobs: CollectionProperty(type=ORBITFARM_PG_job)
    jobs_index: IntProperty(name="Active Job")


classes = (
    ORBITFARM_PG_batch_file,
    ORBITFARM_PG_settings,
    ORBITFARM_PG_problem,
    ORBITFARM_PG_job,
    ORBITFARM_PG_runtime,
)


def attach() -> None:
    """Hang the property groups on Scene and WindowManager (after the classes are registered)."""
    bpy.types.Scene.orbitfarm = PointerProperty(  # type: ignore[attr-defined, func-returns-value]
        type=ORBITFARM_PG_settings)
    bpy.types.WindowManager.orbitfarm = PointerProperty(  # type: ignore[attr-defined, func-returns-value]
        type=ORBITFARM_PG_runtime)


def detach() -> None:
    """Remove what attach() added (before the classes are unregistered)."""
    del bpy.types.WindowManager.orbitfarm  # type: ignore[attr-defined]
    del bpy.types.Scene.orbitfarm  # type: ignore[attr-defined]
