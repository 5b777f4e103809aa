"""Dataset writers: from poses + intrinsics to dataset formats (see README.md). Plain Python.

`write_formats` is what the worker calls once a subject's frames are all in place and what
`orbitfarm export` calls for folders rendered earlier; it never needs Blender. The table of
formats and their conventions is in the project README."""

from __future__ import annotations

from pathlib import Path

from ..files.result import locked
from ..model.settings import ALWAYS_FORMATS, DEFAULT_HOLDOUT, FORMATS
from ..model.views import PERSPECTIVE_ONLY_FORMATS
from .cameras import FormatError, load_cameras, rendered_views
from .colmap import write_colmap
from .depth16 import write_depth16
from .exr_channel import name_depth_channel
from .nerf_synthetic import write_nerf_synthetic
from .nerfstudio import write_nerfstudio
from .opencv import write_opencv

__all__ = ["FORMATS", "FormatError", "wanted_formats", "write_formats"]


def wanted_formats(formats: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The formats written for a subject: the always-written ones plus `formats`, in order."""
    return list(dict.fromkeys([*ALWAYS_FORMATS, *formats]))


def write_formats(subject_dir: str | Path, formats: list[str] | tuple[str, ...] = (),
                  holdout: int = DEFAULT_HOLDOUT) -> list[str]:
    """Write the always-written formats plus `formats` for one subject folder; return warnings.

    Runs under the subject's result lock, so chunks of one subject finishing together write
    one after the other. Views whose files are missing (a partly rendered subject) are left
    out of every format except transforms.json, which keeps the poses of the whole orbit.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise FormatError(f"unknown format(s) {', '.join(unknown)} (known: {', '.join(FORMATS)})")
    wanted = wanted_formats(formats)
    out = Path(subject_dir)
    with locked(out):
        cams = load_cameras(out)
        refused = [f for f in wanted if f in PERSPECTIVE_ONLY_FORMATS]
        if cams.orthographic and refused:
            raise FormatError(f"{out}: orthographic views; {', '.join(refused)} has no "
                              "orthographic camera model (README, View layouts)")
        warnings: list[str] = []
        views = rendered_views(cams)
        for view in views:  # OpenCV-readable depth channel name (see exr_channel.py)
            if view.has_depth:
                name_depth_channel(out / view.depth)
        depth16 = "depth16" in wanted and any(v.has_depth for v in views)
        if depth16:
            warnings += write_depth16(out, cams)
        warnings += write_nerfstudio(out, cams, depth16)
        if "nerf-synthetic" in wanted:
            warnings += write_nerf_synthetic(out, cams, holdout)
        if "colmap" in wanted:
            warnings += write_colmap(out, cams)
        if "opencv" in wanted:
            warnings += write_opencv(out, cams, depth16)
    missing = len(cams.views) - len(views)
    if missing:
        warnings.append(f"{missing} of {len(cams.views)} frame(s) are not rendered (yet); "
                        "the formats list only the rendered ones")
    return warnings
