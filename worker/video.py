"""`--video mp4|gif`: a turntable movie of a subject's rgb/ frames, encoded by Blender or Pillow.

mp4: Blender's own FFmpeg output (H.264 in an MPEG-4 container) renders an image strip of the
PNGs in a scene of its own, through the sequencer, so no frame is rendered again. Blender's
FFmpeg has no GIF writer, so gif uses Pillow where this Python has it (`pip install pillow`
into Blender's Python); without it the subject gets a warning, never a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import bpy

from . import compat

FPS = 30
VIDEO_STEM = "turntable"


def video_name(kind: str) -> str:
    return f"{VIDEO_STEM}.{kind}"


def write_video(out: str | Path, kind: str, frames: list[Path]) -> list[str]:
    """Write OUT/turntable.<kind> from `frames` (in orbit order); return warnings."""
    if not frames:
        return [f"--video {kind}: no RGB frames to make a movie of"]
    target = Path(out) / video_name(kind)
    if kind == "gif":
        return _gif(frames, target)
    return _mp4(frames, target)


def _gif(frames: list[Path], target: Path) -> list[str]:
    try:
        from PIL import Image  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return ["--video gif needs Pillow in the worker's Python (pip install pillow); "
                "no movie written"]
    images = [Image.open(p).convert("RGB") for p in frames]
    tmp = target.with_name(f"{target.name}.{os.getpid()}.part")
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / FPS), loop=0)
    os.replace(tmp, target)
    return []


def _mp4(frames: list[Path], target: Path) -> list[str]:
    if not bpy.app.ffmpeg.supported:
        return ["--video mp4: this Blender is built without FFmpeg; no movie written"]
    first = bpy.data.images.load(str(frames[0]))
    width, height = first.size
    bpy.data.images.remove(first)
    scene: Any = bpy.data.scenes.new("orbitfarm_video")
    try:
        editor = scene.sequence_editor_create()
        strip = compat.new_image_strip(editor, str(frames[0]))
        for path in frames[1:]:
            strip.elements.append(path.name)
        r = scene.render
        # H.264 wants even sizes; the frames are scaled by at most one pixel.
        r.resolution_x, r.resolution_y = width + width % 2, height + height % 2
        r.resolution_percentage = 100
        r.fps, r.fps_base = FPS, 1.0
        scene.frame_start, scene.frame_end = 1, len(frames)
        r.use_sequencer = True
        r.use_compositing = False
        scene.view_settings.view_transform = "Standard"  # the PNGs' colours, unchanged
        scene.view_settings.look = "None"
        compat.set_ffmpeg_output(scene)
        ff = r.ffmpeg
        ff.format, ff.codec = "MPEG4", "H264"
        ff.constant_rate_factor = "HIGH"
        ff.audio_codec = "NONE"
        work = target.with_name(f".{VIDEO_STEM}-tmp-{os.getpid()}")  # chunks may finish together
        work.mkdir(exist_ok=True)
        r.filepath = str(work / VIDEO_STEM)  # Blender adds the frame range and .mp4
        try:
            bpy.ops.render.render(animation=True, scene=scene.name)
        except RuntimeError as exc:  # the frames are fine; only the movie is missing
            return [f"--video mp4: Blender could not write the movie: {' '.join(str(exc).split())}"]
        written = sorted(work.glob(VIDEO_STEM + "*"))
        if not written:
            return ["--video mp4: Blender wrote no movie file"]
        os.replace(written[0], target)
        return []
    finally:
        bpy.data.scenes.remove(scene)
        shutil.rmtree(target.with_name(f".{VIDEO_STEM}-tmp-{os.getpid()}"), ignore_errors=True)


def describe(kind: str, count: int) -> dict[str, Any]:
    """result.json's `video` entry."""
    return {"file": video_name(kind), "frames": count, "fps": FPS}
