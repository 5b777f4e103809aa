"""Render settings and job options: every default lives here and only here.

Plain Python (no bpy). The same RenderSettings back the CLI options, the job spec YAML and the
Blender panel's PropertyGroup; JobOptions' defaults back `submit`'s job options, the job spec
and the panel's submit request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

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

class SettingsError(ValueError):
    """Render settings a user gave are invalid; the message says which and how to fix it."""


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
    # Lighting, background, passes, video (names and their checks: model/looks.py).
    lighting: str = "auto"  # auto | scene | uniform | three-point | hdri:FILE
    light_strength: float = 1.0  # multiplies the rig's (or the HDRI's) light
    background: str = "scene"  # scene | transparent | #rrggbb | a colour name
    passes: list[str] = field(default_factory=list)  # extra passes: mask, normal, albedo
    video: str | None = None  # mp4 | gif: a turntable movie of rgb/ per subject

    def validate(self) -> RenderSettings:
        """Raise SettingsError with a readable message; return self for chaining."""
        if not isinstance(self.frames, int) or self.frames < 1:
            raise SettingsError(f"--frames must be a whole number >= 1, got {self.frames!r}")
        try:
            parse_frame_spec(self.frame_range, self.frames)
        except FrameSpecError as exc:
            raise SettingsError(str(exc)) from None
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 65536:
                raise SettingsError(f"resolution {name} must be 1..65536 pixels, got {value!r}")
        if self.radius is not None and not self.radius > 0:
            raise SettingsError(f"--radius must be > 0 (or 'auto'), got {self.radius!r}")
        if not -MAX_ELEVATION <= self.elevation <= MAX_ELEVATION:
            raise SettingsError(
                f"--elevation must be between -{MAX_ELEVATION:g} and {MAX_ELEVATION:g} degrees,"
                f" got {self.elevation!r}"
            )
        if self.engine not in ENGINES:
            raise SettingsError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.samples is not None and (not isinstance(self.samples, int) or self.samples < 1):
            raise SettingsError(f"--samples must be a whole number >= 1, got {self.samples!r}")
        if self.device not in DEVICES:
            raise SettingsError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not (self.rgb or self.depth or self.poses):
            raise SettingsError("nothing to output: enable at least one of rgb, depth, poses")
        if not self.margin >= 1.0:
            raise SettingsError(f"margin must be >= 1.0, got {self.margin!r}")
        if not isinstance(self.formats, list) or not all(f in FORMATS for f in self.formats):
            raise SettingsError(
                f"--format must be among {', '.join(FORMATS)}, got {self.formats!r}")
        if not isinstance(self.holdout, int) or self.holdout < 0:
            raise SettingsError(
                f"--holdout must be a whole number >= 0 (0 = no test views), got {self.holdout!r}")
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
        """The frames this render covers (frame_range within 1..frames)."""
        return parse_frame_spec(self.frame_range, self.frames)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderSettings:
        """Build from a dict (YAML/JSON); unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise SettingsError(f"render settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(
                f"unknown render setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
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
        for name, default in _LOOKS_DEFAULTS.items():  # hashes from before these settings hold
            if data[name] == default:
                data.pop(name)
        data["samples"] = self.effective_samples
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_LOOKS_DEFAULTS = {"lighting": "auto", "light_strength": 1.0, "background": "scene"}


@dataclass(frozen=True)
class JobOptions:
    """How a job is cut into tasks and retried (`submit`'s job options); defaults here only."""

    chunk: int | None = None  # frames per task; None: the whole orbit (a subject loads once)
    group: int = 1  # subjects per task
    max_attempts: int = 3  # how often a task may run before it fails for good

    def validate(self) -> JobOptions:
        """Raise SettingsError naming the bad option; return self (the one place they are checked)."""
        if self.chunk is not None and (not isinstance(self.chunk, int) or self.chunk < 1):
            raise SettingsError(f"--chunk must be >= 1 frames, got {self.chunk}")
        if not isinstance(self.group, int) or self.group < 1:
            raise SettingsError(f"--group must be >= 1 subjects, got {self.group}")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise SettingsError(f"--max-attempts must be >= 1, got {self.max_attempts}")
        return self


JOB_DEFAULTS = JobOptions()
