"""Contact sheet of a job's finished frames: per subject a row of RGB and a row of depth.

Frames are read with Blender's image loader (fast, main thread); depth is colour-mapped between
the nearest and farthest hit (no-hit pixels, depth 1e10, stay black).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import numpy as np

from ..submitter.files import layout
from ..submitter.report.depth_colors import NO_HIT, RAMP
from ..submitter.report.thumbs import finished_frames

CELL_WIDTH = 160
MAX_FRAMES = 8
MAX_SUBJECTS = 8
GAP = 4

_RAMP = np.array(RAMP, dtype=np.float32)


def colormap_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (H, W) -> RGB (H, W, 3); near is warm, far is cool, no hit is black."""
    hit = depth < NO_HIT
    out = np.zeros((*depth.shape, 3), dtype=np.float32)
    if not hit.any():
        return out
    near, far = float(depth[hit].min()), float(depth[hit].max())
    t = np.zeros_like(depth, dtype=np.float32)
    if far > near:
        t[hit] = 1.0 - (depth[hit] - near) / (far - near)
    else:
        t[hit] = 1.0
    pos = t * (len(_RAMP) - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, len(_RAMP) - 2)
    frac = (pos - lo)[..., None]
    out[:] = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    out[~hit] = 0.0
    return out


def resize_nearest(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W, C) array (enough for thumbnails)."""
    h, w = pixels.shape[:2]
    ys = (np.arange(height) * h / height).astype(int)
    xs = (np.arange(width) * w / width).astype(int)
    return pixels[ys][:, xs]


def load_pixels(path: Path) -> np.ndarray:
    """(H, W, 4) float pixels of an image file, bottom row first (Blender's order)."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = image.size
        data = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(data)  # type: ignore[attr-defined]
        return data.reshape(h, w, 4)
    finally:
        bpy.data.images.remove(image)


def build_sheet(subject_dirs: list[Path]) -> np.ndarray | None:
    """(H, W, 4) sheet: for each subject an RGB row above a depth row; None if nothing yet."""
    rows: list[list[np.ndarray]] = []
    cell_h = None
    for subject in subject_dirs[:MAX_SUBJECTS]:
        frames = finished_frames(subject, MAX_FRAMES)
        if not frames:
            continue
        rgb_row, depth_row = [], []
        for frame in frames:
            rgb = load_pixels(layout.rgb_path(subject, frame))
            if cell_h is None:
                cell_h = max(1, round(CELL_WIDTH * rgb.shape[0] / rgb.shape[1]))
            rgb_row.append(resize_nearest(rgb, CELL_WIDTH, cell_h))
            exr = layout.depth_path(subject, frame)
            if exr.is_file():
                depth = load_pixels(exr)[..., 0]
                color = np.concatenate([colormap_depth(depth), np.ones((*depth.shape, 1),
                                                                      dtype=np.float32)], axis=2)
                depth_row.append(resize_nearest(color, CELL_WIDTH, cell_h))
        rows.append(rgb_row)
        if depth_row:
            rows.append(depth_row)
    if not rows or cell_h is None:
        return None
    columns = max(len(r) for r in rows)
    width = columns * CELL_WIDTH + (columns + 1) * GAP
    height = len(rows) * cell_h + (len(rows) + 1) * GAP
    sheet = np.zeros((height, width, 4), dtype=np.float32)
    sheet[..., 3] = 1.0
    # Row 0 is drawn at the top: Blender's pixel rows start at the bottom.
    for r, row in enumerate(rows):
        y0 = height - (r + 1) * (cell_h + GAP)
        for c, cell in enumerate(row):
            x0 = GAP + c * (CELL_WIDTH + GAP)
            sheet[y0:y0 + cell_h, x0:x0 + CELL_WIDTH] = cell
    return sheet


def sheet_image(name: str, sheet: np.ndarray) -> Any:
    """Create or replace the Blender image `name` holding the sheet."""
    old = bpy.data.images.get(name)
    if old is not None:
        bpy.data.images.remove(old)
    h, w = sheet.shape[:2]
    image = bpy.data.images.new(name, width=w, height=h, alpha=True)
    image.pixels.foreach_set(sheet.ravel())  # type: ignore[attr-defined]
    image.pack()  # survives a reload of the image editor without a file on disk
    return image


def show_image(context: bpy.types.Context, image: Any) -> bool:
    """Show the image in an open Image Editor; False when there is none (background mode)."""
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else []):
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return True
    return False
