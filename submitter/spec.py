"""Render settings and the worker task: the contract between submitter, targets and worker.

Plain Python (no bpy). The same RenderSettings back the CLI options, the job spec YAML and the
Blender panel's PropertyGroup, so their defaults live here and only here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .frames import FrameSpecError, parse_frame_spec

ENGINES = ("cycles", "eevee", "workbench")
DEVICES = ("auto", "gpu", "cpu")
DEFAULT_SAMPLES = {"cycles": 64, "eevee": 16, "workbench": 1}
MAX_ELEVATION = 89.0  # the orbit's up vector degenerates at the poles

TASK_FORMAT_VERSION = 1


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
        return self

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
        """Hash of everything that changes pixels or poses (not which frames are rendered)."""
        data = self.to_dict()
        data.pop("frame_range")
        data["samples"] = self.effective_samples
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_RES = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def parse_resolution(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480)."""
    m = _RES.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"resolution must look like 640x480, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_radius(text: str) -> float | None:
    """'auto' -> None, else a positive float."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"radius must be a number or 'auto', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"radius must be > 0, got {text!r}")
    return value


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """The render options shared by `orbitfarm render` and `orbitfarm submit`."""
    d = RenderSettings()
    g = parser.add_argument_group("orbit render")
    g.add_argument("--frames", type=int, default=d.frames,
                   help="frames in one full revolution; frame k at azimuth 360*k/N (default %(default)s)")
    g.add_argument("--frame-range", metavar="SPEC", default=None,
                   help="render only these frames of the orbit, e.g. '1-10,20,30-90x5'")
    g.add_argument("--resolution", type=parse_resolution, default=(d.width, d.height), metavar="WxH",
                   help=f"image size (default {d.width}x{d.height})")
    g.add_argument("--radius", type=parse_radius, default=None, metavar="R|auto",
                   help="camera distance from the origin in scene units (default auto: the "
                        "subject's bounding sphere fits the frame with a 10%% margin)")
    g.add_argument("--elevation", type=float, default=d.elevation, metavar="DEG",
                   help="camera height as an angle above the subject's centre (default 0 = level; "
                        "positive looks down, range -89..89)")
    g.add_argument("--engine", choices=ENGINES, default=d.engine, help="render engine (default cycles)")
    g.add_argument("--samples", type=int, default=None,
                   help="samples per pixel (default: cycles 64, eevee 16, workbench 1)")
    g.add_argument("--device", choices=DEVICES, default=d.device,
                   help="auto: GPU (OptiX, then CUDA/HIP/oneAPI/Metal) with CPU fallback")
    g.add_argument("--no-rgb", dest="rgb", action="store_false", help="skip rgb/NNNN.png")
    g.add_argument("--no-depth", dest="depth", action="store_false", help="skip depth/NNNN.exr")
    g.add_argument("--no-poses", dest="poses", action="store_false", help="skip transforms.json")
    g.add_argument("--transparent", action="store_true",
                   help="RGBA PNGs with a transparent background instead of the scene's world")


def settings_from_args(args: argparse.Namespace) -> RenderSettings:
    """RenderSettings from parsed add_render_options() arguments (raises SettingsError)."""
    width, height = args.resolution
    return RenderSettings(
        frames=args.frames, frame_range=args.frame_range, width=width, height=height,
        radius=args.radius, elevation=args.elevation, engine=args.engine, samples=args.samples,
        device=args.device, rgb=args.rgb, depth=args.depth, poses=args.poses,
        transparent=args.transparent,
    ).validate()


@dataclass
class Subject:
    """One .blend to render and the directory its outputs go to."""

    blend: str  # absolute path of the .blend the worker opens
    out: str  # absolute path of DIR/<stem>/
    name: str = ""  # display name (defaults to the file stem)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = Path(self.blend).stem


@dataclass
class WorkerTask:
    """What one worker process renders: subjects in turn, each for `frames` (None: all)."""

    settings: RenderSettings
    subjects: list[Subject]
    frames: list[int] | None = None  # a chunk of settings.frame_list(); None = all of them
    force: bool = False  # re-render frames that already exist
    state_file: str | None = None  # job directory task state (running/heartbeat/done); optional
    task_id: str = ""
    subject_timeout: float | None = None  # seconds; None = no limit
    version: int = TASK_FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> WorkerTask:
        data = json.loads(text)
        if data.get("version") != TASK_FORMAT_VERSION:
            raise SettingsError(
                f"task file format {data.get('version')!r} is not {TASK_FORMAT_VERSION}: "
                "the worker code and the submitter are from different orbitfarm versions"
            )
        data["settings"] = RenderSettings.from_dict(data["settings"])
        data["subjects"] = [Subject(**s) for s in data["subjects"]]
        return cls(**data)

    def write(self, path: str | Path) -> None:
        from .atomic import atomic_write_text

        atomic_write_text(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> WorkerTask:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
