"""The render options shared by `orbitfarm render` and `orbitfarm submit` (argparse side).

Defaults come from model.settings.RenderSettings; this module only parses and names them.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..model.looks import PASSES, VIDEO_FORMATS, absolute_hdri, hdri_problem
from ..model.settings import (
    ALWAYS_FORMATS,
    DEVICES,
    ENGINES,
    FORMATS,
    NORMALIZE_MODES,
    RenderSettings,
    SettingsError,
)
from ..model.views import LAYOUTS, SAMPLINGS

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
                   help="frames in one full revolution; frame k at azimuth 360*k/N (default "
                        "%(default)s); with --layout sphere or random: the number of views")
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
    g.add_argument("--normalize", choices=NORMALIZE_MODES, default=d.normalize,
                   help="mesh/USD subjects: scale to fit the unit cube or unit sphere, centred "
                        "(scale and offset in result.json; default none)")
    add_format_options(parser)
    add_view_options(parser)
    add_look_options(parser)


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be numbers separated by commas, got "
                                         f"{text!r}") from None


def parse_elevations(text: str) -> list[float]:
    """'-15,0,30' -> [-15.0, 0.0, 30.0]."""
    return _floats(text, "--elevations")


def parse_radius_range(text: str) -> list[float]:
    """'1,1.5' -> [1.0, 1.5]."""
    values = _floats(text, "--radius-range")
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"--radius-range must be MIN,MAX, got {text!r}")
    return values


_LIST_OPTIONS = ("--elevations", "--radius-range")


def glue_negative_lists(argv: list[str]) -> list[str]:
    """`--elevations -15,0,30` -> `--elevations=-15,0,30`: argparse takes a value that starts
    with '-' (and is not one plain number) for an option of its own."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _LIST_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and argv[i + 1][1:2].isdigit():
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def add_view_options(parser: argparse.ArgumentParser) -> None:
    """View layouts (model/views.py): rings, sphere, random views, field of view, orthographic."""
    d = RenderSettings()
    g = parser.add_argument_group("view layout")
    g.add_argument("--layout", choices=LAYOUTS, default=d.layout,
                   help="ring: --frames views per ring; sphere: --frames views spread over the "
                        "sphere; random: --frames seeded random views (default %(default)s)")
    g.add_argument("--elevations", type=parse_elevations, default=None, metavar="DEG,DEG,...",
                   help="ring layout: one ring of --frames views per elevation, e.g. -15,0,30 "
                        "(views numbered ring by ring)")
    g.add_argument("--sampling", choices=SAMPLINGS, default=d.sampling,
                   help="sphere layout: Fibonacci spiral or Hammersley points (default %(default)s)")
    g.add_argument("--hemisphere", action="store_true",
                   help="sphere and random layouts: upper hemisphere only (elevation >= 0)")
    g.add_argument("--seed", type=int, default=d.seed,
                   help="random layout: the views are a pure function of the seed "
                        "(default %(default)s)")
    g.add_argument("--radius-range", type=parse_radius_range, default=None, metavar="MIN,MAX",
                   help="random layout: camera distances in a shell from MIN to MAX times the "
                        "radius (default 1,1: on the sphere)")
    g.add_argument("--fov", type=float, default=None, metavar="DEG",
                   help="field of view across the wider image side; the auto radius fits it "
                        "(default: a 50 mm lens on a 36 mm sensor, 39.6 degrees)")
    g.add_argument("--ortho", action="store_true",
                   help="orthographic camera, its scale fitted to the subject like the auto "
                        "radius (no nerf-synthetic, colmap or opencv format)")


def view_settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The view-layout fields of RenderSettings from add_view_options() arguments."""
    return {"layout": args.layout, "elevations": args.elevations, "sampling": args.sampling,
            "hemisphere": args.hemisphere, "seed": args.seed, "radius_range": args.radius_range,
            "fov": args.fov, "ortho": args.ortho}


def add_look_options(parser: argparse.ArgumentParser) -> None:
    """--lighting, --light-strength, --background, --pass, --video (model/looks.py)."""
    d = RenderSettings()
    g = parser.add_argument_group("lighting, background, passes, video")
    g.add_argument("--lighting", default=d.lighting, metavar="MODE",
                   help="auto (default: the scene's own lights/world, else three-point), scene, "
                        "uniform, three-point or hdri:FILE")
    g.add_argument("--light-strength", type=float, default=d.light_strength, metavar="X",
                   help="multiplies the rig's or the HDRI's light (default %(default)s)")
    g.add_argument("--background", default=d.background, metavar="BG",
                   help="scene (default: the world as rendered), transparent, or a colour "
                        "(#336699, white, ...) composited behind the subject")
    g.add_argument("--pass", dest="passes", action="append", choices=PASSES, default=None,
                   metavar="P", help=f"also write this pass (repeatable): {', '.join(PASSES)}")
    g.add_argument("--video", choices=VIDEO_FORMATS, default=None,
                   help="also write a turntable movie of rgb/ per subject")


def add_format_options(parser: argparse.ArgumentParser) -> None:
    """--format / --holdout: shared by render, submit and export."""
    g = parser.add_argument_group("dataset formats")
    g.add_argument("--format", dest="formats", action="append", choices=FORMATS, default=None,
                   metavar="F", help="also write this dataset format (repeatable): "
                   f"{', '.join(f for f in FORMATS if f not in ALWAYS_FORMATS)}; "
                   f"{' and '.join(ALWAYS_FORMATS)} are always written")
    g.add_argument("--holdout", type=int, default=RenderSettings().holdout, metavar="K",
                   help="nerf-synthetic split: every K-th view goes to the test split, "
                        "0 = none (default %(default)s)")


def settings_from_args(args: argparse.Namespace) -> RenderSettings:
    """RenderSettings from parsed add_render_options() arguments (raises SettingsError)."""
    width, height = args.resolution
    settings = RenderSettings(
        frames=args.frames, frame_range=args.frame_range, width=width, height=height,
        radius=args.radius, elevation=args.elevation, engine=args.engine, samples=args.samples,
        device=args.device, rgb=args.rgb, depth=args.depth, poses=args.poses,
        transparent=args.transparent, formats=list(dict.fromkeys(args.formats or [])),
        holdout=args.holdout, normalize=args.normalize, **view_settings_from_args(args),
        lighting=absolute_hdri(args.lighting), light_strength=args.light_strength,
        background=args.background, passes=[p for p in PASSES if p in (args.passes or [])],
        video=args.video,
    ).validate()
    problem = hdri_problem(settings.lighting)
    if problem:  # before any subject: each would fail with it
        raise SettingsError(problem)
    return settings
