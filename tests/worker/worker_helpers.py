"""Shared helpers of the worker tests: read a subject's outputs (import after conftest ran)."""

from __future__ import annotations

import json
from pathlib import Path

from orbitfarm.submitter.files.imageio import read_exr, read_png

TINY = ["--resolution", "48x36", "--samples", "2"]


def result(out_dir) -> dict:
    return json.loads((Path(out_dir) / "result.json").read_text())


def transforms(out_dir) -> dict:
    return json.loads((Path(out_dir) / "transforms.json").read_text())


def depth(out_dir, frame: int):
    exr = read_exr(Path(out_dir) / "depth" / f"{frame:04d}.exr")
    assert list(exr.pixel_types.values()) == ["FLOAT"], exr.pixel_types  # one 32-bit channel
    return exr.channel(exr.channel_names[0])


def rgb(out_dir, frame: int):
    return read_png(Path(out_dir) / "rgb" / f"{frame:04d}.png").array


def folder_bytes(folder) -> dict:
    """Every file of a folder and its bytes: to assert that a refused run changed nothing."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
