"""The operators in background mode, through the installed extension and the real bpy wheel.

Renders are tiny (48x36, 2 samples, 2-3 frames) on the local target, through the same worker and
job core the CLI uses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import subjects

RENDER_TIMEOUT = 240


def test_preview_orbit_and_remove(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario("preview_orbit", blend=info["path"], center=info["center"])
    assert result["radius"] > 1.0


def test_preflight_reports_missing_texture_with_hint(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "textured.blend", "textured")
    texture = Path(info["texture"])
    texture.unlink()
    animated = subjects.make_subject(bpy_python, tmp_path / "animated.blend", "animated")
    result = scenario("preflight_missing_texture", blend=info["path"], texture_name=texture.name,
                      animated=animated["path"], out=str(tmp_path / "out"))
    assert any(texture.name in p["message"] for p in result["problems"])


@pytest.mark.render
def test_submit_scene_to_local_target(scenario, bpy_python, tmp_path):
    folder = tmp_path / "my scene ü $(x)"
    folder.mkdir()
    info = subjects.make_subject(bpy_python, folder / "cube.blend", "cube")
    result = scenario("submit_local", process_timeout=2 * RENDER_TIMEOUT + 60,
                      blend=info["path"], out=str(tmp_path / "out"),
                      out_copy=str(tmp_path / "out copy"), timeout=RENDER_TIMEOUT)
    assert result["status"]["frames_done"] == 3


@pytest.mark.render
def test_batch_submit_three_files(scenario, bpy_python, tmp_path):
    folder = tmp_path / "batch"
    colors = {"red.blend": [0.8, 0.0, 0.0], "green.blend": [0.0, 0.8, 0.0],
              "blue.blend": [0.0, 0.0, 0.8]}
    places = {"red.blend": folder, "green.blend": folder / "sub",
              "blue.blend": folder / "sub" / "deeper"}
    for name, color in colors.items():
        places[name].mkdir(parents=True, exist_ok=True)
        subjects.make_subject(bpy_python, places[name] / name, "cube", color=tuple(color))
    shutil.copy(folder / "red.blend", folder / "red.blend1")  # Blender's backup: skipped
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "ghost.blend").write_bytes(b"not a subject")  # hidden: skipped
    result = scenario("batch_submit", process_timeout=RENDER_TIMEOUT + 60, folder=str(folder),
                      out=str(tmp_path / "out"), colors=colors, timeout=RENDER_TIMEOUT)
    assert result["status"]["frames_total"] == 6


def test_cluster_target_needs_online_access_and_profiles_validate(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario("network_and_profiles", blend=info["path"], out=str(tmp_path / "out"))
    assert "online" in result["error"].lower()


@pytest.mark.render
def test_modal_submit_esc_aborts_and_timer_path_submits(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario("modal_submit", process_timeout=RENDER_TIMEOUT + 60, blend=info["path"],
                      out=str(tmp_path / "out"), timeout=RENDER_TIMEOUT)
    assert any(s.startswith("Submitted job") for s in result["statuses"])
