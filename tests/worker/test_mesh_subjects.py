"""Mesh and USD subjects through the real worker: verdicts, centres, reasons, warnings, crash
isolation and --normalize, on every supported Blender (subjects made by its own exporters)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from worker_helpers import depth, result, transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import meshsubjects  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import detect_runtime  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402

pytestmark = [pytest.mark.render, pytest.mark.compat]
SMALL = ["--frames", "2", "--resolution", "32x24", "--samples", "1"]


@pytest.fixture(scope="module")
def made(tmp_path_factory, bpy_python):
    folder = tmp_path_factory.mktemp("meshsubjects")
    return folder, meshsubjects.make_all(bpy_python, folder)


def _subjects(made, *names):
    folder, info = made
    return [folder / n for n in names], [info[n] for n in names]


@pytest.fixture(scope="module")
def rendered(made, tmp_path_factory, bpy_python):
    """Every subject rendered once by one grouped worker (an empty scene between subjects,
    the truncated Alembic's crash among them): name -> output folder."""
    folder, info = made
    names = [n for n in info if not n.startswith("_")]
    out = tmp_path_factory.mktemp("meshout")
    outs = {n: out / n.replace("/", "__").replace(".", "_") for n in names}
    subjects = [Subject(blend=str(folder / n), out=str(outs[n]), name=n) for n in names]
    settings = RenderSettings(frames=2, width=32, height=24, samples=1)
    run_worker(detect_runtime(None, bpy_python), WorkerTask(settings, subjects), echo=False)
    return outs


def test_every_subject_gets_its_verdict_centre_and_reason(made, rendered):
    _folder, info = made
    wrong = []
    for name, out in rendered.items():
        want = info[name]
        got = result(out)
        if got["status"] != want["expect"]:
            wrong.append(f"{name}: {got['status']} ({got.get('reason')}), want {want['expect']}")
            continue
        if want.get("reason") and want["reason"] not in got["reason"]:
            wrong.append(f"{name}: reason {got['reason']!r} lacks {want['reason']!r}")
        if got["status"] == "rendered":
            center = transforms(out)["original_center"]
            err = max(abs(a - b) for a, b in zip(center, want["center"], strict=True))
            if not err <= 1e-3 * want["size"]:
                wrong.append(f"{name}: centre {center}, want {want['center']}")
            assert got["source_format"] and got["importer"]["operator"]
            assert got["triangles"] >= 12 and got["clip"]["from"]
            # The subject is really there in every frame: depth hits, at the right distance.
            d = depth(out, 1)
            hits = d[d < 1e9]
            assert hits.size, name
            assert hits.min() > 0 and hits.max() < 2 * got["radius"], name
    assert not wrong, "\n".join(wrong)


def test_animation_evidence_and_clip(rendered):
    node = result(rendered["node.glb"])
    assert node["clip"]["from"] == "actions" and node["clip"]["actions"]
    assert any("moves between frames" in e for e in node["animation"])
    assert any("changes shape" in e for e in result(rendered["skinned.glb"])["animation"])
    assert any("changes shape" in e for e in result(rendered["morph.glb"])["animation"])
    abc = result(rendered["node.abc"])
    assert any("Transform Cache" in e for e in abc["animation"])
    assert abc["clip"]["from"] == "alembic importer's scene range"
    clips = result(rendered["clips.glb"])  # one clip plays; the muted NLA copies are no evidence
    (clip,) = clips["clip"]["actions"]  # 4.2 names it "Run_Box", later versions "Run"
    assert clips["clip"]["frame_end"] == {"Walk": 20, "Run": 40}[clip.split("_")[0]]
    static = result(rendered["box.glb"])
    assert static["clip"]["from"].startswith("static") and static["animation_frames_checked"] == 1


def test_textures_windows_paths_resolved_missing_ones_named(rendered):
    assert result(rendered["broken/windows/tex.obj"])["warnings"] == []
    notex = result(rendered["broken/notex/tex.obj"])
    assert notex["status"] == "rendered"
    assert any(w.startswith("missing image") and "tex.png" in w for w in notex["warnings"])
    # The subject's own light and camera are not the subject: the box alone is framed.
    assert result(rendered["withlights.glb"])["triangles"] == 12


def test_importer_crash_fails_one_subject_of_a_grouped_task(made, tmp_path, bpy_python):
    paths, _ = _subjects(made, "broken/truncated.abc", "box.glb")
    subjects = [Subject(blend=str(p), out=str(tmp_path / f"s{i}"), name=f"s{i}")
                for i, p in enumerate(paths)]
    settings = RenderSettings(frames=2, width=32, height=24, samples=1)
    code = run_worker(detect_runtime(None, bpy_python), WorkerTask(settings, subjects),
                      echo=False)
    assert code == 1  # one subject failed
    crashed, good = result(tmp_path / "s0"), result(tmp_path / "s1")
    assert crashed["source_format"] == "alembic"
    assert crashed["status"] == "failed" and crashed["reason"].startswith(
        "importer crashed (SIGABRT)")
    assert good["status"] == "rendered"


@pytest.mark.parametrize("mode,extent", [("unit-cube", 1.0), ("unit-sphere", 2.0)])
def test_normalize_scales_to_unit_size_and_records_how(made, tmp_path, mode, extent):
    from orbitfarm.submitter import cli

    (path,), (want,) = _subjects(made, "huge.stl")
    assert cli.main(["render", str(path), "--out", str(tmp_path), *SMALL,
                     "--normalize", mode]) == 0
    got = result(tmp_path / "huge")
    norm = got["normalize"]
    assert norm["mode"] == mode
    assert [-o for o in norm["offset"]] == pytest.approx(want["center"], abs=1e-3 * want["size"])
    size = (1e4, 5e3, 2e3)
    measure = max(size) if mode == "unit-cube" else math.sqrt(sum(s * s for s in size))
    assert norm["scale"] * measure == pytest.approx(extent, rel=1e-5)
    assert transforms(tmp_path / "huge")["original_center"] == pytest.approx([0, 0, 0], abs=1e-5)
    assert json.loads((tmp_path / "huge" / "result.json").read_text())["radius"] < 10


RESOLVE = r'''
import sys, importlib.util as u
d = sys.argv[1]
s = u.spec_from_file_location("orbitfarm", d + "/__init__.py", submodule_search_locations=[d])
m = u.module_from_spec(s); sys.modules["orbitfarm"] = m; s.loader.exec_module(m)
import bpy
from orbitfarm.worker.importers import images_without_data, resolve_textures
folder = sys.argv[2]
for name, path in (("fbx", "D:/Projects/art/tex.png"), ("gone", "D:\\x\\gone.png")):
    img = bpy.data.images.new(name, 4, 4)
    img.source = "FILE"
    img.filepath = path
print("RESOLVED", resolve_textures(folder + "/model.fbx"))
print("PATH", bpy.data.images["fbx"].filepath, tuple(bpy.data.images["fbx"].size))
'''


def test_fbx_absolute_texture_paths_resolve_by_name_beside_the_file(tmp_path, bpy_python,
                                                                    repo_root):
    import subprocess

    png = tmp_path / "tex.png"
    png.write_bytes(_tiny_png())
    proc = subprocess.run([bpy_python, "-c", RESOLVE, str(repo_root), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    lines = {ln.split(" ", 1)[0]: ln for ln in proc.stdout.splitlines()
             if ln.startswith(("RESOLVED", "PATH"))}
    assert "fbx: 'D:/Projects/art/tex.png' -> tex.png beside the subject" in lines["RESOLVED"], \
        proc.stdout + proc.stderr
    assert "gone" not in lines["RESOLVED"]
    assert lines["PATH"] == f"PATH {png} (2, 2)"


def _tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
