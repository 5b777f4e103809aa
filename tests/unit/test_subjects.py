"""Finding subjects in folders (shared by render, submit and the batch panel)."""

from __future__ import annotations

from orbitfarm.submitter.jobs.subjects import blends_in_folder, find_blends


def test_blends_in_folder_recurses_and_skips_backups_and_hidden(tmp_path):
    for rel in ("a.blend", "sub/b.BLEND", "sub/deeper/c.blend", "a.blend1", ".hidden/d.blend",
                "sub/.e.blend", "notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in blends_in_folder(tmp_path)]
    assert found == ["a.blend", "sub/b.BLEND", "sub/deeper/c.blend"]
    flat = [p.name for p in blends_in_folder(tmp_path, recursive=False)]
    assert flat == ["a.blend"]


def test_find_blends_keeps_each_file_once_with_its_project_folder(tmp_path):
    (tmp_path / "src").mkdir()
    blend = tmp_path / "src" / "x.blend"
    blend.write_bytes(b"")
    found = find_blends([str(tmp_path / "src"), str(blend)])
    assert found == [(blend, tmp_path / "src")]
