"""Sidecars of mesh and USD subjects: found without Blender, missing ones reported, packed with
their relative layout."""

from __future__ import annotations

import json

from orbitfarm.submitter.jobs import preflight
from orbitfarm.submitter.jobs.pack import pack_subjects
from orbitfarm.submitter.jobs.sidecars import find_sidecars


def _obj_with_windows_mtl(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.obj").write_text("mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (folder / "m.mtl").write_text("newmtl a\nmap_Kd .\\tex.png\nmap_Bump -bm 1 D:\\art\\n.png\n")
    (folder / "tex.png").write_bytes(b"png")
    (folder / "n.png").write_bytes(b"png")
    return folder / "m.obj"


def test_obj_backslash_and_drive_paths_resolve_beside_the_file(tmp_path):
    obj = _obj_with_windows_mtl(tmp_path)
    found = find_sidecars(obj)
    assert sorted(p.name for p in found.found) == ["m.mtl", "n.png", "tex.png"]
    assert found.missing == []


def test_gltf_missing_bin_is_reported_by_preflight(tmp_path):
    doc = {"asset": {"version": "2.0"}, "buffers": [{"uri": "m.bin", "byteLength": 4}],
           "images": [{"uri": "tex%20a.png"}, {"uri": "data:image/png;base64,AAAA"}]}
    (tmp_path / "m.gltf").write_text(json.dumps(doc))
    (tmp_path / "tex a.png").write_bytes(b"png")
    report = preflight.check([str(tmp_path / "m.gltf")])
    assert not report.ok
    assert [p.message for p in report.errors] == [
        "missing sidecar file 'm.bin' (not found as written, nor by name beside the file)"]
    assert report.dependencies[str(tmp_path / "m.gltf")] == [str(tmp_path / "tex a.png")]


def test_usd_layers_are_packed_keeping_parent_relative_paths(tmp_path):
    src = tmp_path / "src"
    (src / "_common").mkdir(parents=True)
    (src / "_common" / "axis.usda").write_text('#usda 1.0\n(\n subLayers = [@./tex/t.png@]\n)\n')
    (src / "_common" / "tex").mkdir()
    (src / "_common" / "tex" / "t.png").write_bytes(b"png")
    (src / "a" / "b").mkdir(parents=True)
    asset = src / "a" / "b" / "asset.usda"
    asset.write_text('#usda 1.0\n(\n subLayers = [@../../_common/axis.usda@]\n)\n'
                     'def "X" (references = @./gone.usda@) {}\n')
    report = preflight.check([str(asset)])
    assert [p.message for p in report.errors] == [
        "missing sidecar file './gone.usda' (not found as written, nor by name beside the file)"]
    packed, stats = pack_subjects([("asset", asset)], tmp_path / "job" / "inputs")
    subject = packed["asset"]
    assert subject == tmp_path / "job" / "inputs" / "subjects" / "asset" / "a" / "b" / "asset.usda"
    assert (subject.parent / "../../_common/axis.usda").resolve().is_file()
    assert (subject.parent / "../../_common/tex/t.png").resolve().is_file()
    assert stats.missing == ["./gone.usda"]


def test_obj_pack_puts_windows_named_textures_beside_the_subject(tmp_path):
    obj = _obj_with_windows_mtl(tmp_path / "src")
    packed, _ = pack_subjects([("m", obj)], tmp_path / "job" / "inputs")
    assert sorted(p.name for p in packed["m"].parent.iterdir()) == [
        "m.mtl", "m.obj", "n.png", "tex.png"]
