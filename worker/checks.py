"""Verify a frame right after it is written: decodes, right size, depth sane, not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..submitter.files.imageio import ImageFormatError, read_exr, read_png, verify_png
from . import orbit
from .results import NO_HIT_DEPTH


def check_frame(rgb: Path | None, depth: Path | None, width: int, height: int,
                expect_subject: bool = True) -> str | None:
    """None when the frame is good, else the reason it is not.

    expect_subject: the subject covers enough pixels that a frame without it is an error.
    """
    try:
        if depth is not None:
            exr = read_exr(depth)
            if (exr.width, exr.height) != (width, height):
                return f"depth is {exr.width}x{exr.height}, expected {width}x{height}"
            if len(exr.pixel_types) != 1 or list(exr.pixel_types.values()) != ["FLOAT"]:
                return f"depth EXR channels {exr.pixel_types} are not one 32-bit float channel"
            values = exr.channel(exr.channel_names[0])
            if not np.all(np.isfinite(values)):
                return "depth holds NaN or infinite values"
            if expect_subject and not np.any(values < NO_HIT_DEPTH * 0.5):
                return "blank frame: no pixel of the depth map hits the subject"
        if rgb is not None:
            w, h, _ = verify_png(rgb)  # CRCs + zlib: complete and intact, without unfiltering
            if (w, h) != (width, height):
                return f"rgb is {w}x{h}, expected {width}x{height}"
            if depth is None and expect_subject:  # no depth to tell: the pixels must vary
                img = read_png(rgb)
                pixels = img.array.reshape(-1, img.channels)
                if np.all(pixels == pixels[0]):
                    return "blank frame: every RGB pixel has the same value"
    except (ImageFormatError, OSError, ValueError) as exc:
        return f"cannot decode the written frame: {exc}"
    return None


def subject_in_view(bbox_min: list[float], bbox_max: list[float], pose: orbit.Matrix4,
                    intr: orbit.Intrinsics, min_pixels: float = 2.0) -> bool:
    """Whether the subject's bounding box spans at least min_pixels both ways on screen.

    A flat subject seen edge-on (or a tiny one far away) may rightly leave a frame blank.
    """
    us, vs = [], []
    for x in (bbox_min[0], bbox_max[0]):
        for y in (bbox_min[1], bbox_max[1]):
            for z in (bbox_min[2], bbox_max[2]):
                try:
                    u, v, _ = orbit.project((x, y, z), pose, intr)
                except ValueError:  # a corner behind the camera: the camera is inside the box
                    return True
                us.append(min(max(u, 0.0), intr.w))
                vs.append(min(max(v, 0.0), intr.h))
    return max(us) - min(us) >= min_pixels and max(vs) - min(vs) >= min_pixels
