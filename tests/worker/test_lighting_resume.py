"""A resumed render never mixes lightings: what `--lighting auto` resolves to is claimed.

A folder rendered before --lighting existed (no `lighting` record: lit by the scene) holds
the same settings hash as today's default run, which lights a lightless subject with a rig.
"""

from __future__ import annotations

import json

import pytest
from orbitfarm.submitter.model.settings import RenderSettings
from worker_helpers import TINY, folder_bytes, result, rgb, transforms

pytestmark = [pytest.mark.compat]


def _as_an_old_version_wrote_it(folder, drop_last: int) -> list:
    """Strip the lighting records, take the default settings' hash (lighting was not in it),
    and lose the last `drop_last` frames as an interrupted render would; returns the rgb files."""
    res, tfm = result(folder), transforms(folder)
    old_hash = RenderSettings.from_dict({**res["settings"], "lighting": "auto"}).settings_hash()
    res.pop("lighting")
    res["settings"].pop("lighting")
    tfm.pop("lighting")
    res["settings_hash"] = tfm["settings_hash"] = old_hash
    pngs = sorted((folder / "rgb").glob("*.png"))
    for png in pngs[len(pngs) - drop_last:]:
        png.unlink()
        (folder / "depth" / png.name).with_suffix(".exr").unlink()
        res["frames"].pop(png.stem, None)
    (folder / "result.json").write_text(json.dumps(res, indent=2))
    (folder / "transforms.json").write_text(json.dumps(tfm, indent=2))
    return pngs


def _red(folder, png) -> float:
    """The brightest red of a frame: the diffuse cube's, when anything lights it."""
    return float(rgb(folder, int(png.stem))[..., 0].max())


def test_an_old_unlit_folder_is_refused_then_forced(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "dark.blend", "cube",
                                 material="diffuse", lit=False)
    out = tmp_path / "out"
    folder = out / "dark"
    code, log = render([info["path"]], out, "--frames", "4", "--lighting", "scene", *TINY)
    assert code == 0, log
    pngs = _as_an_old_version_wrote_it(folder, drop_last=2)
    assert all(_red(folder, p) < 10 for p in pngs[:2])  # lit by nothing: dark
    before = folder_bytes(folder)

    code, log = render([info["path"]], out, "--frames", "4", *TINY)
    assert code != 0, log
    assert "4 frame file(s) lit with 'scene' lighting" in log and "'three-point'" in log
    assert folder_bytes(folder) == before  # result.json, transforms.json, frames: untouched

    code, log = render([info["path"]], out, "--frames", "4", "--force", *TINY)
    assert code == 0 and "4 of 4 frames to render" in log, log
    res = result(folder)
    assert res["status"] == "rendered" and res["lighting"]["mode"] == "three-point"
    assert transforms(folder)["lighting"]["mode"] == "three-point"
    assert all(_red(folder, p) > 60 for p in pngs)  # every frame now lit by the rig

    # Same resolved lighting (recorded now): a rerun resumes the missing frame only.
    pngs[-1].unlink()
    code, log = render([info["path"]], out, "--frames", "4", *TINY)
    assert code == 0 and "1 of 4 frames to render" in log, log
    assert result(folder)["status"] == "rendered" and _red(folder, pngs[-1]) > 60


def test_an_old_folder_of_a_lit_subject_still_resumes(tmp_path, bpy_python, subjects, render):
    # The default test cube brings its own world: `auto` keeps it, as the old version did.
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    out = tmp_path / "out"
    code, log = render([info["path"]], out, "--frames", "4", "--lighting", "scene", *TINY)
    assert code == 0, log
    _as_an_old_version_wrote_it(out / "cube", drop_last=1)
    code, log = render([info["path"]], out, "--frames", "4", *TINY)
    assert code == 0 and "1 of 4 frames to render" in log, log
    res = result(out / "cube")
    assert res["status"] == "rendered" and res["lighting"]["mode"] == "scene"
