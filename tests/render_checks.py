"""Checks that a tiny orbit render of tests/subjects.py's cube is right: its colour fills the
centre pixel and, where the camera looks straight at a face, the depth there is the orbit
radius minus half the edge. Shared by the target tests that render for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orbitfarm.submitter.files.imageio import read_exr, read_png

CUBE_SIZE = 2.0


def check_cube(out: Path, color: tuple[float, float, float], frames: list[int],
               centre: tuple[int, int] = (24, 18)) -> None:
    """The cube's colour at the centre of each frame and its depth where a face is square on."""
    channel = max(range(3), key=lambda c: color[c])
    poses = json.loads((out / "transforms.json").read_text())
    for frame in frames:
        pixel = read_png(out / "rgb" / f"{frame:04d}.png").pixel(*centre)
        assert pixel[channel] > 200 and sum(pixel) - pixel[channel] < 20, (frame, pixel)
        depth = read_exr(out / "depth" / f"{frame:04d}.exr")
        name = depth.channel_names[0]
        if (360 * frame / len(poses["frames"])) % 90 == 0:
            assert depth.value(name, *centre) == pytest.approx(
                poses["radius"] - CUBE_SIZE / 2, abs=0.02)
