"""Mesh subjects as a job: found in folders, sidecars packed, a crashing importer isolated within
a grouped task, the job movable after the sources are gone."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests: meshsubjects.py
import meshsubjects  # noqa: E402
from orbitfarm.submitter import jobs  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402

pytestmark = pytest.mark.render


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_packed_grouped_mesh_job_renders_after_the_sources_are_gone(tmp_path, bpy_python):
    made = tmp_path / "made"
    meshsubjects.make_all(bpy_python, made)
    src = tmp_path / "src"
    shutil.copytree(made / "obj", src / "obj")
    shutil.copytree(made / "gltf", src / "gltf")
    shutil.copy(made / "broken" / "truncated.abc", src / "truncated.abc")
    shutil.rmtree(made)
    request = jobs.SubmitRequest(
        files=[str(src)], out=str(tmp_path / "out"), job_dir=str(tmp_path / "job"), group=3,
        settings=RenderSettings(width=32, height=24, samples=1, frames=2))
    job = jobs.create(request)
    packed = job.path / "inputs" / "subjects"
    files = {p.relative_to(packed).as_posix() for p in packed.rglob("*") if p.is_file()}
    assert files >= {"obj_tex/tex.obj", "obj_tex/tex.mtl", "obj_tex/tex.png",
                     "gltf_tex/tex.gltf", "gltf_tex/tex.bin", "gltf_tex/tex.png"}, files
    shutil.rmtree(src)
    jobs.start(job)
    st = jobs.wait(job, interval=0.3, timeout=300)
    rows = {r.name: r for r in st.subjects}
    assert st.failed_tasks == 1 and len(rows) == 3, st.to_dict()
    assert rows["truncated"].state == "failed" and "importer crashed" in rows["truncated"].reason
    rendered = [n for n, r in rows.items() if r.state == "rendered"]
    assert len(rendered) == 2, st.to_dict()
    for name in rendered:
        res = read_json(tmp_path / "out" / name / "result.json")
        assert res["source_format"] in ("obj", "gltf") and res["warnings"] == [], res
