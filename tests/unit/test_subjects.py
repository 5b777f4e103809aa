"""Finding subjects in folders (shared by render, submit and the batch panel)."""

from __future__ import annotations

import pytest
from orbitfarm.submitter.jobs.subjects import SubjectsError, find_blends, subjects_in_folder
from orbitfarm.submitter.model.subject_formats import EXTENSIONS, file_filter_glob, subject_format


def _touch(root, *rels):
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_subjects_in_folder_recurses_and_skips_backups_and_hidden(tmp_path):
    _touch(tmp_path, "a.blend", "sub/b.BLEND", "sub/deeper/c.blend", "a.blend1", ".hidden/d.blend",
           "sub/.e.blend", "notes.txt")
    found = [p.relative_to(tmp_path).as_posix() for p in subjects_in_folder(tmp_path)]
    assert found == ["a.blend", "sub/b.BLEND", "sub/deeper/c.blend"]
    flat = [p.name for p in subjects_in_folder(tmp_path, recursive=False)]
    assert flat == ["a.blend"]


def test_every_format_is_found_and_sidecars_are_not(tmp_path):
    subjects = ["m.glb", "g/m.gltf", "o.OBJ", "f.fbx", "p.ply", "s.stl", "u.usd", "u2.usdc",
                "z.usdz", "c.abc", "d.dae"]
    _touch(tmp_path, *subjects, "g/m.bin", "g/tex.png", "o.mtl")
    found = {p.relative_to(tmp_path).as_posix() for p in subjects_in_folder(tmp_path)}
    assert found == set(subjects)
    assert all(f"*{ext}" in file_filter_glob().split(";") for ext in EXTENSIONS)
    assert subject_format("X.GLB").operator == "import_scene.gltf"
    assert subject_format("x.blend").operator is None and subject_format("x.mtl") is None


def test_usd_layers_composed_by_another_are_parts_not_subjects(tmp_path):
    (tmp_path / "_common").mkdir()
    (tmp_path / "_common" / "axis.usda").write_text("#usda 1.0\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "geo.usda").write_text("#usda 1.0\n")
    (tmp_path / "a" / "b" / "asset.usda").write_text(
        '#usda 1.0\n(\n    subLayers = [@./geo.usda@, @../../_common/axis.usda@]\n)\n')
    found = [p.relative_to(tmp_path).as_posix() for p in subjects_in_folder(tmp_path)]
    assert found == ["a/b/asset.usda"]


def test_find_blends_keeps_each_file_once_with_its_project_folder(tmp_path):
    (tmp_path / "src").mkdir()
    blend = tmp_path / "src" / "x.blend"
    blend.write_bytes(b"")
    found = find_blends([str(tmp_path / "src"), str(blend)])
    assert found == [(blend, tmp_path / "src")]
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(SubjectsError, match="not a subject file"):
        find_blends([str(tmp_path / "notes.txt")])
