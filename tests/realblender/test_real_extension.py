"""The extension zip installs and enables in a real Blender executable, from its command line.

Debian's blender 4.3.2 embeds Python 3.13 (like Blender 5.1+): before the zip bundled cp313
wheels, enabling failed with "This Python version (3.13) isn't compatible with (3.11)".
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.realblender

MODULE = "bl_ext.user_default.orbitfarm"

# Runs in the real Blender after the install, with the user's preferences (no factory startup).
_CHECK = f"""
import json, sys, bpy
import {MODULE} as ext
import yaml
prefs = bpy.context.preferences
print("CHECK " + json.dumps({{
    "enabled": {MODULE!r} in prefs.addons,
    "panels": sorted(n for n in dir(bpy.types) if n.startswith("ORBITFARM_PT_")),
    "submit": hasattr(bpy.ops.orbitfarm, "submit"),
    "libyaml": bool(yaml.__with_libyaml__),
    "yaml": yaml.safe_load("a: [1, 2]"),
    "python": "{{}}.{{}}".format(*sys.version_info[:2]),
    "scene_props": hasattr(bpy.context.scene, "orbitfarm"),
}}), flush=True)
"""


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory, repo_root) -> Path:
    spec = importlib.util.spec_from_file_location(
        "build_extension", repo_root / "tools" / "build_extension.py")
    assert spec and spec.loader
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build(tmp_path_factory.mktemp("ext-build"))


def test_install_file_enables_in_the_real_blender(tmp_path, built_zip, real_blender):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    install = subprocess.run(
        [real_blender, "--command", "extension", "install-file", "--repo", "user_default",
         "--enable", str(built_zip)],
        env=env, capture_output=True, text=True, timeout=300)
    output = install.stdout + install.stderr
    assert install.returncode == 0, output
    assert "incompatible" not in output and "Error" not in output, output

    check = subprocess.run(
        [real_blender, "-b", "--python-exit-code", "1", "--python-expr", _CHECK],
        env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    line = next(x for x in check.stdout.splitlines() if x.startswith("CHECK "))
    found = json.loads(line[len("CHECK "):])
    assert found["enabled"] and found["submit"] and found["scene_props"], found
    assert {"ORBITFARM_PT_orbit", "ORBITFARM_PT_orbit_view3d"} <= set(found["panels"]), found
    assert found["python"] == "3.13" and found["libyaml"], found
    assert found["yaml"] == {"a": [1, 2]}
