"""The built zip installs, enables, disables and re-enables cleanly (4.2 LTS, 4.5 LTS, 5.0)."""

from __future__ import annotations

import zipfile

import pytest


@pytest.mark.compat
def test_zip_installs_and_registers_twice(scenario):
    result = scenario("install_cycle", process_timeout=180)
    assert result["classes"] > 20


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
