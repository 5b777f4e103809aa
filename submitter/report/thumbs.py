"""Thumbnail strips for the job's web page: per subject a few orbit frames, RGB over depth.

One small PNG per subject (REPORT_DIR/REPORT_THUMBS/sNNNNN.png), made once the subject has
finished and reused by every later page (remade only if its result.json changed since). Frames
are sampled nearest-neighbour from the full-size files with the pure-Python readers (no numpy
or imaging library needed), depth colour-mapped with the ramp the add-on uses. Making them can
take a while on big jobs, so callers give a time budget and the rest come on the next write.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from ..files import layout
from ..files.atomic import atomic_write_bytes
from ..files.imageio import ImageFormatError, read_depth_exr, read_png
from ..formats.png16 import encode_rgb8
from .depth_colors import colour_map

CELL_WIDTH = 96  # pixels per frame in a strip; the height follows the render's aspect
FRAMES_PER_STRIP = 3
BACKGROUND = 40  # grey that transparent RGB pixels are shown over
_FRAME = re.compile(r"^(\d{4,})\.png$")


def finished_frames(subject_dir: Path, limit: int = FRAMES_PER_STRIP) -> list[int]:
    """Up to `limit` frame numbers with an RGB PNG, spread evenly over what exists."""
    rgb = subject_dir / layout.RGB_DIR
    try:
        names = os.listdir(rgb)
    except OSError:
        return []
    frames = sorted(int(m.group(1)) for name in names if (m := _FRAME.match(name)))
    if len(frames) <= limit:
        return frames
    step = len(frames) / limit
    return [frames[int(i * step)] for i in range(limit)]


def strip_name(index: int) -> str:
    """The strip of the subject at plan position `index`, relative to the job directory."""
    return f"{layout.REPORT_DIR}/{layout.REPORT_THUMBS}/{_strip_file(index)}"


def _strip_file(index: int) -> str:
    return f"s{index:05d}.png"


def _grid(width: int, height: int, cell: int) -> tuple[list[int], list[int]]:
    """Source columns and rows a cell of `cell` pixels wide samples (nearest neighbour)."""
    cell_h = max(1, round(cell * height / width))
    xs = [min(width - 1, int((i + 0.5) * width / cell)) for i in range(cell)]
    ys = [min(height - 1, int((j + 0.5) * height / cell_h)) for j in range(cell_h)]
    return xs, ys


def _rgb_cell(path: Path, cell: int) -> list[bytes]:
    img = read_png(path)
    xs, ys = _grid(img.width, img.height, cell)
    c = img.channels
    rows = []
    for y in ys:
        src = img.rows[y]
        out = bytearray()
        for x in xs:
            px = src[x * c: x * c + c]
            if c in (1, 2):
                r = g = b = px[0]
            else:
                r, g, b = px[0], px[1], px[2]
            if c in (2, 4):  # over a grey background: a transparent film shows as grey
                a = px[-1]
                r, g, b = ((v * a + BACKGROUND * (255 - a)) // 255 for v in (r, g, b))
            out += bytes((r, g, b))
        rows.append(bytes(out))
    return rows


def _depth_cell(path: Path, cell: int) -> list[bytes]:
    exr = read_depth_exr(path)
    depth = exr.depth
    xs, ys = _grid(exr.width, exr.height, cell)
    values = [float(depth[y][x]) for y in ys for x in xs]
    colours = colour_map(values)
    flat = bytes(min(255, int(v * 255 + 0.5)) for rgb in colours for v in rgb)
    stride = len(xs) * 3
    return [flat[i: i + stride] for i in range(0, len(flat), stride)]


def _join(cells: Sequence[list[bytes]], cell: int, cell_h: int) -> list[bytes]:
    """Cells side by side; a missing cell (None) stays black."""
    return [b"".join(c[j] if c else bytes(cell * 3) for c in cells) for j in range(cell_h)]


def make_strip(subject_dir: Path, dest: Path, cell: int = CELL_WIDTH,
               frames: int = FRAMES_PER_STRIP) -> bool:
    """Write the subject's strip to dest; False when it has no readable frame yet."""
    chosen = finished_frames(subject_dir, frames)
    rgb_cells: list[list[bytes]] = []
    depth_cells: list[list[bytes] | None] = []
    for k in chosen:
        try:
            rgb_cells.append(_rgb_cell(layout.rgb_path(subject_dir, k), cell))
        except (OSError, ImageFormatError):
            continue  # a frame being replaced right now, or unreadable: the next one
        try:
            depth_cells.append(_depth_cell(layout.depth_path(subject_dir, k), cell))
        except (OSError, ImageFormatError, KeyError):
            depth_cells.append(None)  # no depth pass (or unreadable): a black cell
    if not rgb_cells:
        return False
    cell_h = len(rgb_cells[0])
    rgb_cells = [c for c in rgb_cells if len(c) == cell_h]  # one aspect per subject
    rows = _join(rgb_cells, cell, cell_h)
    if any(depth_cells):
        rows += _join([d if d and len(d) == cell_h else [] for d in depth_cells], cell, cell_h)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, encode_rgb8(rows, cell * len(rgb_cells), len(rows)))
    return True


def _made(folder: Path) -> dict[str, float]:
    """Strip file names in folder -> mtime (one scan instead of a stat per subject)."""
    try:
        return {e.name: e.stat().st_mtime for e in os.scandir(folder) if e.name.endswith(".png")}
    except OSError:
        return {}


def strips(job_path: Path, finished: Sequence[tuple[int, str]], budget: float | None) -> set[int]:
    """Plan indexes of the subjects that have a strip; makes the missing ones of `finished`
    ((index, output folder) of subjects that ended) until `budget` seconds have passed. A
    strip older than its subject's result.json (a retry re-rendered it) is made again."""
    deadline = None if budget is None else time.monotonic() + budget
    made = _made(job_path / layout.REPORT_DIR / layout.REPORT_THUMBS)
    have: set[int] = set()
    for index, out in finished:
        when = made.get(_strip_file(index))
        if when is None and deadline is not None and time.monotonic() > deadline:
            continue
        strip = job_path / strip_name(index)
        if when is not None:
            try:
                stale = os.stat(Path(out) / layout.RESULT_FILE).st_mtime > when
            except OSError:
                stale = False
            if not stale or (deadline is not None and time.monotonic() > deadline):
                have.add(index)  # fresh, or stale but shown until a later write remakes it
                continue
        if make_strip(Path(out), strip):
            have.add(index)
    return have
