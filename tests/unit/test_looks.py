"""Lighting, background, pass and video settings: parsed and checked without Blender."""

from __future__ import annotations

import pytest
from orbitfarm.submitter.cli import main as cli_main
from orbitfarm.submitter.model.looks import (
    background_srgb,
    hdri_file,
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
