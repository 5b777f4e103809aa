"""The built zip installs, enables, disables and re-enables cleanly on every supported Blender.

`make test` runs the compat-marked test on bpy 4.2 LTS, 4.5 LTS, 5.0 (Python 3.11) and 5.3
(Python 3.13); tests/realblender/ installs the same zip into a real Blender executable.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from in_blender import MODULE, bpy, disable, enable, ext, install, registered_names


@pytest.mark.compat
def test_zip_installs_and_registers_twice(scenario):
    result = scenario(install_cycle, process_timeout=180)
    assert result["classes"] > 20
    assert result["python"] == "{}.{}".format(*sys.version_info[:2])  # the bpy of this venv


PLATFORMS = ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "macosx_11_0_arm64",
             "macosx_10_13_x86_64", "win_amd64")


def test_zip_bundles_pyyaml_for_every_python_and_platform(built_zip):
    """Blender 4.2-5.0 embed CPython 3.11 and 5.1+ 3.13; each needs its own binary wheel."""
    names = [n for n in zipfile.ZipFile(built_zip).namelist() if n.startswith("wheels/pyyaml-")]
    for python in ("cp311", "cp313"):
        for platform in PLATFORMS:
            assert any(f"-{python}-{python}-" in n and platform in n for n in names), (
                python, platform, names)


# Blender side (runs in a fresh bpy process, see in_blender.py)

def install_cycle(args: dict[str, Any]) -> dict[str, Any]:
    """Install from the zip, enable, disable, enable again (twice); nothing leaks."""
    module = install(args["zip"])
    first = registered_names()
    assert {"ORBITFARM_OT_submit", "ORBITFARM_PT_orbit", "ORBITFARM_PT_orbit_view3d",
            "ORBITFARM_UL_batch_files", "ORBITFARM_UL_jobs"} <= first, sorted(first)
    assert bpy.ops.orbitfarm.submit.get_rna_type() is not None
    prefs = bpy.context.preferences.addons[MODULE].preferences
    assert prefs is not None and type(prefs).bl_idname == MODULE, type(prefs).bl_idname
    assert hasattr(prefs, "output_root") and hasattr(prefs, "blender_executable")

    # Bundled wheels were installed into the extensions' site-packages and are importable there.
    site = Path(bpy.utils.user_resource("EXTENSIONS")) / ".local" / "lib"
    site_packages = next(site.glob("python3*/site-packages"))
    assert (site_packages / "yaml" / "__init__.py").is_file(), list(site_packages.iterdir())
    assert (site_packages / "blender_asset_tracer" / "__init__.py").is_file()
    import blender_asset_tracer
    import yaml

    assert yaml.safe_load("a: 1") == {"a": 1}
    assert blender_asset_tracer.__file__
    # The binary wheel for *this* Python and platform was picked (its C loader imports), and
    # only one PyYAML was installed although the zip carries one per Python and platform.
    assert yaml.__with_libyaml__, "PyYAML's C extension does not load: wrong wheel installed"
    assert len(list(site_packages.glob("[Pp]y[Yy][Aa][Mm][Ll]-*.dist-info"))) == 1

    # Defaults: scene properties -> RenderSettings equal the CLI's defaults exactly.
    bridge = ext("operators.bridge")
    spec = ext("submitter.model.settings")
    from_props = bridge.settings_from_props(bpy.context.scene.orbitfarm)
    assert from_props.to_dict() == spec.RenderSettings().to_dict(), from_props
    # Every field survives scene properties both ways (non-default values).
    custom = spec.RenderSettings(frames=24, frame_range="1-10x3,20", width=320, height=200,
                                 radius=7.25, elevation=-12.5, engine="eevee", samples=8,
                                 device="cpu", rgb=False, depth=True, poses=False,
                                 transparent=True, margin=1.3, formats=["colmap", "opencv"],
                                 holdout=4).validate()
    looks = spec.RenderSettings(lighting="hdri:/data/studio.exr", light_strength=2.5,
                                background="#336699", passes=["mask", "albedo"],
                                video="mp4").validate()
    props = bpy.context.scene.orbitfarm
    for settings in (custom, looks):
        bridge.props_from_settings(props, settings)
        assert bridge.settings_from_props(props).to_dict() == settings.to_dict()
    # Blender's file browser gives a "//" path (relative to the .blend): the worker, in another
    # folder or on another machine, gets it absolute.
    props.hdri_path = "//maps/studio.exr"
    hdri = bridge.settings_from_props(props).lighting
    assert hdri == "hdri:" + os.path.abspath(bpy.path.abspath("//maps/studio.exr")), hdri
    assert os.path.isabs(hdri[len("hdri:"):]) and "//" not in hdri
    for views in (dict(layout="random", seed=9, hemisphere=True, radius_range=[1.0, 1.75],
                       fov=55.0), dict(frames=6, elevations=[-15.0, 0.0, 30.5], ortho=True),
                  dict(layout="sphere", sampling="hammersley", hemisphere=True)):
        custom = spec.RenderSettings(**views).validate()  # view layouts survive both ways too
        bridge.props_from_settings(props, custom)
        assert bridge.settings_from_props(props).to_dict() == custom.to_dict()
    assert bpy.ops.orbitfarm.reset_settings() == {"FINISHED"}
    assert bridge.settings_from_props(props).to_dict() == spec.RenderSettings().to_dict()

    # Relative imports only: nothing imported the source checkout's `orbitfarm`.
    assert sys.modules.get("orbitfarm") is None
    loaded = sorted(m for m in sys.modules if m.startswith(MODULE))
    assert f"{MODULE}.operators.registration" in loaded

    for _ in range(2):
        monitor = ext("operators.monitor")
        assert bpy.app.timers.is_registered(monitor._first_load)  # loads recent jobs on enable
        disable()
        assert not bpy.app.timers.is_registered(monitor._first_load)
        assert not bpy.app.timers.is_registered(monitor.tick)
        assert not registered_names(), registered_names()
        assert not hasattr(bpy.types.Scene, "orbitfarm")
        assert not hasattr(bpy.types.WindowManager, "orbitfarm")
        enable()
        assert registered_names() == first
        assert bpy.context.scene.orbitfarm.frames == spec.RenderSettings().frames
    assert module.__file__
    return {"version": bpy.app.version_string, "classes": len(first), "modules": len(loaded),
            "python": "{}.{}".format(*sys.version_info[:2])}


def test_zip_holds_the_extension_only(built_zip):
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "operators/submit_ops.py" in names and "worker/__init__.py" in names
    assert any(n.startswith("wheels/pyyaml-") and "win_amd64" in n for n in names)
    assert any(n.startswith("wheels/pyyaml-") and "manylinux" in n and "aarch64" in n
               for n in names)
    assert any(n.startswith("wheels/pyyaml-") and "macosx" in n and "arm64" in n for n in names)
    assert any(n.startswith("wheels/blender_asset_tracer-") for n in names)
    leaked = [n for n in names if n.split("/")[0] in {"tests", "bench", "tools", ".ci", ".git"}
              or n.startswith(".venv") or n.endswith((".pyc", "Makefile", "pyproject.toml"))
              or n == "setup.py"
              or ".egg-info" in n]
    assert not leaked, leaked


def test_manifest_rules(repo_root):
    import tomllib

    manifest = tomllib.loads((repo_root / "blender_manifest.toml").read_text())
    assert manifest["id"] == "orbitfarm"
    assert manifest["blender_version_min"] == "4.2.0"
    assert len(manifest["tagline"]) <= 64 and manifest["tagline"][-1].isalnum()
    assert set(manifest["permissions"]) >= {"files", "network"}
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
