"""Lighting, background, pass and video settings: parsed and checked without Blender."""

from __future__ import annotations

import pytest
from orbitfarm.submitter.cli import main as cli_main
from orbitfarm.submitter.model.looks import (
    absolute_hdri,
    background_srgb,
    hdri_file,
    hdri_problem,
    pass_folders,
    pass_keys,
    srgb_to_linear,
)
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError


def test_background_colours():
    assert background_srgb("scene") is None and background_srgb("transparent") is None
    assert background_srgb("#336699") == (0x33, 0x66, 0x99)
    assert background_srgb("369") == (0x33, 0x66, 0x99)
    assert background_srgb("White") == (255, 255, 255)
    assert srgb_to_linear(255) == 1.0 and srgb_to_linear(0) == 0.0
    assert srgb_to_linear(188) == pytest.approx(0.5, abs=3e-3)


@pytest.mark.parametrize(("changes", "message"), [
    ({"lighting": "sunny"}, "--lighting must be one of"),
    ({"lighting": "hdri:"}, "hdri:FILE"),
    ({"light_strength": -1.0}, "--light-strength"),
    ({"background": "#12345"}, "--background must be"),
    ({"background": "chartreuse-ish"}, "--background must be"),
    ({"passes": ["depthish"]}, "--pass must be among"),
    ({"passes": ["normal"], "engine": "workbench"}, "Workbench"),
    ({"video": "avi"}, "--video must be one of"),
    ({"transparent": True, "background": "white"}, "contradict"),
])
def test_bad_looks_get_a_clear_message(changes, message):
    with pytest.raises(SettingsError, match=message):
        RenderSettings(**changes).validate()


def test_hash_keeps_old_renders_and_counts_what_changes_pixels():
    base = RenderSettings().settings_hash()
    assert base == "8d62cd2e8671ca0f"  # the defaults' hash before these settings existed
    assert RenderSettings(passes=["mask"], video="mp4").settings_hash() == base
    assert RenderSettings(lighting="uniform").settings_hash() != base
    assert RenderSettings(background="white").settings_hash() != base
    assert RenderSettings(light_strength=2.0).settings_hash() != base


def test_pass_files_and_keys():
    assert pass_folders(["albedo", "mask"]) == [("mask", ".png"), ("albedo", ".exr")]
    assert pass_keys(["mask"], 7) == {"mask_path": "mask/0007.png"}
    assert hdri_file("hdri:/x/sky.exr") == "/x/sky.exr" and hdri_file("uniform") is None


def test_cli_options_reach_the_settings(tmp_path, capsys):
    code = cli_main(["render", str(tmp_path / "none.blend"), "--out", str(tmp_path / "out"),
                     "--lighting", "sunny"])
    assert code != 0
    assert "--lighting must be one of" in capsys.readouterr().err


def test_hdri_paths_are_made_absolute_and_must_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert absolute_hdri("hdri:sky.exr") == f"hdri:{tmp_path / 'sky.exr'}"
    assert absolute_hdri("hdri:~/sky.exr") == f"hdri:{tmp_path / 'home' / 'sky.exr'}"
    assert absolute_hdri("three-point") == "three-point"
    assert hdri_problem(f"hdri:{tmp_path / 'sky.exr'}") == \
        f"--lighting hdri:{tmp_path / 'sky.exr'}: no such file"
    (tmp_path / "sky.exr").write_bytes(b"v/1\x01")
    assert hdri_problem(f"hdri:{tmp_path / 'sky.exr'}") is None
    assert hdri_problem("uniform") is None


@pytest.mark.parametrize("command", ["render", "submit"])
def test_a_missing_hdri_is_one_line_before_anything_runs(tmp_path, monkeypatch, capsys, command):
    """Every subject would fail with it on the nodes: refused at once, nothing written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.blend").write_bytes(b"BLENDER")
    code = cli_main([command, str(tmp_path / "a.blend"), "--out", str(tmp_path / "out"),
                     "--lighting", "hdri:studio.exr"])
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        f"error: --lighting hdri:{tmp_path / 'studio.exr'}: no such file"), err
    assert not (tmp_path / "out").exists()
