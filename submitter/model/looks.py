"""Lighting, background, passes and turntable video: the names the user gives, parsed. No bpy.

RenderSettings keeps the user's words (`lighting`, `background`, `passes`, `video`); the worker
(worker/lighting.py, worker/passes.py, worker/video.py) asks this module what they mean, so the
CLI, the job spec and the panel validate them the same way.
"""

from __future__ import annotations

import os
import re

LIGHTING_MODES = ("auto", "scene", "uniform", "three-point")  # and "hdri:FILE"
HDRI_PREFIX = "hdri:"
# Extra passes from the same render (worker/passes.py); alpha needs none (--background transparent).
PASSES = ("mask", "normal", "albedo")
VIDEO_FORMATS = ("mp4", "gif")

# Named background colours (CSS's basic names), as sRGB bytes.
COLOUR_NAMES = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128),
    "gray": (128, 128, 128), "silver": (192, 192, 192), "red": (255, 0, 0),
    "green": (0, 128, 0), "lime": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "navy": (0, 0, 128),
    "maroon": (128, 0, 0), "olive": (128, 128, 0), "purple": (128, 0, 128),
    "teal": (0, 128, 128),
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


class LookError(ValueError):
    """A lighting, background, pass or video name that means nothing; the message says why."""


def lighting_error(text: str) -> str | None:
    """Why `text` is not a --lighting value (None when it is one)."""
    if text in LIGHTING_MODES:
        return None
    if text.startswith(HDRI_PREFIX) and text[len(HDRI_PREFIX):].strip():
        return None
    return (f"--lighting must be one of {', '.join(LIGHTING_MODES)} or hdri:FILE, "
            f"got {text!r}")


def hdri_file(lighting: str) -> str | None:
    """The image file of an `hdri:FILE` lighting, else None."""
    return lighting[len(HDRI_PREFIX):] if lighting.startswith(HDRI_PREFIX) else None


def absolute_hdri(lighting: str) -> str:
    """`hdri:FILE` with FILE made absolute (~ expanded, against the current folder): the worker
    runs in another folder, often on another machine. Other lightings as they are."""
    path = hdri_file(lighting)
    if path is None:
        return lighting
    return HDRI_PREFIX + os.path.abspath(os.path.expanduser(path))


def hdri_problem(lighting: str) -> str | None:
    """Why an `hdri:FILE` lighting cannot be used here (its file is missing), else None."""
    path = hdri_file(lighting)
    if path is not None and not os.path.isfile(path):
        return f"--lighting hdri:{path}: no such file"
    return None


def background_srgb(background: str) -> tuple[int, int, int] | None:
    """The sRGB bytes of a colour background; None for "scene" and "transparent".

    Raises LookError for anything else that is not a hex colour or a known name.
    """
    if background in ("scene", "transparent"):
        return None
    named = COLOUR_NAMES.get(background.strip().lower())
    if named is not None:
        return named
    match = _HEX.match(background.strip())
    if not match:
        raise LookError(
            f"--background must be scene, transparent, a hex colour (#336699) or one of "
            f"{', '.join(sorted(COLOUR_NAMES))}; got {background!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return r, g, b


def srgb_to_linear(byte: int) -> float:
    """An sRGB byte as the linear value Blender composites (Standard view gives it back)."""
    c = byte / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def looks_error(lighting: str, light_strength: float, background: str, passes: list[str],
                video: str | None, engine: str) -> str | None:
    """Why these lighting/background/pass/video settings cannot be rendered (None if they can)."""
    if not isinstance(lighting, str) or lighting_error(lighting):
        return lighting_error(str(lighting))
    if isinstance(light_strength, bool) or not isinstance(light_strength, int | float) \
            or not light_strength >= 0:
        return f"--light-strength must be a number >= 0, got {light_strength!r}"
    try:
        background_srgb(str(background))
    except LookError as exc:
        return str(exc)
    if not isinstance(passes, list) or not all(p in PASSES for p in passes):
        return f"--pass must be among {', '.join(PASSES)}, got {passes!r}"
    if passes and engine == "workbench":
        return "--pass needs --engine cycles or eevee (Workbench renders no normal/colour passes)"
    if video is not None and video not in VIDEO_FORMATS:
        return f"--video must be one of {', '.join(VIDEO_FORMATS)}, got {video!r}"
    return None


# What each pass writes per frame: (folder under the subject, file extension). The README's
# "Passes" table gives each file's channels, axes, units and no-hit value.
PASS_OUTPUTS = {
    "mask": (("mask", ".png"),),
    "normal": (("normal_world", ".exr"), ("normal_camera", ".exr")),
    "albedo": (("albedo", ".exr"),),
}


def pass_folders(passes: list[str]) -> list[tuple[str, str]]:
    """(folder, extension) of every per-frame file the asked-for passes write, in order."""
    return [out for p in PASSES if p in passes for out in PASS_OUTPUTS[p]]


# Each pass folder's conventions, as recorded in transforms.json and result.json ("passes").
PASS_CONVENTIONS = {
    "mask": "8-bit grey PNG: 255 where the subject is hit (depth < 1e10), 0 elsewhere; "
            "nerfstudio's mask_path",
    "normal_world": "float EXR, channels X Y Z = the unit shading normal in world axes "
                    "(Blender's, +Z up; the centred frame has the same axes); no hit (0, 0, 0)",
    "normal_camera": "float EXR, channels X Y Z = the same normal in camera axes "
                     "(OpenGL/Blender: +X right, +Y up, +Z toward the viewer); no hit (0, 0, 0)",
    "albedo": "half-float EXR, channels R G B = linear diffuse colour (Blender's Diffuse Color "
              "pass, no lighting); no hit (0, 0, 0)",
}
# The per-frame key of each pass folder in transforms.json (mask_path is nerfstudio's).
PASS_KEYS = {"mask": "mask_path", "normal_world": "normal_world_path",
             "normal_camera": "normal_camera_path", "albedo": "albedo_path"}


def pass_keys(passes: list[str], frame: int) -> dict[str, str]:
    """transforms.json's per-frame pass paths for orbit frame `frame`."""
    return {PASS_KEYS[folder]: f"{folder}/{frame:04d}{ext}" for folder, ext in pass_folders(passes)}


def pass_conventions(passes: list[str]) -> dict[str, str]:
    """Pass folder -> its conventions, for the asked-for passes."""
    return {folder: PASS_CONVENTIONS[folder] for folder, _ in pass_folders(passes)}
