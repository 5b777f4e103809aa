"""Verify a frame right after it is written: decodes, right size, depth sane, not blank.

Runs on a thread while Blender renders the next frame. Nothing beyond the standard library:
Blender builds without numpy (Debian's) run the worker. The per-pixel work stays in C (array,
bytes, min, sum, count), so a 640x480 depth map costs a few milliseconds.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from ..submitter.files.imageio import ImageFormatError, read_exr, read_png, verify_png
from . import orbit
from .results import NO_HIT_DEPTH


@dataclass(frozen=True)
class FrameCheck:
    """A frame's verdict: problem None when good; subject_pixels None when it cannot be told."""

    problem: str | None
    subject_pixels: int | None = None


def _floats(values: Any) -> array:
    """A decoded EXR channel (numpy array or rows of floats) as one flat float32 array."""
    if hasattr(values, "tobytes"):  # numpy, when the reader had it
        flat = array("f")
        flat.frombytes(values.astype("<f4").tobytes())
        return flat
    return array("f", chain.from_iterable(values))


def _depth_check(depth: Path, width: int, height: int,
                 expect_subject: bool) -> FrameCheck:
    exr = read_exr(depth)
    if (exr.width, exr.height) != (width, height):
        return FrameCheck(f"depth is {exr.width}x{exr.height}, expected {width}x{height}")
    if len(exr.pixel_types) != 1 or list(exr.pixel_types.values()) != ["FLOAT"]:
        return FrameCheck(f"depth EXR channels {exr.pixel_types} are not one 32-bit float "
                          "channel")
    values = _floats(exr.channel(exr.channel_names[0]))
    if not math.isfinite(sum(values)):  # any NaN or inf makes the sum non-finite
        return FrameCheck("depth holds NaN or infinite values")
    if not values or min(values) >= NO_HIT_DEPTH * 0.5:
        if expect_subject:
            return FrameCheck("blank frame: no pixel of the depth map hits the subject", 0)
        return FrameCheck(None, 0)
    background = values.count(array("f", [NO_HIT_DEPTH])[0])
    return FrameCheck(None, len(values) - background)


def _rgb_blank(rgb: Path) -> bool:
    """Every pixel has the same value (decoded rows compared as bytes)."""
    img = read_png(rgb)
    rows = img.rows
    first = bytes(rows[0][: img.channels]) * img.width
    return all(bytes(row) == first for row in rows)


def check_frame(rgb: Path | None, depth: Path | None, width: int, height: int,
                expect_subject: bool = True) -> FrameCheck:
    """The frame's verdict and how many pixels show the subject (known when depth is written).

    expect_subject: the subject covers enough pixels that a frame without it is an error.
    """
    verdict = FrameCheck(None)
    try:
        if depth is not None:
            verdict = _depth_check(depth, width, height, expect_subject)
            if verdict.problem is not None:
                return verdict
        if rgb is not None:
            w, h, _ = verify_png(rgb)  # CRCs + zlib: complete and intact, without unfiltering
            if (w, h) != (width, height):
                return FrameCheck(f"rgb is {w}x{h}, expected {width}x{height}")
            if depth is None and expect_subject and _rgb_blank(rgb):
                return FrameCheck("blank frame: every RGB pixel has the same value")
    except (ImageFormatError, OSError, ValueError) as exc:
        return FrameCheck(f"cannot decode the written frame: {exc}")
    return verdict


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
