"""Render settings and job options: every default lives here and only here.

Plain Python (no bpy). The same RenderSettings back the CLI options, the job spec YAML and the
Blender panel's PropertyGroup; JobOptions' defaults back `submit`'s job options, the job spec
and the panel's submit request.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from . import views
from .frames import FrameSpecError, parse_frame_spec
from .looks import looks_error

ENGINES = ("cycles", "eevee", "workbench")
DEVICES = ("auto", "gpu", "cpu")
DEFAULT_SAMPLES = {"cycles": 64, "eevee": 16, "workbench": 1}
MAX_ELEVATION = 89.0  # the orbit's up vector degenerates at the poles
# Dataset formats (submitter/formats/). The first two are always written: transforms.json in
# nerfstudio's schema and its depth16/ PNGs; --format adds the others.
FORMATS = ("nerfstudio", "depth16", "nerf-synthetic", "colmap", "opencv")
ALWAYS_FORMATS = ("nerfstudio", "depth16")
DEFAULT_HOLDOUT = 8  # every 8th view in the test split, as the 3DGS / Mip-NeRF 360 evaluations
# Imported (mesh/USD) subjects scaled to a unit size, as TRELLIS does (worker/normalize.py).
NORMALIZE_MODES = ("none", "unit-cube", "unit-sphere")

class SettingsError(ValueError):
    """Render settings a user gave are invalid; the message says which and how to fix it."""


# -- limits: every number setting's allowed range, written once -----------------------------
# A new number field adds its row to LIMITS (RenderSettings) or JOB_LIMITS (JobOptions);
# validate() checks every row, so no value outside them reaches a plan, a worker or a file.
MAX_FRAMES = 100_000  # frames per orbit (0.0036 degrees apart); a list of them is built
MAX_RADIUS = 1e6  # scene units; beyond it the camera's clipping range renders nothing
MAX_MARGIN = 100.0


@dataclass(frozen=True)
class Limit:
    """The values one setting allows: a whole or finite number within [low, high]."""

    option: str  # how the user names it (CLI option, or panel/YAML key)
    low: float
    high: float
    whole: bool = True
    optional: bool = False  # None is allowed (means "automatic")
    unit: str = ""

    def check(self, value: object) -> None:
        """Raise SettingsError saying what is allowed when `value` is not."""
        if value is None and self.optional:
            return
        if self.whole:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value)
        if ok and self.low <= value <= self.high:  # type: ignore[operator]
            return
        kind = "a whole number" if self.whole else "a finite number"
        unit = f" {self.unit}" if self.unit else ""
        auto = " (or 'auto')" if self.optional else ""
        raise SettingsError(f"{self.option} must be {kind} from {self.low:g} to {self.high:g}"
                            f"{unit}{auto}, got {value!r}")


LIMITS: dict[str, Limit] = {
    "frames": Limit("--frames", 1, MAX_FRAMES),
    "width": Limit("resolution width", 1, 65536, unit="pixels"),
    "height": Limit("resolution height", 1, 65536, unit="pixels"),
    "radius": Limit("--radius", 1e-6, MAX_RADIUS, whole=False, optional=True,
                    unit="scene units"),
    "elevation": Limit("--elevation", -MAX_ELEVATION, MAX_ELEVATION, whole=False,
                       unit="degrees"),
    "samples": Limit("--samples", 1, 1 << 24, optional=True),
    "margin": Limit("margin", 1.0, MAX_MARGIN, whole=False),
    "holdout": Limit("--holdout", 0, MAX_FRAMES),  # 0 = no test views
}
FLAGS = ("rgb", "depth", "poses", "transparent")  # settings that are true or false


def unknown_keys_error(what: str, given: object, known: object) -> str:
    """'unknown <what> 'wrokers' (did you mean 'workers'?); known: ...' for misspelt keys."""
    names = sorted(str(k) for k in known)  # type: ignore[attr-defined]
    parts = []
    for key in sorted(str(k) for k in given):  # type: ignore[attr-defined]
        close = difflib.get_close_matches(key, names, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown {what} {', '.join(parts)}; known: {', '.join(names)}"


@dataclass
class RenderSettings:
    """Everything that decides what an orbit render looks like. Defaults = CLI = panel."""

    frames: int = 360  # frames in one full revolution; frame k at azimuth 360*k/frames
    frame_range: str | None = None  # subset of 1..frames to render, e.g. "1-10,20,30-90x5"
    width: int = 640
    height: int = 480
    radius: float | None = None  # None: auto-fit the subject's bounding sphere
    elevation: float = 0.0  # degrees above the subject's centre plane (+ looks down)
    engine: str = "cycles"
    samples: int | None = None  # None: DEFAULT_SAMPLES[engine]
    device: str = "auto"
    rgb: bool = True  # rgb/NNNN.png
    depth: bool = True  # depth/NNNN.exr (32-bit float planar depth)
    poses: bool = True  # transforms.json
    transparent: bool = False  # RGBA PNG with transparent background
    margin: float = 1.1  # auto radius: bounding sphere fills 1/margin of the narrower FOV
    formats: list[str] = field(default_factory=list)  # added to ALWAYS_FORMATS
    holdout: int = DEFAULT_HOLDOUT  # split formats: every K-th view is a test view; 0 = none
    # ---- view layouts (model/views.py; README "View layouts") --------------------------------
    layout: str = "ring"  # ring | sphere | random
    elevations: list[float] | None = None  # ring: one ring per elevation (None: `elevation`)
    sampling: str = "fibonacci"  # sphere: fibonacci | hammersley
    hemisphere: bool = False  # sphere, random: upper hemisphere only
    seed: int = 0  # random: the views are a pure function of (seed, view number)
    radius_range: list[float] | None = None  # random: shell [min, max] x radius (None: 1, 1)
    fov: float | None = None  # degrees across the wider image side (None: 50 mm on 36 mm)
    ortho: bool = False  # orthographic camera, its scale fitted like the auto radius
    # ---- imported subjects (worker/normalize.py) ----
    normalize: str = "none"  # imported subjects: none | unit-cube | unit-sphere
    # Lighting, background, passes, video (names and their checks: model/looks.py).
    lighting: str = "auto"  # auto | scene | uniform | three-point | hdri:FILE
    light_strength: float = 1.0  # multiplies the rig's (or the HDRI's) light
    background: str = "scene"  # scene | transparent | #rrggbb | a colour name
    passes: list[str] = field(default_factory=list)  # extra passes: mask, normal, albedo
    video: str | None = None  # mp4 | gif: a turntable movie of rgb/ per subject

    def validate(self) -> RenderSettings:
        """Raise SettingsError with a readable message; return self for chaining."""
        for name, limit in LIMITS.items():
            limit.check(getattr(self, name))
        for name in FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} must be true or false, got {getattr(self, name)!r}")
        views.normalize(self)
        problem = views.views_problem(self)
        if problem:
            raise SettingsError(problem)
        try:
            parse_frame_spec(self.frame_range, self.view_count)
        except FrameSpecError as exc:
            raise SettingsError(str(exc)) from None
        if self.engine not in ENGINES:
            raise SettingsError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.device not in DEVICES:
            raise SettingsError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not (self.rgb or self.depth or self.poses):
            raise SettingsError("nothing to output: enable at least one of rgb, depth, poses")
        if not isinstance(self.formats, list) or not all(f in FORMATS for f in self.formats):
            raise SettingsError(
                f"--format must be among {', '.join(FORMATS)}, got {self.formats!r}")
        if self.normalize not in NORMALIZE_MODES:
            raise SettingsError(f"--normalize must be one of {', '.join(NORMALIZE_MODES)}, "
                                f"got {self.normalize!r}")
        looks = looks_error(self.lighting, self.light_strength, self.background, self.passes,
                            self.video, self.engine)
        if looks:
            raise SettingsError(looks)
        if self.transparent and self.background not in ("scene", "transparent"):
            raise SettingsError(f"--transparent and --background {self.background} contradict "
                                "each other: give one")
        return self

    @property
    def film_transparent(self) -> bool:
        """Whether the render's background is transparent (--transparent is --background
        transparent)."""
        return self.transparent or self.background == "transparent"

    @property
    def effective_samples(self) -> int:
        return self.samples if self.samples is not None else DEFAULT_SAMPLES[self.engine]

    def frame_list(self) -> list[int]:
        """The frames this render covers (frame_range within 1..view_count)."""
        return parse_frame_spec(self.frame_range, self.view_count)

    @property
    def view_count(self) -> int:
        """Views of the layout, numbered 1..view_count (= frames unless there are rings)."""
        return views.view_count(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderSettings:
        """Build from a dict (YAML/JSON); unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise SettingsError(f"render settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(unknown_keys_error("render setting(s)", unknown, known))
        return cls(**data).validate()

    def settings_hash(self) -> str:
        """Hash of everything that changes pixels or poses (not which frames are rendered, nor
        the dataset formats written from them: those are rewritten from the frames). Settings
        added later count only when they differ from their default, so older renders resume."""
        data = self.to_dict()
        # Passes are extra files beside the same pixels: asking for one later renders only
        # the frames that lack its files.
        for derived in ("frame_range", "formats", "holdout", "video", "passes"):
            data.pop(derived)
        for name, default in _ADDED_LATER.items():  # at their defaults older hashes hold
            if data[name] == default:
                data.pop(name)
        data["samples"] = self.effective_samples
        blob = json.dumps(data, sort_keys=True, allow_nan=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

VIEW_FIELDS = ("layout", "elevations", "sampling", "hemisphere", "seed", "radius_range", "fov",
               "ortho")
# Settings added after the first renders: at their defaults they leave older hashes valid.
_ADDED_LATER = {name: getattr(RenderSettings(), name) for name in
                (*VIEW_FIELDS, "lighting", "light_strength", "background", "normalize")}


@dataclass(frozen=True)
class JobOptions:
    """How a job is cut into tasks and retried (`submit`'s job options); defaults here only."""

    chunk: int | None = None  # frames per task; None: the whole orbit (a subject loads once)
    group: int = 1  # subjects per task
    max_attempts: int = 3  # how often a task may run before it fails for good

    def validate(self) -> JobOptions:
        """Raise SettingsError naming the bad option; return self (the one place they are checked)."""
        for name, limit in JOB_LIMITS.items():
            limit.check(getattr(self, name))
        return self


JOB_LIMITS: dict[str, Limit] = {
    "chunk": Limit("--chunk", 1, MAX_FRAMES, optional=True, unit="frames"),
    "group": Limit("--group", 1, 1_000_000, unit="subjects"),
    "max_attempts": Limit("--max-attempts", 1, 100),
}


JOB_DEFAULTS = JobOptions()
