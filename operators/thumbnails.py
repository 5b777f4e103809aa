"""Thumbnails of a finished job in the panel: RGB and colour-mapped depth of one view.

Made once per job when the jobs list first sees it finished (main thread, from the monitor):
the first subject's last rendered frame (frame N is the front view), shrunk by Blender's own
image code, written as small PNGs into the extension's user folder and shown through a
bpy.utils.previews collection. No numpy, so Blender builds without it show them too.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import bpy
import bpy.utils.previews

from . import depth_colors

WIDTH = 128  # thumbnail width in pixels; the height follows the render's aspect
_FRAME = re.compile(r"^(\d{4,})\.png$")

_previews: Any = None
_icons: dict[str, tuple[int, int]] = {}


def icons_for(job_path: str) -> tuple[int, int] | None:
    """(RGB icon id, depth icon id) of a job, once made; None before (draw code only reads)."""
    return _icons.get(job_path)


def _folder() -> Path:
    from .. import __package__ as base_package

    try:
        return Path(bpy.utils.extension_path_user(base_package, path="thumbnails", create=True))
    except ValueError:  # loaded as a plain package (development), not as an extension
        folder = Path(tempfile.gettempdir()) / "orbitfarm-thumbnails"
        folder.mkdir(exist_ok=True)
        return folder


def _last_frame(subject_dir: Path) -> int | None:
    rgb = subject_dir / "rgb"
    frames = [int(m.group(1)) for p in (rgb.iterdir() if rgb.is_dir() else [])
              if (m := _FRAME.match(p.name))]
    return max(frames) if frames else None


def _shrunk_pixels(path: Path) -> tuple[int, int, list[float]]:
    """(width, height, RGBA floats) of an image file scaled to WIDTH by Blender."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = image.size
        height = max(1, round(WIDTH * h / w))
        image.scale(WIDTH, height)
        pixels = [0.0] * (WIDTH * height * 4)
        image.pixels.foreach_get(pixels)  # type: ignore[attr-defined]
        return WIDTH, height, pixels
    finally:
        bpy.data.images.remove(image)


def _write_png(path: Path, width: int, height: int, pixels: list[float]) -> None:
    image = bpy.data.images.new(path.stem, width=width, height=height, alpha=True)
    try:
        image.pixels.foreach_set(pixels)  # type: ignore[attr-defined]
        image.filepath_raw = str(path)
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)


def make(job_path: str, subject_dirs: list[Path]) -> bool:
    """Make the job's thumbnails unless done; False when no subject has a frame yet."""
    global _previews
    if job_path in _icons:
        return True
    for subject_dir in subject_dirs:
        frame = _last_frame(subject_dir)
        if frame is not None:
            break
    else:
        return False
    key = f"{Path(job_path).name}-{subject_dir.name}-{frame:04d}"
    folder = _folder()
    w, h, rgb = _shrunk_pixels(subject_dir / "rgb" / f"{frame:04d}.png")
    _write_png(folder / f"{key}-rgb.png", w, h, rgb)
    exr = subject_dir / "depth" / f"{frame:04d}.exr"
    if exr.is_file():
        dw, dh, raw = _shrunk_pixels(exr)
        colours = depth_colors.colour_map(raw[0::4])
        depth = [c for rgb_ in colours for c in (*rgb_, 1.0)]
        _write_png(folder / f"{key}-depth.png", dw, dh, depth)
    if _previews is None:
        _previews = bpy.utils.previews.new()
    icons = []
    for kind in ("rgb", "depth"):
        path = folder / f"{key}-{kind}.png"
        if path.is_file():
            name = f"{key}-{kind}"
            preview = _previews.get(name) or _previews.load(name, str(path), "IMAGE")
            icons.append(preview.icon_id)
    _icons[job_path] = (icons[0], icons[-1])
    return True


def clear() -> None:
    """Free the previews (unregister)."""
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
    _previews = None
    _icons.clear()
