"""depth16/NNNN.png: 16-bit PNG depth in millimetres (scene unit = 1 m), 0 = no hit.

nerfstudio reads `depth_file_path` with cv2.imread(IMREAD_ANYDEPTH) and multiplies by its
dataparser's depth_unit_scale_factor (default 1e-3), and treats 0 as unknown; that is this file.
Planar depth as in the EXR (distance along the viewing axis). Depth beyond 65.535 m cannot be
stored: such pixels become 0 and the writer reports them rather than clipping silently.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..files.imageio import read_depth_exr
from .cameras import Cameras, depth16_rel, rendered_views
from .png16 import np, write_gray16

MM_PER_UNIT = 1000.0
MAX_MM = 65535
NO_HIT_BELOW = 1e9  # the EXR's no-hit value is 1e10; no real depth is near it


def _to_mm(values: object, width: int, height: int) -> tuple[object, int]:
    """Millimetre uint16 values and how many hit pixels were too far to store."""
    if np is not None:
        d = np.asarray(values, dtype=np.float64)
        hit = np.isfinite(d) & (d > 0) & (d < NO_HIT_BELOW)
        mm = np.where(hit, np.rint(d * MM_PER_UNIT), 0.0)
        too_far = hit & (mm > MAX_MM)
        mm[too_far] = 0.0
        return mm.astype(np.uint16), int(too_far.sum())
    rows, far = [], 0
    for row in values:  # type: ignore[attr-defined]
        mm = [round(d * MM_PER_UNIT) if 0 < d < NO_HIT_BELOW else 0 for d in row]
        if mm and max(mm) > MAX_MM:
            far += sum(1 for m in mm if m > MAX_MM)
            mm = [m if m <= MAX_MM else 0 for m in mm]
        rows.append(mm)
    return rows, far


def depth_exr_to_png16(exr_path: str | Path, png_path: str | Path) -> int:
    """Convert one depth EXR; returns the number of hit pixels beyond the 16-bit range."""
    exr = read_depth_exr(exr_path)
    values = exr.depth
    mm, far = _to_mm(values, exr.width, exr.height)
    write_gray16(png_path, mm, exr.width, exr.height)
    return far


def write_depth16(subject_dir: str | Path, cams: Cameras) -> list[str]:
    """depth16/NNNN.png for every depth EXR (again only when the EXR is newer); warnings."""
    out = Path(subject_dir)
    too_far: dict[int, int] = {}
    for view in rendered_views(cams):
        if not view.has_depth:
            continue
        exr, png = out / view.depth, out / depth16_rel(view.frame)
        if png.is_file() and os.stat(png).st_mtime_ns >= os.stat(exr).st_mtime_ns:
            continue
        png.parent.mkdir(exist_ok=True)
        far = depth_exr_to_png16(exr, png)
        if far:
            too_far[view.frame] = far
    return too_far_warnings(too_far)


def too_far_warnings(too_far: dict[int, int]) -> list[str]:
    """The warning for {frame: hit pixels beyond 65.535 units} (none when there are none)."""
    if not too_far:
        return []
    frames = sorted(too_far)
    return [f"depth16: {sum(too_far.values())} pixel(s) in {len(frames)} frame(s) (first: "
            f"{frames[0]}) are farther than 65.535 scene units and were written as 0 (unknown); "
            "the EXRs hold them"]
