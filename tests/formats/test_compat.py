"""On every supported Blender: the depth EXR's channel is "Y" and the formats are written."""

from __future__ import annotations

import json
import sys

import pytest
from orbitfarm.submitter import cli
from orbitfarm.submitter.files.imageio import read_depth_exr

pytestmark = [pytest.mark.render, pytest.mark.compat]


def test_depth_channel_is_y_and_formats_are_written(tmp_path):
    import subjects

    info = subjects.make_subject(sys.executable, tmp_path / "cube.blend", "cube")
    assert cli.main(["render", info["path"], "--out", str(tmp_path / "out"), "--frames", "2",
                     "--resolution", "48x36", "--samples", "1", "--format", "colmap"]) == 0
    out = tmp_path / "out" / "cube"
    for k in (1, 2):
        exr = read_depth_exr(out / "depth" / f"{k:04d}.exr")
        assert exr.channel_names == ["Y"]  # Blender writes "V"; the worker renames it
        assert (exr.depth < 1e9).any()
        assert (out / "depth16" / f"{k:04d}.png").read_bytes()[1:4] == b"PNG"
    meta = json.loads((out / "transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV"
    assert meta["frames"][0]["depth_file_path"] == "depth16/0001.png"
    assert (out / "colmap" / "sparse" / "0" / "images.txt").is_file()
