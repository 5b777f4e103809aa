"""--lighting hdri:FILE on the running Blender: a constant environment image of known radiance
shows behind the subject as itself and lights a diffuse subject to albedo x radiance."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from orbitfarm.submitter.files.imageio import read_depth_exr, read_png
from worker_helpers import result

pytestmark = [pytest.mark.render, pytest.mark.compat]

SKY = (0.1, 0.2, 0.3)  # linear radiance of every pixel of the environment image
STRENGTH = 2.0
ALBEDO = 0.5

def _write_sky(path: Path, width: int = 64, height: int = 32) -> None:
    """A Radiance .hdr (the usual HDRI format) of constant radiance SKY, written here byte by
    byte (flat RGBE scanlines), so no colour transform of any tool can change what it holds."""
    m, e = math.frexp(max(SKY))
    scale = m * 256.0 / max(SKY)
    pixel = bytes([*(int(c * scale) for c in SKY), e + 128])
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()
    path.write_bytes(header + pixel * (width * height))


def _srgb(linear: float) -> float:
    """Linear -> sRGB byte value (the PNG under the Standard view transform)."""
    v = 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055
    return 255 * v


def test_an_hdri_lights_the_subject_and_shows_behind_it(tmp_path, bpy_python, subjects, render):
    sky = tmp_path / "maps" / "sky.hdr"
    sky.parent.mkdir()
    _write_sky(sky)
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube", material="diffuse",
                                 color=(ALBEDO,) * 3)
    code, log = render([info["path"]], tmp_path / "out", "--frames", "1", "--elevation", "30",
                       "--resolution", "48x36", "--samples", "32", "--lighting", f"hdri:{sky}",
                       "--light-strength", str(STRENGTH), "--background", "scene")
    assert code == 0, log
    out = tmp_path / "out" / "cube"
    img = read_png(out / "rgb" / "0001.png").array[..., :3].astype(float)
    depth_hit = np.asarray(read_depth_exr(out / "depth" / "0001.exr").depth) < 1e9
    # Behind the cube: the environment itself, radiance x strength.
    behind = [_srgb(c * STRENGTH) for c in SKY]
    assert np.median(img[~depth_hit], axis=0) == pytest.approx(behind, abs=2)
    # A convex diffuse subject under a constant environment L shows albedo x L (as `uniform`).
    lit = [_srgb(ALBEDO * c * STRENGTH) for c in SKY]
    inner = depth_hit.copy()
    inner[1:-1, 1:-1] &= (depth_hit[:-2, 1:-1] & depth_hit[2:, 1:-1] & depth_hit[1:-1, :-2]
                          & depth_hit[1:-1, 2:])
    assert np.median(img[inner], axis=0) == pytest.approx(lit, abs=5)
    light = result(out)["lighting"]
    assert light["mode"] == "hdri" and light["hdri"] == str(sky)
    assert light["strength"] == STRENGTH


def test_a_relative_hdri_reaches_the_worker_absolute(tmp_path, bpy_python, subjects, render,
                                                     monkeypatch):
    """Given relative to where `render` runs; the worker runs elsewhere and still finds it."""
    (tmp_path / "maps").mkdir()
    _write_sky(tmp_path / "maps" / "sky.hdr")
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube", material="diffuse")
    monkeypatch.chdir(tmp_path / "maps")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "1", "--resolution",
                       "32x24", "--samples", "1", "--lighting", "hdri:sky.hdr")
    assert code == 0, log
    assert result(tmp_path / "out" / "cube")["lighting"]["hdri"] == str(tmp_path / "maps" /
                                                                       "sky.hdr")
