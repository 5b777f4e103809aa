"""Lighting, background and passes against the known geometry and colour of a cube.

One render of a red diffuse cube (2 m, linear colour (0.8, 0, 0)) gives every pass; the cube's
faces are axis-aligned, so each hit pixel's world normal is one of the six axes and its camera
normal is the world normal turned by the pose in transforms.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from orbitfarm.submitter.files.imageio import read_exr, read_png
from worker_helpers import depth, result, rgb, transforms

pytestmark = [pytest.mark.render, pytest.mark.compat]
FRAMES = 4  # at 30 degrees elevation: azimuths 90, 180, 270, 360 (= front)


def _exr3(path: Path, names: str) -> np.ndarray:
    exr = read_exr(path)
    assert sorted(exr.channel_names) == sorted(names), exr.channel_names
    return np.stack([np.asarray(exr.channel(c), dtype=np.float64) for c in names], axis=-1)


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask and its 8 neighbours (partly covered edge pixels can miss in the depth pass)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)


@pytest.fixture(scope="module")
def cube_passes(tmp_path_factory, bpy_python, subjects):
    from orbitfarm.submitter import cli

    root = tmp_path_factory.mktemp("passes")
    info = subjects.make_subject(bpy_python, root / "cube.blend", "cube", material="diffuse")
    code = cli.main(["render", info["path"], "--out", str(root / "out"), "--frames", str(FRAMES),
                     "--elevation", "30", "--resolution", "64x48", "--samples", "4",
                     "--pass", "mask", "--pass", "normal", "--pass", "albedo",
                     "--lighting", "three-point", "--background", "#336699"])
    assert code == 0
    return root / "out" / "cube"


def test_passes_are_named_and_listed(cube_passes):
    t = transforms(cube_passes)
    assert t["camera_model"] == "OPENCV"
    frame = next(f for f in t["frames"] if f["frame"] == 1)
    assert frame["mask_path"] == "mask/0001.png"  # nerfstudio's key
    assert frame["normal_world_path"] == "normal_world/0001.exr"
    assert frame["normal_camera_path"] == "normal_camera/0001.exr"
    assert frame["albedo_path"] == "albedo/0001.exr"
    assert set(t["passes"]) == {"mask", "normal_world", "normal_camera", "albedo"}
    res = result(cube_passes)
    assert res["status"] == "rendered" and set(res["passes"]) == set(t["passes"])
    for k in range(1, FRAMES + 1):
        for rel in ("mask/{:04d}.png", "normal_world/{:04d}.exr", "normal_camera/{:04d}.exr",
                    "albedo/{:04d}.exr"):
            assert (cube_passes / rel.format(k)).is_file()


def test_mask_is_the_depth_hits(cube_passes):
    for k in range(1, FRAMES + 1):
        mask = read_png(cube_passes / "mask" / f"{k:04d}.png").array[..., 0]
        hits = np.asarray(depth(cube_passes, k)) < 1e10
        assert set(np.unique(mask)) <= {0, 255}
        assert hits.any() and (~hits).any()
        assert np.array_equal(mask == 255, hits), k


def test_normals_world_and_camera(cube_passes):
    t = transforms(cube_passes)
    axes = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    for k in range(1, FRAMES + 1):
        world = _exr3(cube_passes / "normal_world" / f"{k:04d}.exr", "XYZ")
        camera = _exr3(cube_passes / "normal_camera" / f"{k:04d}.exr", "XYZ")
        hits = np.asarray(depth(cube_passes, k)) < 1e10
        # Pixels inside a face (all 8 neighbours on the same face) hold that face's axis.
        inner = hits.copy()
        inner[1:-1, 1:-1] &= hits[:-2, 1:-1] & hits[2:, 1:-1] & hits[1:-1, :-2] & hits[1:-1, 2:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
        best = np.abs(world[inner] @ axes.T).max(axis=1)
        assert (best > 0.99).mean() > 0.9, k  # edges average two faces' normals
        far = ~_grow(hits)
        assert np.all(world[far] == 0) and np.all(camera[far] == 0)
        pose = np.array(next(f["transform_matrix"] for f in t["frames"] if f["frame"] == k))
        expected = world[hits] @ pose[:3, :3]  # camera = R^T world, row by row
        assert np.abs(camera[hits] - expected).max() < 5e-3, k
    # The front view (frame 4) looks toward +Y from 30 degrees up: the top face (+Z) fills the
    # image's upper middle; in camera axes it leans toward +Y (up) and +Z (the viewer).
    world = _exr3(cube_passes / "normal_world" / f"{FRAMES:04d}.exr", "XYZ")
    camera = _exr3(cube_passes / "normal_camera" / f"{FRAMES:04d}.exr", "XYZ")
    top = np.all(np.abs(world - [0, 0, 1]) < 1e-2, axis=-1)
    front = np.all(np.abs(world - [0, -1, 0]) < 1e-2, axis=-1)
    assert top.sum() > 20 and front.sum() > 20
    assert np.abs(camera[top] - [0, np.cos(np.pi / 6), np.sin(np.pi / 6)]).max() < 1e-2
    assert np.abs(camera[front] - [0, -np.sin(np.pi / 6), np.cos(np.pi / 6)]).max() < 1e-2


def test_albedo_is_the_base_colour(cube_passes):
    for k in (1, FRAMES):
        albedo = _exr3(cube_passes / "albedo" / f"{k:04d}.exr", "RGB")
        mask = read_png(cube_passes / "mask" / f"{k:04d}.png").array[..., 0] == 255
        inner = mask.copy()
        inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
        assert np.abs(albedo[inner] - [0.8, 0.0, 0.0]).max() < 2e-3
        assert np.all(albedo[~_grow(mask)] == 0)


def test_background_colour_and_rig_recorded(cube_passes):
    img = rgb(cube_passes, FRAMES)
    assert img.shape == (48, 64, 3)  # RGB, no alpha: the colour is composited in
    assert tuple(int(c) for c in img[0, 0]) == pytest.approx((0x33, 0x66, 0x99), abs=1)
    res = result(cube_passes)
    light = res["lighting"]
    assert light["mode"] == "three-point" and light["requested"] == "three-point"
    assert light["scene_lights_hidden"] == 1  # the subject's own sun
    assert [r["light"] for r in light["rig"]] == ["key", "fill", "rim"]
    assert res["background"] == "#336699"
    mask = read_png(cube_passes / "mask" / f"{FRAMES:04d}.png").array[..., 0] == 255
    assert img[mask][:, 0].mean() > 60  # lit by the rig (the red channel)


def test_uniform_light_gives_the_albedo(tmp_path, bpy_python, subjects, render):
    """A convex diffuse subject under a uniform white world of strength 1 shows its albedo."""
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube", material="diffuse",
                                 color=(0.5, 0.5, 0.5))
    code, log = render([info["path"]], tmp_path / "out", "--frames", "1", "--elevation", "30",
                       "--resolution", "48x36", "--samples", "32", "--lighting", "uniform",
                       "--background", "transparent")
    assert code == 0, log
    out = tmp_path / "out" / "cube"
    img = read_png(out / "rgb" / "0001.png").array
    assert img.shape[2] == 4 and img[0, 0, 3] == 0  # transparent background
    inside = img[..., 3] == 255
    # linear 0.5 -> sRGB 188
    assert np.median(img[inside][:, :3], axis=0) == pytest.approx([188, 188, 188], abs=4)
    assert result(out)["lighting"]["mode"] == "uniform"
